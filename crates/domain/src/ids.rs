//! Identifiers. Customer, conversation, event and offer ids are random or time-ordered
//! UUIDs (unguessable); agent ids and queue names are parsed slugs chosen by admins.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Longest client message id (the idempotency key a client gives each message), in
/// bytes; every door refuses a longer or empty one.
pub const MAX_CLIENT_MSG_ID: usize = 128;

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| ParseError::new(stringify!($name), "not a UUID"))
            }
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            pub fn from_bytes(b: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(b))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A customer: one person across every channel. Random (v4), unguessable.
    CustomerId
);
uuid_id!(
    /// A conversation. Random (v4), unguessable.
    ConversationId
);
uuid_id!(
    /// A timeline event. Time-ordered (v7) so that byte order is time order.
    EventId
);
uuid_id!(
    /// One offer (reservation) of a conversation to an agent.
    OfferId
);

impl CustomerId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}
impl ConversationId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}
impl OfferId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}
/// The last event id issued or observed in this process.
static LAST_EVENT_ID: std::sync::Mutex<u128> = std::sync::Mutex::new(0);

impl EventId {
    /// A new id ordered after every id made earlier in this process, on any thread
    /// (UUID v7, bumped past the last one issued if the clock has not moved), and
    /// after every id [`EventId::observe`]d, so the event log orders events that happen
    /// one after another.
    pub fn new() -> Self {
        let mut v = Uuid::now_v7().as_u128();
        let mut last = LAST_EVENT_ID.lock().unwrap_or_else(|p| p.into_inner());
        if v <= *last {
            v = *last + 1;
        }
        *last = v;
        Self(Uuid::from_u128(v))
    }

    /// Notes an id another process made (an event read from the store): every id made
    /// here from now on sorts after it. An engine taking over from another whose clock
    /// ran ahead of its own (within the cluster's skew bound) thus never writes an event
    /// that sorts before the ones it found.
    pub fn observe(seen: EventId) {
        let mut last = LAST_EVENT_ID.lock().unwrap_or_else(|p| p.into_inner());
        *last = (*last).max(seen.0.as_u128());
    }
    /// The `n`th id derived from `source` (a report event from its timeline event): the
    /// same inputs always give the same id, so re-committing a batch after a failed
    /// attempt overwrites its derived rows instead of adding new ones. It keeps the
    /// source's millisecond timestamp (time order) and takes the rest from a hash of
    /// `(source, n)`, with the v7 version and variant bits.
    pub fn derived(source: EventId, n: u8) -> Self {
        use sha2::{Digest, Sha256};
        let src = source.0.as_bytes();
        let digest = Sha256::new().chain_update(src).chain_update([n]).finalize();
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&src[..6]);
        b[6..].copy_from_slice(&digest[..10]);
        b[6] = (b[6] & 0x0f) | 0x70; // version 7
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self(Uuid::from_bytes(b))
    }
    /// The smallest id (for range scans).
    pub const MIN: EventId = EventId(Uuid::nil());
    /// The largest id (for range scans).
    pub const MAX: EventId = EventId(Uuid::max());
}

impl Default for CustomerId {
    fn default() -> Self {
        Self::new()
    }
}
impl Default for ConversationId {
    fn default() -> Self {
        Self::new()
    }
}
impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}
impl Default for OfferId {
    fn default() -> Self {
        Self::new()
    }
}

fn parse_slug(field: &'static str, s: &str) -> Result<String, ParseError> {
    if s.is_empty() || s.len() > 64 {
        return Err(ParseError::new(field, "must be 1 to 64 characters"));
    }
    if !s.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
    }) {
        return Err(ParseError::new(
            field,
            "only lowercase ASCII letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(s.to_owned())
}

/// An agent's login id, e.g. `alice`. Lowercase slug, 1..=64 characters. Shared, not
/// copied: the routing core files an agent under its id in several indexes and every
/// actor message carries one, so a clone is a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentId(std::sync::Arc<str>);

impl AgentId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        parse_slug("agent_id", s).map(|s| Self(s.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A queue's name, e.g. `support-ja`. Lowercase slug, 1..=64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        parse_slug("queue", s).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! slug_conv {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, ParseError> {
                Self::parse(&s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
slug_conv!(AgentId);
slug_conv!(QueueName);

impl From<AgentId> for String {
    fn from(v: AgentId) -> String {
        v.0.as_ref().to_owned()
    }
}

impl From<QueueName> for String {
    fn from(v: QueueName) -> String {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_parse_and_reject() {
        assert!(AgentId::parse("alice").is_ok());
        assert!(QueueName::parse("support-ja").is_ok());
        assert!(AgentId::parse("").is_err());
        assert!(AgentId::parse("Alice").is_err());
        assert!(QueueName::parse("a b").is_err());
        assert!(QueueName::parse(&"x".repeat(65)).is_err());
        assert!(serde_json::from_str::<AgentId>("\"BAD ID\"").is_err());
    }

    #[test]
    fn ids_made_after_observing_a_later_one_sort_after_it() {
        // An id from a clock five seconds ahead of this one (a v7 id's top 48 bits are its
        // Unix milliseconds).
        let now = EventId::new();
        let ahead_ms = (now.0.as_u128() >> 80) + 5_000;
        let ahead = EventId(Uuid::from_u128(
            (ahead_ms << 80) | (now.0.as_u128() & ((1u128 << 80) - 1)),
        ));
        assert!(EventId::new() < ahead, "made now, it sorts before");
        EventId::observe(ahead);
        let next = EventId::new();
        assert!(next > ahead, "{next:?} after {ahead:?}");
        // Observing an older id changes nothing.
        EventId::observe(now);
        assert!(EventId::new() > next);
    }

    #[test]
    fn event_ids_are_time_ordered() {
        let a = EventId::new();
        let b = EventId::new();
        // Derived ids: stable, distinct per index, in the source's millisecond.
        assert_eq!(EventId::derived(a, 0), EventId::derived(a, 0));
        assert_ne!(EventId::derived(a, 0), EventId::derived(a, 1));
        assert_ne!(EventId::derived(a, 0), EventId::derived(b, 0));
        assert_eq!(EventId::derived(a, 3).0.get_version_num(), 7);
        assert_eq!(
            EventId::derived(a, 0).0.as_bytes()[..6],
            a.0.as_bytes()[..6]
        );
        assert!(a < b);
        assert!(a.as_bytes() < b.as_bytes());
    }

    #[test]
    fn event_ids_are_monotonic_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..10_000).map(|_| EventId::new()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<EventId> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "ids are unique");
    }
}
