//! The cluster view (supervisor or admin): the members with their address and health,
//! and every owned key with its holder and epoch, read from the store's lease rows —
//! the authority on who owns what (docs/cluster.md) — and where given customers',
//! agents' and queues' actors run (the key each falls on and its holder).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::ErrorCode;
use crate::store::coordination::wall_ms;
use crate::ws::protocol::rest::{LocateRequest, LocateResponse, Located};
use actix_web::{web, HttpResponse};
use cluster::membership;
use serde_json::json;

/// The cluster's members and leases (supervisor, admin).
///
/// `members`: every node that joined, by name — `live` while its membership lease has
/// not lapsed, `epoch` its membership's (a new one each time it joins anew: after it
/// stood aside, or its deadline passed), `this` for the node answering, `holds` the
/// keys it holds now, and `ping`:
/// for another live member, whether it answered a node-to-node ping (`reachable`,
/// `rtt_ms`, or `error`) — `null` for this node, a member not live, or without
/// `cluster.secret`. `leases`:
/// every owned key (`singleton/active-engine` with one active engine; shards, queues
/// and singletons in spread placement) with its holder, epoch (the fencing token) and
/// whether it is live. `placement`: `single` or `spread`, and in spread placement
/// `shards`, the shard count (so a shard without a live holder shows as missing).
#[utoipa::path(get, path = "/api/v1/cluster", tag = "supervisor",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{node, placement, shards, members, leases}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn view(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let info = running(&state)?;
    let rows = info.coord.leases().await?;
    let now = wall_ms(state.server.clock.now());
    let live = |l: &cluster::lease::Lease| !l.lapsed(now, info.skew_ms);
    let members = crate::store::coordination::members(&rows, now, info.skew_ms);
    let owned: Vec<_> = rows
        .iter()
        .filter(|r| membership::name(&r.key).is_none())
        .collect();
    // Every other live member is pinged on its membership key, concurrently, each for
    // at most the ping timeout.
    // Addressed by the rows just read (the authority), not the loop's last read.
    let pings = futures_util::future::join_all(members.iter().map(|m| {
        let peers = info.peers.clone();
        let key = membership::key(&m.node.name);
        let owner = rows
            .iter()
            .find(|r| r.key == key)
            .map(|r| cluster::envelope::Owner {
                node: r.holder.clone(),
                address: r.address.clone(),
                epoch: r.epoch,
            });
        let skip = !m.live || m.node == info.node;
        let timeout = info.ping_timeout;
        async move {
            let peers = peers.filter(|_| !skip)?;
            let owner = owner?;
            let sent = std::time::Instant::now();
            let sent_wall = peers.wall_now();
            let answer = peers
                .ask_at(owner, &key, &crate::peers::Ping {}, timeout)
                .await;
            let ms = sent.elapsed().as_secs_f64() * 1e3;
            Some(match answer {
                // The peer read its clock about half the round trip after sending.
                Ok(pong) => json!({"reachable": true, "rtt_ms": (ms * 100.0).round() / 100.0,
                    "clock_offset_ms": pong.wall_ms as i64
                        - (sent_wall + (ms / 2.0).round() as u64) as i64}),
                Err(e) => json!({"reachable": false, "error": e.to_string()}),
            })
        }
    }))
    .await;
    let members: Vec<_> = members
        .iter()
        .zip(pings)
        .map(|(m, ping)| {
            let holds: Vec<&str> = owned
                .iter()
                .filter(|r| m.live && r.holder == m.node && live(&r.lease))
                .map(|r| r.key.as_str())
                .collect();
            let key = membership::key(&m.node.name);
            let epoch = rows.iter().find(|r| r.key == key).map(|r| r.epoch);
            json!({
                "name": m.node.name,
                "incarnation": m.node.incarnation,
                "epoch": epoch,
                "address": m.address,
                "live": m.live,
                "expires_in_ms": m.expires_in_ms,
                "this": m.node == info.node,
                "holds": holds,
                "ping": ping,
            })
        })
        .collect();
    let leases: Vec<_> = owned
        .iter()
        .map(|r| {
            json!({
                "key": r.key,
                "holder": r.holder.name,
                "incarnation": r.holder.incarnation,
                "address": r.address,
                "epoch": r.epoch,
                "live": live(&r.lease),
                "expires_in_ms": r.expires_at as i64 - now as i64,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "node": {
            "name": info.node.name,
            "incarnation": info.node.incarnation,
            "address": info.address,
        },
        "placement": if info.shards.is_some() { "spread" } else { "single" },
        "shards": info.shards,
        "members": members,
        "leases": leases,
    })))
}

/// The cluster view's sources, or `unavailable` on a node without one (the embedded
/// store's single node).
fn running(state: &AppState) -> Result<&crate::server::ClusterInfo, ApiError> {
    state
        .server
        .cluster()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "cluster view not running"))
}

/// Where the actors of the given customers, agents and queues run (supervisor, admin).
///
/// Each id's key — in spread placement the shard a customer or agent falls on
/// (`shard/N`) or the queue's own key (`queue/NAME`); with one active engine and
/// standbys `singleton/active-engine` for all — and that key's holder, address, epoch
/// and liveness from the store's lease rows, read once for the whole answer. Ids need
/// not exist (placement is a pure function of the id). A malformed id is 400
/// `bad_json` and nothing is read; the body's size limit
/// (`limits.max_http_body_bytes`) bounds how many ids one call asks.
#[utoipa::path(post, path = "/api/v1/cluster/locate", tag = "supervisor",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{customers: [id], agents: [id], queues: [name]}`, each optional"),
    responses(
        (status = 200, description = "`{customers, agents, queues}`: per asked id, in order, `{id, key, holder, address, epoch, live}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn locate(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<LocateRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let info = running(&state)?;
    let rows = info.coord.leases().await?;
    let now = wall_ms(state.server.clock.now());
    let shards = info
        .shards
        .map(cluster::shard::ShardMap::new)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let place = |id: String, key: String| {
        let row = rows.iter().find(|r| r.key == key);
        Located {
            id,
            holder: row.map(|r| r.holder.name.clone()),
            address: row.map(|r| r.address.clone()),
            epoch: row.map(|r| r.epoch),
            live: row.is_some_and(|r| !r.lapsed(now, info.skew_ms)),
            key,
        }
    };
    let key_of = |owner: Option<cluster::shard::OwnerKey>| {
        owner.map_or_else(
            || cluster::shard::ACTIVE_ENGINE_KEY.to_owned(),
            |k| k.as_key(),
        )
    };
    let body = body.into_inner();
    let answer = LocateResponse {
        customers: body
            .customers
            .into_iter()
            .map(|id| {
                let key = key_of(shards.map(|m| cluster::shard::OwnerKey::Shard(m.customer(id))));
                place(id.to_string(), key)
            })
            .collect(),
        agents: body
            .agents
            .into_iter()
            .map(|id| {
                let key = key_of(shards.map(|m| cluster::shard::OwnerKey::Shard(m.agent(&id))));
                place(id.to_string(), key)
            })
            .collect(),
        queues: body
            .queues
            .into_iter()
            .map(|q| {
                let key = key_of(shards.map(|_| cluster::shard::OwnerKey::Queue(q.clone())));
                place(q.as_str().to_owned(), key)
            })
            .collect(),
    };
    Ok(HttpResponse::Ok().json(answer))
}
