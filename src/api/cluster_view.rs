//! The cluster view (supervisor or admin): the members with their address and health,
//! and every owned key with its holder and epoch, read from the store's lease rows —
//! the authority on who owns what (docs/cluster.md).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::ErrorCode;
use crate::store::coordination::wall_ms;
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
    let info = state
        .server
        .cluster()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "cluster view not running"))?;
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
