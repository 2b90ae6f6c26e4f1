//! Supervisor REST (supervisor or admin role): the live figures the hub streams over
//! `/ws/supervisor`, the hub's subscriber state, and the supervisor actions — set an
//! agent's status, move an agent between queues, change a queue's priority and
//! overflow settings. Every action is checked completely before anything changes.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::messages::{
    GetHubStats, GetLive, SetAgentQueues, SetAgentSkills, SupervisorSetStatus,
};
use crate::domain::RequestedStatus;
use crate::domain::{AgentId, QueueName};
use crate::store::Batch;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// Comma-separated queue names (default: every queue).
    #[serde(default)]
    pub queues: Option<String>,
}

/// Live figures per queue and agent (supervisor, admin).
///
/// The same figures as a `/ws/supervisor` snapshot.
#[utoipa::path(get, path = "/api/v1/supervisor/live", tag = "supervisor",
    security(("bearer" = [])), params(LiveQuery),
    responses(
        (status = 200, description = "the snapshot"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn live(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<LiveQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let queues = match q.queues.as_deref().filter(|s| !s.is_empty()) {
        Some(list) => {
            let names = list
                .split(',')
                .map(QueueName::parse)
                .collect::<Result<Vec<_>, _>>()?;
            Some(
                crate::ws::supervisor_session::queue_set(names)
                    .map_err(|e| ApiError::new(e.code, e.message))?,
            )
        }
        None => None,
    };
    let snap = state.server.ask_hub(GetLive { queues }).await?;
    Ok(HttpResponse::Ok().json(snap))
}

/// The live hub's supervisor sockets and their flow-control state (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/supervisor/subscribers", tag = "supervisor",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the hub's subscribers"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn subscribers(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let stats = state.server.ask_hub(GetHubStats).await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// Anonymous requests this engine refused over their client address's budget in the
/// last full minute and the current one, by door, and whether that is a flood
/// (`anonymous.flood_alert_per_minute`). Supervisor, admin.
#[utoipa::path(get, path = "/api/v1/supervisor/flood", tag = "supervisor",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{refused: {door: n}, total, flood}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn flood(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let server = &state.server;
    Ok(HttpResponse::Ok().json(server.budgets.flood(server.now())))
}

/// The status a supervisor sets.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    #[schema(value_type = super::openapi::schema::StatusName, inline)]
    pub status: RequestedStatus,
    /// Why (an away reason), at most 100 bytes.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub reason: Option<String>,
}

/// Set a logged-in agent available or away (supervisor, admin).
///
/// Its desktop is told at once. 404 when the agent is not logged in.
#[utoipa::path(post, path = "/api/v1/supervisor/agents/{id}/status", tag = "supervisor",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "agent id")),
    request_body = StatusBody,
    responses(
        (status = 202, description = "applied: `{agent_id, status}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn set_agent_status(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let id = AgentId::parse(&path)?;
    let body = body.into_inner();
    crate::actors::agent::check_reason(body.reason.as_deref().unwrap_or(""))?;
    let agent = state
        .server
        .agent(&id)
        .ok_or_else(|| ApiError::not_found("logged-in agent"))?;
    agent
        .send(SupervisorSetStatus {
            status: body.status,
            reason: body.reason,
            by: staff.id,
        })
        .await
        .map_err(|_| ApiError::not_found("logged-in agent"))?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"agent_id": id, "status": body.status})))
}

/// Reads agent `id`'s profile, applies `change` and stores it (nothing is stored when
/// `change` refuses); the caller then tells the running agent.
async fn change_profile(
    state: &AppState,
    req: &actix_web::HttpRequest,
    id: &AgentId,
    shown: impl Fn(&crate::domain::AgentProfile) -> serde_json::Value,
    change: impl FnOnce(&mut crate::domain::AgentProfile) -> Result<(), ApiError>,
) -> Result<crate::domain::AgentProfile, ApiError> {
    let mut profile = state
        .server
        .store
        .agent(id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let before = shown(&profile);
    change(&mut profile)?;
    // The audit entry says what the field was and is (`audit_trail::record_change`).
    super::audit_trail::record_change(req, Some(before), shown(&profile));
    state
        .server
        .store
        .commit(Batch {
            agents: vec![profile.clone()],
            ..Default::default()
        })
        .await?;
    Ok(profile)
}

/// Skills to change on an agent, as a JSON merge patch: a level (1 to 5) sets the
/// skill, `null` removes it, a skill not named stays as it is.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillsPatch {
    /// e.g. `{"difficulty": 3, "billing": null}`.
    #[schema(value_type = std::collections::BTreeMap<String, Option<u8>>)]
    pub skills:
        std::collections::BTreeMap<crate::domain::Skill, Option<crate::domain::Proficiency>>,
}

/// Change an agent's skills, applied at once (supervisor, admin): e.g. raise a
/// novice's `difficulty` when they graduate.
///
/// Stored, and applied to a logged-in agent at once: queues whose required skills it
/// no longer meets forget it (held conversations stay with it), and every queue it
/// serves ranks it by its new skills. Answers the agent's skills after the change.
#[utoipa::path(patch, path = "/api/v1/supervisor/agents/{id}/skills", tag = "supervisor",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "agent id")),
    request_body = SkillsPatch,
    responses(
        (status = 200, description = "`{agent_id, skills}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn patch_agent_skills(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<SkillsPatch>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let id = AgentId::parse(&path)?;
    let patch = body.into_inner().skills;
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "skills: name at least one skill to change",
        ));
    }
    let shown = |p: &crate::domain::AgentProfile| serde_json::json!({"skills": p.skills});
    let skills = change_profile(&state, &req, &id, shown, |profile| {
        for (skill, level) in patch {
            match level {
                Some(p) => profile.skills.insert(skill, p),
                None => profile.skills.remove(&skill),
            };
        }
        Ok(crate::domain::check_agent_skills(&profile.skills)?)
    })
    .await?
    .skills;
    state.server.tell_agent(
        &id,
        SetAgentSkills {
            skills: skills.clone(),
        },
    );
    tracing::info!(agent = %id, by = %staff.id, "agent skills changed by a supervisor");
    Ok(HttpResponse::Ok().json(serde_json::json!({"agent_id": id, "skills": skills})))
}

/// The queues an agent is to serve.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuesBody {
    /// Existing queues, each once.
    #[schema(value_type = Vec<String>)]
    pub queues: Vec<QueueName>,
}

/// Set the queues an agent serves, applied at once (supervisor, admin).
///
/// Stored, and applied to a logged-in agent at once (held conversations stay with it).
#[utoipa::path(put, path = "/api/v1/supervisor/agents/{id}/queues", tag = "supervisor",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "agent id")),
    request_body = QueuesBody,
    responses(
        (status = 200, description = "`{agent_id, queues}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn set_agent_queues(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<QueuesBody>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let id = AgentId::parse(&path)?;
    let queues = body.into_inner().queues;
    if queues.len() > crate::ws::protocol::MAX_SUBSCRIBED_QUEUES {
        return Err(ApiError::invalid("too many queues"));
    }
    let unique: BTreeSet<&QueueName> = queues.iter().collect();
    if unique.len() != queues.len() {
        return Err(ApiError::invalid("a queue is listed twice"));
    }
    for q in &queues {
        if !state.server.queue_exists(q) {
            return Err(ApiError::invalid(format!("unknown queue {q}")));
        }
    }
    let shown = |p: &crate::domain::AgentProfile| serde_json::json!({"queues": p.queues});
    change_profile(&state, &req, &id, shown, |profile| {
        profile.queues = queues.clone();
        Ok(())
    })
    .await?;
    state.server.tell_agent(
        &id,
        SetAgentQueues {
            queues: queues.clone(),
        },
    );
    tracing::info!(agent = %id, by = %staff.id, "agent queues changed by a supervisor");
    Ok(HttpResponse::Ok().json(serde_json::json!({"agent_id": id, "queues": queues})))
}

/// What a supervisor may change on a queue; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatch {
    #[serde(default)]
    #[schema(minimum = -100, maximum = 100)]
    pub priority: Option<i32>,
    /// `null` removes overflow; absent leaves it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<super::openapi::schema::OverflowSetting>, inline)]
    pub overflow: Option<Option<crate::domain::queue::Overflow>>,
}

pub(super) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Longest overflow delay a supervisor may set (one day).
pub(super) const MAX_OVERFLOW_AFTER_MS: u64 = 86_400_000;

/// Change a queue's priority and overflow, applied at once (supervisor, admin).
///
/// Priority -100 to 100; overflow `{after_ms, to}` or `null`; stored and applied to
/// the running queue.
#[utoipa::path(patch, path = "/api/v1/supervisor/queues/{name}", tag = "supervisor",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "queue name")),
    request_body = QueuePatch,
    responses(
        (status = 200, description = "the queue config"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn patch_queue(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<QueuePatch>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let name = QueueName::parse(&path).map_err(|_| ApiError::not_found("queue"))?;
    let mut config = state
        .server
        .queue_config(&name)
        .ok_or_else(|| ApiError::not_found("queue"))?;
    let patch = body.into_inner();
    let shown = |c: &crate::domain::QueueConfig| serde_json::json!({"priority": c.priority, "overflow": c.overflow});
    let before = shown(&config);
    if let Some(p) = patch.priority {
        if !(-100..=100).contains(&p) {
            return Err(ApiError::invalid("priority must be -100 to 100"));
        }
        config.priority = p;
    }
    if let Some(of) = patch.overflow {
        if let Some(of) = &of {
            if of.to == name {
                return Err(ApiError::invalid("a queue cannot overflow into itself"));
            }
            if !state.server.queue_exists(&of.to) {
                return Err(ApiError::invalid(format!("unknown queue {}", of.to)));
            }
            if of.after_ms < 1_000 || of.after_ms > MAX_OVERFLOW_AFTER_MS {
                return Err(ApiError::invalid(
                    "overflow.after_ms must be 1000 to 86400000",
                ));
            }
        }
        config.overflow = of;
    }
    state.server.save_queue(config.clone()).await?;
    super::audit_trail::record_change(&req, Some(before), shown(&config));
    tracing::info!(queue = %name, by = %staff.id, "queue settings changed by a supervisor");
    Ok(HttpResponse::Ok().json(config))
}
