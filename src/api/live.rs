//! Live state from the actors: queue snapshots (any staff) and agent states (an agent
//! reads its own; supervisors and admins every agent's).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::messages::{GetAgentLive, GetQueueSnapshot};
use crate::domain::{AgentId, QueueName};
use actix_web::{web, HttpResponse};

/// Live snapshot of every queue (any staff).
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues", security(("bearer" = [])),
    responses(
        (status = 200, description = "a snapshot per queue"),
        (status = 401, response = ApiError),
    )
)]
pub async fn queues(state: web::Data<AppState>, _staff: Staff) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    for name in state.server.queue_names() {
        if state.server.queue_exists(&name) {
            out.push(state.server.ask_queue(&name, GetQueueSnapshot).await?);
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Live snapshot of a queue (any staff).
#[utoipa::path(get, path = "/api/v1/queues/{name}", tag = "queues", security(("bearer" = [])),
    params(("name" = String, Path, description = "queue name")),
    responses(
        (status = 200, description = "the queue's snapshot"),
        (status = 401, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn queue(
    state: web::Data<AppState>,
    _staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = QueueName::parse(&path).map_err(|_| ApiError::not_found("queue"))?;
    if !state.server.queue_exists(&name) {
        return Err(ApiError::not_found("queue"));
    }
    Ok(HttpResponse::Ok().json(state.server.ask_queue(&name, GetQueueSnapshot).await?))
}

/// Agents with live state (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", security(("bearer" = [])),
    responses(
        (status = 200, description = "`[{id, display_name, role, skills, capacity, queues, disabled, phone, live}]`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn agents(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let profiles = state.server.store.agents().await?;
    let mut out = Vec::new();
    for p in profiles {
        let live = state.server.ask_agent(&p.id, GetAgentLive).await.ok();
        out.push(serde_json::json!({
            "id": p.id, "display_name": p.display_name, "role": p.role,
            "skills": p.skills, "capacity": p.capacity, "queues": p.queues,
            "disabled": p.disabled, "phone": p.phone, "live": live,
        }));
    }
    Ok(HttpResponse::Ok().json(out))
}

/// An agent with live state (the agent itself, supervisors and admins).
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "agent id")),
    responses(
        (status = 200, description = "`{id, display_name, role, skills, capacity, queues, live}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn agent(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = AgentId::parse(&path).map_err(|_| ApiError::not_found("agent"))?;
    if id != staff.id {
        staff.require_supervisor()?;
    }
    let p = state
        .server
        .store
        .agent(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let live = state.server.ask_agent(&id, GetAgentLive).await.ok();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": p.id, "display_name": p.display_name, "role": p.role,
        "skills": p.skills, "capacity": p.capacity, "queues": p.queues,
        "live": live,
    })))
}
