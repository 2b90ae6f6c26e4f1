//! The event stream's records and wire shapes: a subscriber (kept in the records table,
//! kind `stream_subscriber`), its cursor (`stream_cursor`), its last error
//! (`stream_status`), its dead letters
//! (`stream_dead`, keyed `{subscriber}/{journal key}`), the validation of what staff
//! submit (every field's error at once), and one delivery's body and signature.

use super::guard;
use super::StreamSettings;
use crate::domain::{Millis, TimelineEvent, STREAM_TYPES};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

pub const SUBSCRIBER_KIND: &str = "stream_subscriber";
pub const CURSOR_KIND: &str = "stream_cursor";
pub const DEAD_KIND: &str = "stream_dead";
pub const STATUS_KIND: &str = "stream_status";
/// One row (`pruned`): the last journal hour the pruner deleted.
pub const STATE_KIND: &str = "stream_state";

/// `types` value that subscribes to every type, present and future.
pub const ALL_TYPES: &str = "*";

/// Longest subscriber name, characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A registered receiver of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    /// `sub_` and 32 hex digits.
    pub id: String,
    pub name: String,
    pub url: String,
    /// Stream types (`message.received`…) or `*`.
    pub types: Vec<String>,
    pub active: bool,
    /// The HMAC key deliveries are signed with; shown once, when made.
    pub secret: String,
    pub version: u32,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub created_by: String,
    /// The last replay asked for: the task that sees a new `token` moves its cursor
    /// back to `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub token: u64,
    pub from: Millis,
}

impl Subscriber {
    /// Whether events of `stream_type` go to this subscriber.
    pub fn wants(&self, stream_type: &str) -> bool {
        self.types
            .iter()
            .any(|t| t == ALL_TYPES || t == stream_type)
    }

    /// What staff see and the audit log keeps: everything but the secret, of which the
    /// last four characters are shown.
    pub fn view(&self) -> serde_json::Value {
        let hint: String = self
            .secret
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "types": self.types,
            "active": self.active,
            "secret_hint": format!("…{hint}"),
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
            "replay": self.replay,
        })
    }
}

impl Subscriber {
    /// What the audit log keeps: [`Subscriber::view`] with the URL's query values
    /// masked (a receiver's URL often carries a token of its own).
    pub fn audit_view(&self) -> serde_json::Value {
        let mut v = self.view();
        v["url"] = serde_json::Value::String(mask_query(&self.url));
        v
    }
}

/// `url` with every query value replaced by `***`.
fn mask_query(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if u.query().is_none() {
        return url.to_owned();
    }
    let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(keys.iter().map(|k| (k.as_str(), "***")));
    u.to_string()
}

/// What staff submit to make or change a subscriber.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberInput {
    pub name: Option<String>,
    pub url: Option<String>,
    pub types: Option<Vec<String>>,
    pub active: Option<bool>,
    /// On a change: the version being replaced (409 otherwise).
    pub version: Option<u32>,
}

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

impl SubscriberInput {
    /// Applies the input over `base` (a new subscriber's defaults, or the stored one),
    /// checking every field; all errors are returned together.
    pub fn apply(
        &self,
        mut base: Subscriber,
        settings: &StreamSettings,
    ) -> Result<Subscriber, FieldErrors> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &self.name {
            let name = name.trim();
            let chars = name.chars().count();
            if chars == 0 || chars > MAX_NAME_CHARS {
                errors.insert(
                    "name".into(),
                    format!("must be 1 to {MAX_NAME_CHARS} characters"),
                );
            } else if name.chars().any(char::is_control) {
                errors.insert("name".into(), "must not contain control characters".into());
            } else {
                base.name = name.to_owned();
            }
        } else if base.name.is_empty() {
            errors.insert("name".into(), "is required".into());
        }
        if let Some(url) = &self.url {
            match guard::check_url(url, settings) {
                Ok(u) => base.url = u,
                Err(e) => {
                    errors.insert("url".into(), e.to_string());
                }
            }
        } else if base.url.is_empty() {
            errors.insert("url".into(), "is required".into());
        }
        if let Some(types) = &self.types {
            match check_types(types) {
                Ok(t) => base.types = t,
                Err(e) => {
                    errors.insert("types".into(), e);
                }
            }
        } else if base.types.is_empty() {
            errors.insert("types".into(), "is required".into());
        }
        if let Some(active) = self.active {
            base.active = active;
        }
        if errors.is_empty() {
            Ok(base)
        } else {
            Err(errors)
        }
    }
}

/// Known, distinct types, or `*` alone.
fn check_types(types: &[String]) -> Result<Vec<String>, String> {
    if types.is_empty() {
        return Err("name at least one type, or \"*\" for all".into());
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if t != ALL_TYPES && !STREAM_TYPES.contains(&t.as_str()) {
            let shown: String = t.chars().take(64).collect();
            return Err(format!(
                "unknown type {shown:?}; see GET /api/v1/stream/types"
            ));
        }
        if out.contains(t) {
            return Err(format!("{t:?} is listed twice"));
        }
        out.push(t.clone());
    }
    if out.len() > 1 && out.iter().any(|t| t == ALL_TYPES) {
        return Err("\"*\" already means every type; list it alone".into());
    }
    Ok(out)
}

/// A new subscriber id.
pub fn new_id() -> String {
    format!("sub_{}", uuid::Uuid::new_v4().simple())
}

/// A new signing secret: `whsec_` and 64 hex digits (two random UUIDs' worth).
pub fn new_secret() -> String {
    format!(
        "whsec_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether `id` has the shape of a subscriber id (a path parameter is checked before
/// it is used as a key).
pub fn id_ok(id: &str) -> bool {
    id.len() == 36 && id.starts_with("sub_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// How far a subscriber's stream has got, stored after each round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The journal key up to which every row is done (delivered, skipped or dead).
    pub position: String,
    /// Keys at or before `position` within `stream.overlap_ms` of it that are done:
    /// a later read of the overlap skips them (at most `RECENT_MAX`).
    #[serde(default)]
    pub recent: Vec<String>,
    /// The replay token this cursor applied last.
    #[serde(default)]
    pub replay_token: u64,
    #[serde(default)]
    pub delivered: u64,
    #[serde(default)]
    pub dead: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<Millis>,
}

/// What went wrong last, stored as it happens (kind `stream_status`, one row per
/// subscriber): a receiver that has been down for an hour shows it while the stream
/// still retries the same event, long before its round ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Millis>,
    /// The event being retried now, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<Retrying>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retrying {
    pub event_id: crate::domain::EventId,
    pub attempts: u32,
    pub since: Millis,
}

/// Done keys a cursor remembers at most; past it, a restart may deliver a few of the
/// overlap's events again (same idempotency key).
pub const RECENT_MAX: usize = 5_000;

/// An event the stream gave up on, kept for a person to look at and redeliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event_id: crate::domain::EventId,
    /// Its journal key.
    pub key: String,
    #[serde(rename = "type")]
    pub stream_type: String,
    pub customer_id: crate::domain::CustomerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<crate::domain::ConversationId>,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at: Millis,
}

/// The dead letter's records key.
pub fn dead_key(subscriber: &str, journal_key: &str) -> String {
    format!("{subscriber}/{journal_key}")
}

/// The JSON body of one delivery: the event as the timeline API shows it, with the
/// stream's envelope around it.
pub fn body_of(subscriber: &str, stream_type: &str, event: &TimelineEvent) -> Vec<u8> {
    let body = serde_json::json!({
        "id": event.id,
        "type": stream_type,
        "occurred_at": event.at,
        "customer_id": event.customer_id,
        "conversation_id": event.conversation_id,
        "subscriber_id": subscriber,
        "data": event,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The `Switchboard-Signature` of `body` sent at `timestamp` (Unix seconds):
/// `v1=` and the hex HMAC-SHA256, keyed by the secret, of `{timestamp}.{body}`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(3 + digest.len() * 2);
    hex.push_str("v1=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> StreamSettings {
        StreamSettings::default()
    }

    fn blank() -> Subscriber {
        Subscriber {
            id: new_id(),
            name: String::new(),
            url: String::new(),
            types: vec![],
            active: true,
            secret: new_secret(),
            version: 1,
            created_at: Millis(0),
            updated_at: Millis(0),
            created_by: "admin".into(),
            replay: None,
        }
    }

    fn input(name: &str, url: &str, types: &[&str]) -> SubscriberInput {
        SubscriberInput {
            name: Some(name.into()),
            url: Some(url.into()),
            types: Some(types.iter().map(|t| t.to_string()).collect()),
            active: None,
            version: None,
        }
    }

    #[test]
    fn a_good_subscriber_is_taken_and_every_bad_field_is_named() {
        let ok = input(
            "CRM",
            "https://crm.example.com/hooks",
            &["message.received"],
        )
        .apply(blank(), &settings())
        .unwrap();
        assert_eq!(ok.url, "https://crm.example.com/hooks");
        assert!(ok.wants("message.received") && !ok.wants("message.sent"));

        let errors = input("", "http://169.254.169.254/latest", &["nope", "nope"])
            .apply(blank(), &settings())
            .unwrap_err();
        assert_eq!(
            errors.keys().map(String::as_str).collect::<Vec<_>>(),
            ["name", "types", "url"]
        );
        let dup = check_types(&["csat.answered".into(), "csat.answered".into()]);
        assert!(dup.unwrap_err().contains("twice"));
        assert!(check_types(&["*".into(), "csat.answered".into()]).is_err());
        assert!(check_types(&[]).is_err());
    }

    #[test]
    fn every_stream_type_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for t in STREAM_TYPES {
            assert!(seen.insert(*t), "{t} twice");
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // RFC 4231 test case 2 shape: a known key and message.
        let sig = sign("key", 1_700_000_000, b"{}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        assert_eq!(sig, sign("key", 1_700_000_000, b"{}"));
        assert_ne!(sig, sign("key", 1_700_000_001, b"{}"));
        assert_ne!(sig, sign("other", 1_700_000_000, b"{}"));
    }

    #[test]
    fn the_audit_view_masks_the_urls_query() {
        let mut s = blank();
        s.url = "https://crm.example.com/in?token=abc123&x=1".into();
        let v = s.audit_view().to_string();
        assert!(!v.contains("abc123"), "{v}");
        assert!(v.contains("token=***&x=***"), "{v}");
        assert!(
            s.view().to_string().contains("abc123"),
            "admins see the URL"
        );
    }

    #[test]
    fn the_secret_is_never_in_the_view() {
        let s = blank();
        let view = s.view().to_string();
        assert!(!view.contains(&s.secret));
        assert!(view.contains(&s.secret[s.secret.len() - 4..]));
        assert!(id_ok(&s.id) && !id_ok("sub_../x") && !id_ok("x"));
    }
}
