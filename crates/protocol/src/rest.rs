//! The REST side of the contract: the HTTP status each error code answers with (one
//! table for every door that answers over HTTP — the REST handlers and the provider
//! webhooks alike), and request and response bodies (docs/api.md) for the endpoints
//! the load-test harness calls: `POST /api/v1/login`, `PUT /api/v1/agents/{id}`,
//! `POST /api/v1/inbound` and `POST /api/v1/cluster/locate`. Plain serde types with the JSON shape the engine's handlers
//! (`src/api/login.rs`, `admin.rs`, `inbound.rs`) accept and answer today; those
//! handlers still define their own structs and may adopt these later.
//!
//! Same rules as the frames: request bodies deny unknown fields (the engine refuses
//! them) and leave out absent optional fields; response bodies accept unknown fields.

use domain::{AgentId, ConversationId, CustomerId, ErrorCode, EventId, Millis, QueueName};
pub use domain::{Capacity, Proficiency, Role, Skill};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The HTTP status of a refusal with `code`.
pub fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadJson | ErrorCode::UnknownType | ErrorCode::Invalid => 400,
        ErrorCode::TooLarge => 413,
        ErrorCode::NotFound | ErrorCode::OfferNotFound => 404,
        ErrorCode::NotYours | ErrorCode::Forbidden => 403,
        ErrorCode::Unauthorized => 401,
        ErrorCode::QueueFull | ErrorCode::Busy | ErrorCode::Unavailable => 503,
        ErrorCode::RateLimited => 429,
        ErrorCode::Conflict => 409,
        ErrorCode::Internal => 500,
    }
}

/// Whether a refusal with `code` is temporary: the answer carries `Retry-After`.
pub fn retry_later(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::QueueFull | ErrorCode::Busy | ErrorCode::Unavailable
    )
}

/// `POST /api/v1/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Not parsed as an [`AgentId`]: a malformed name is a failed login like any other
    /// (and counts towards the account's throttle).
    pub agent_id: String,
    pub password: String,
}

/// The answer to a successful login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The staff token: `Authorization: Bearer …` on REST, `?token=` on sockets.
    pub token: String,
    pub agent_id: AgentId,
    pub role: Role,
    pub expires_at: Millis,
}

/// `PUT /api/v1/agents/{id}` (admin): creates or replaces an agent's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentUpsert {
    pub display_name: String,
    /// 8 to 1,024 bytes; required for a new agent, else absent keeps the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub role: Role,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skills: BTreeMap<Skill, Proficiency>,
    /// Queues the agent serves (each must exist).
    #[serde(default)]
    pub queues: Vec<QueueName>,
    /// Absent: the default capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// A disabled agent cannot log in; disabling revokes its tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// `POST /api/v1/inbound` (supervisor, admin): a customer message from any
/// `(channel, address)`. Answered 202 once durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    /// A channel name (`sms`, `email`, ...); checked by the engine, which names the
    /// channels it refuses.
    pub channel: String,
    /// The customer's address on that channel (E.164 for phones).
    pub address: String,
    pub text: String,
    /// Idempotency key: a retry with the same id is answered `duplicate: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// Queue for a new conversation; default: the channel's default queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// The answer to an inbound message (202), once it is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundResponse {
    pub customer_id: CustomerId,
    pub conversation_id: ConversationId,
    pub event_id: EventId,
    /// true for a retry of a message already stored (same `client_msg_id`).
    pub duplicate: bool,
    /// true when the address belonged to no one and a customer was created.
    pub new_customer: bool,
}

/// `POST /api/v1/cluster/locate` (supervisor, admin): which key each id falls on and
/// which node holds it now. Any id may be asked, existing or not (placement is a pure
/// function of the id); the body's size limit bounds how many.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocateRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customers: Vec<CustomerId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<AgentId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueName>,
}

/// The answer to a locate: one entry per asked id, in the order asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocateResponse {
    pub customers: Vec<Located>,
    pub agents: Vec<Located>,
    pub queues: Vec<Located>,
}

/// Where one id's actor runs: its key and, from the store's lease row, the key's
/// holder now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Located {
    /// The id as asked.
    pub id: String,
    /// The lease row it falls on: `shard/17`, `queue/support`, or
    /// `singleton/active-engine` with one active engine and standbys.
    pub key: String,
    /// The holder's node name; `None` while no node ever held the key.
    pub holder: Option<String>,
    /// The holder's address for other nodes (`host:port`, its HTTP listener).
    pub address: Option<String>,
    /// The lease's epoch (the fencing token).
    pub epoch: Option<u64>,
    /// Whether the holder's lease is live: `false` while the key waits for a new
    /// owner (its holder stopped or died).
    pub live: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_bodies_have_the_documented_shape() {
        let upsert = AgentUpsert {
            display_name: "Ann".into(),
            password: Some("secret-pw".into()),
            role: Role::Agent,
            skills: BTreeMap::new(),
            queues: vec![QueueName::parse("general").unwrap()],
            capacity: Some(Capacity {
                voice: 1,
                chat: 3,
                email: 5,
                messaging: 5,
            }),
            disabled: false,
        };
        assert_eq!(
            serde_json::to_string(&upsert).unwrap(),
            r#"{"display_name":"Ann","password":"secret-pw","role":"agent","queues":["general"],"capacity":{"voice":1,"chat":3,"email":5,"messaging":5}}"#
        );
        let back: AgentUpsert = serde_json::from_value(json!({
            "display_name": "Ann", "role": "admin", "skills": {"billing": 4}, "disabled": true
        }))
        .unwrap();
        assert_eq!(back.password, None);
        assert_eq!(back.capacity, None);
        assert!(back.disabled && back.queues.is_empty() && back.skills.len() == 1);
        assert!(serde_json::from_value::<AgentUpsert>(
            json!({"display_name": "Ann", "role": "agent", "colour": "red"})
        )
        .is_err());

        let inbound = InboundRequest {
            channel: "sms".into(),
            address: "+15550100".into(),
            text: "hi".into(),
            client_msg_id: Some("m1".into()),
            queue: None,
        };
        assert_eq!(
            serde_json::to_value(&inbound).unwrap(),
            json!({"channel": "sms", "address": "+15550100", "text": "hi", "client_msg_id": "m1"})
        );
        assert_eq!(
            serde_json::to_string(&LoginRequest {
                agent_id: "ann".into(),
                password: "pw".into()
            })
            .unwrap(),
            r#"{"agent_id":"ann","password":"pw"}"#
        );
    }

    #[test]
    fn responses_accept_unknown_fields() {
        let r: LoginResponse = serde_json::from_value(json!({
            "token": "t", "agent_id": "ann", "role": "agent", "expires_at": 5, "later": true
        }))
        .unwrap();
        assert_eq!(r.token, "t");
        assert_eq!(r.role, Role::Agent);
        let r: InboundResponse = serde_json::from_value(json!({
            "customer_id": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
            "conversation_id": "6f3c8a52-3c4e-4c5e-9a43-54f1f0f1a001",
            "event_id": "01890a5d-ac96-774b-bcce-b302099a8057",
            "duplicate": false, "new_customer": true, "later": 1
        }))
        .unwrap();
        assert!(r.new_customer && !r.duplicate);
    }
}
