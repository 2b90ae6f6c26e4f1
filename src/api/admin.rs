//! Admin REST: create or update agents (`PUT /api/v1/agents/{id}`) and queues
//! (`PUT /api/v1/queues/{name}`). Admin role only. Queue changes apply to the running
//! queue at once; an agent's skills and queues apply to it at once, its other profile
//! changes at its next login. Disabling an agent or changing its role revokes its
//! tokens and closes its sockets at once.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::messages::{SetAgentQueues, SetAgentSkills};
use crate::domain::{
    AgentId, AgentProfile, Capacity, Proficiency, QueueConfig, QueueName, Role, Skill,
};
use crate::store::Batch;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::collections::BTreeMap;

fn require_admin(s: &Staff) -> Result<(), ApiError> {
    s.require_admin()
}

/// An agent's profile as an admin sets it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentUpsert {
    /// 1 to 100 bytes.
    pub display_name: String,
    /// 8 to 1024 bytes; required for a new agent, else the old one stays.
    #[serde(default)]
    pub password: Option<String>,
    #[schema(value_type = super::openapi::schema::RoleName, inline)]
    pub role: Role,
    /// Proficiency, 1 (novice) to 5 (expert), per skill name.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, u8>)]
    pub skills: BTreeMap<Skill, Proficiency>,
    /// Conversations held at once per class: `{voice, chat, email, messaging}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub capacity: Option<Capacity>,
    /// Queues the agent serves (each must exist).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub queues: Vec<QueueName>,
    /// A disabled agent cannot log in; disabling revokes its tokens at once.
    #[serde(default)]
    pub disabled: bool,
    /// The phone (E.164) the agent takes phone calls on instead of the browser
    /// softphone; none: the softphone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// Create or update an agent (admin).
///
/// Skills and queues apply to a logged-in agent at once; the other profile changes at
/// its next login. Disabling the agent or changing its role revokes its tokens and
/// closes its sockets at once.
#[utoipa::path(put, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "agent id")),
    request_body = AgentUpsert,
    responses(
        (status = 200, description = "the agent (without its password)"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn put_agent(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<AgentUpsert>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&staff)?;
    let id = AgentId::parse(&path)?;
    let body = body.into_inner();
    let existing = state.server.store.agent(&id).await?;
    // Every bad field is named at once (the console shows each beside its input);
    // nothing is stored while any is.
    let mut fields = BTreeMap::new();
    if body.display_name.trim().is_empty() || body.display_name.len() > 100 {
        fields.insert("display_name".into(), "must be 1 to 100 bytes".into());
    }
    if let Err(e) = crate::domain::check_agent_skills(&body.skills) {
        fields.insert("skills".into(), e.reason);
    }
    let phone = match body.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => match crate::domain::IdentityKey::parse(crate::domain::Channel::Voice, p) {
            Ok(k) => Some(k.address),
            Err(_) => {
                fields.insert(
                    "phone".into(),
                    "must be a phone number (E.164, +81…)".into(),
                );
                None
            }
        },
    };
    let unknown: Vec<String> = body
        .queues
        .iter()
        .filter(|q| !state.server.queue_exists(q))
        .map(|q| q.to_string())
        .collect();
    if !unknown.is_empty() {
        fields.insert(
            "queues".into(),
            format!("names unknown queues: {}", unknown.join(", ")),
        );
    }
    match (&body.password, &existing) {
        (Some(pw), _) if pw.len() < 8 || pw.len() > 1024 => {
            fields.insert("password".into(), "must be 8 to 1024 bytes".into());
        }
        (None, None) => {
            fields.insert("password".into(), "is required for a new agent".into());
        }
        _ => {}
    }
    if !fields.is_empty() {
        return Err(ApiError::fields(fields));
    }
    let password_hash =
        match (&body.password, &existing) {
            (Some(pw), _) => {
                let pw = pw.clone();
                state.server.passwords.hash(pw).await.map_err(|_| {
                    ApiError::new(crate::domain::ErrorCode::Internal, "hashing failed")
                })?
            }
            (None, Some(e)) => e.password_hash.clone(),
            (None, None) => unreachable!("refused above"),
        };
    let profile = AgentProfile {
        id,
        display_name: body.display_name,
        password_hash,
        role: body.role,
        skills: body.skills,
        capacity: body.capacity.unwrap_or_default(),
        queues: body.queues,
        disabled: body.disabled,
        phone,
    };
    state
        .server
        .store
        .commit(Batch {
            agents: vec![profile.clone()],
            ..Default::default()
        })
        .await?;
    // The audit entry says what changed (never the password, only that it did).
    let mut after = agent_view(&profile);
    after["password_changed"] = serde_json::Value::Bool(body.password.is_some());
    super::audit_trail::record_change(&req, existing.as_ref().map(agent_view), after);
    // Old tokens must not outlive a lock-out or carry a role the agent lost.
    if let Some(e) = &existing {
        let reason = if profile.disabled && !e.disabled {
            Some("agent disabled")
        } else if profile.role != e.role {
            Some("role changed")
        } else {
            None
        };
        if let Some(reason) = reason {
            state
                .server
                .security
                .revocations
                .revoke(&state.server.store, &profile.id, reason)
                .await?;
        }
        if profile.skills != e.skills {
            state.server.tell_agent(
                &profile.id,
                SetAgentSkills {
                    skills: profile.skills.clone(),
                },
            );
        }
        if profile.queues != e.queues {
            state.server.tell_agent(
                &profile.id,
                SetAgentQueues {
                    queues: profile.queues.clone(),
                },
            );
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": profile.id, "display_name": profile.display_name, "role": profile.role,
        "skills": profile.skills, "capacity": profile.capacity, "queues": profile.queues,
        "disabled": profile.disabled,
    })))
}

/// The fields of a queue body that do not parse, or that are not queue settings, each
/// named with why: every field is parsed alone over the defaults, so one bad field
/// cannot hide another.
fn queue_field_errors(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<String, String> {
    let name = obj.get("name").cloned().unwrap_or_default();
    let mut fields = BTreeMap::new();
    for (k, v) in obj {
        if k == "name" {
            continue;
        }
        let alone = serde_json::json!({ "name": name, k.as_str(): v });
        match serde_json::from_value::<QueueConfig>(alone) {
            Err(e) => {
                // serde's message without its " at line 1 column 2" tail.
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                fields.insert(k.clone(), msg);
            }
            // A field the configuration does not have would be dropped without a
            // word (a typo of a real one): it is named instead. Empty values are
            // fine (an unset option or list, or a switch left off, is not written
            // back).
            Ok(parsed) => {
                let switch_off = *v == serde_json::Value::Bool(false)
                    && serde_json::from_value::<QueueConfig>(
                        serde_json::json!({ "name": name, k.as_str(): true }),
                    )
                    .ok()
                    .and_then(|on| serde_json::to_value(on).ok())
                    .is_some_and(|back| back.get(k).is_some());
                let empty = v.is_null()
                    || switch_off
                    || v.as_array().is_some_and(Vec::is_empty)
                    || v.as_object().is_some_and(serde_json::Map::is_empty);
                let kept = serde_json::to_value(&parsed)
                    .ok()
                    .is_some_and(|back| back.get(k).is_some());
                if !kept && !empty {
                    fields.insert(k.clone(), "is not a queue setting".into());
                }
            }
        }
    }
    fields
}

/// Every queue's routing configuration (admin): what the console edits.
#[utoipa::path(get, path = "/api/v1/queue-configs", tag = "queues", security(("bearer" = [])),
    responses(
        (status = 200, description = "`[QueueConfig]`, by name"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn queue_configs(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    require_admin(&staff)?;
    let mut out: Vec<QueueConfig> = state
        .server
        .queue_names()
        .iter()
        .filter_map(|n| state.server.queue_config(n))
        .collect();
    out.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    Ok(HttpResponse::Ok().json(out))
}

/// An agent's profile as the audit log keeps it: everything but the password hash.
fn agent_view(p: &AgentProfile) -> serde_json::Value {
    serde_json::json!({
        "id": p.id, "display_name": p.display_name, "role": p.role, "skills": p.skills,
        "capacity": p.capacity, "queues": p.queues, "disabled": p.disabled,
        "phone": p.phone,
    })
}

/// Create or update a queue's routing configuration (admin).
///
/// Applied to the running queue at once. The body is a queue configuration (docs/api.md:
/// `display_name`, `required_skills`, `strategy`, `offer_timeout_ms` 100 to 600000,
/// `sticky_wait_ms`, `overflow`, `max_waiting` >= 1, `priority`, ...); the name is the
/// path's.
#[utoipa::path(put, path = "/api/v1/queues/{name}", tag = "queues", security(("bearer" = [])),
    params(("name" = String, Path, description = "queue name")),
    request_body(content = Object, description = "the queue configuration"),
    responses(
        (status = 200, description = "the queue config"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn put_queue(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&staff)?;
    let name = QueueName::parse(&path)?;
    let mut value = body.into_inner();
    let obj = value
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("expected a JSON object"))?;
    obj.insert("name".into(), serde_json::Value::String(name.to_string()));
    let mut fields = queue_field_errors(obj);
    let parsed = if fields.is_empty() {
        serde_json::from_value::<QueueConfig>(value).map_err(|e| ApiError::invalid(e.to_string()))
    } else {
        Err(ApiError::fields(fields.clone()))
    };
    let mut config = parsed?;
    if config.display_name.trim().is_empty() {
        config.display_name = name.to_string();
    }
    if config.offer_timeout_ms < 100 || config.offer_timeout_ms > 600_000 {
        fields.insert("offer_timeout_ms".into(), "must be 100 to 600000".into());
    }
    if config.max_waiting == 0 {
        fields.insert("max_waiting".into(), "must be at least 1".into());
    }
    if let Some(of) = &config.overflow {
        if of.to == config.name {
            fields.insert("overflow".into(), "cannot be the queue itself".into());
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::fields(fields));
    }
    let before = state.server.queue_config(&name);
    state.server.save_queue(config.clone()).await?;
    super::audit_trail::record_change(
        &req,
        before.map(|b| serde_json::to_value(b).unwrap_or_default()),
        serde_json::to_value(&config).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(config))
}
