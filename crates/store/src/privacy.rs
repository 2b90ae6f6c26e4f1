//! The store's privacy records: the audit log (privacy operations, and the other staff
//! actions worth answering for: knowledge-base changes, login alarms), the erasure of a
//! customer's personal data (one atomic write in the embedded store), and the erasure
//! tombstones it leaves so that a provider message received before it cannot bring the
//! customer back.
//!
//! What an erasure removes and keeps is decided by `crate::actors::privacy`; this
//! module only carries it. Aggregate data (conversation states, queues, timestamps,
//! Prometheus counters) is not touched.

use domain::{AgentId, Channel, Conversation, Customer, CustomerId, EventId, IdentityKey, Millis};
use serde::{Deserialize, Serialize};

/// One entry of the audit log: who did what (to which customer, if any), and when.
/// Kept durably; read by admins (`GET /api/v1/audit`), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Time-ordered (UUID v7); the key.
    pub id: EventId,
    pub at: Millis,
    /// The staff member who asked (for `login_failures_alarm`, the account attacked).
    pub actor: AgentId,
    /// `customer_exported`, `customer_erased`, `kb_article_created`,
    /// `kb_article_updated`, `kb_article_deleted`, `kb_article_published`,
    /// `kb_draft_proposed`, `kb_draft_discarded`, `login_failures_alarm`,
    /// `identities_stitched`, `recording_played`, `login`, and for every staff request
    /// that may change something its method and route, e.g. `PUT /api/v1/agents/{id}`
    /// (docs/security.md).
    pub action: String,
    pub customer_id: Option<CustomerId>,
    /// What was done, in counts and ids (never personal data).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// An erasure, applied atomically by the embedded store (ScyllaDB: in reference
/// order, idempotent, safe to retry) together with its audit entry.
#[derive(Debug, Clone)]
pub struct Erasure {
    /// Scrubbed customer records to write (the erased customer and the records merged
    /// into it).
    pub customers: Vec<Customer>,
    /// Customers whose whole timeline partition is deleted, with their idempotency
    /// records (client ids can be personal: an email Message-ID names the sender) and
    /// their blobs (the attachments they sent and were sent).
    pub timelines: Vec<CustomerId>,
    /// Identity links deleted (the address no longer resolves to anyone).
    pub identities: Vec<IdentityKey>,
    /// Conversations rewritten without their personal fields.
    pub conversations: Vec<Conversation>,
    /// The provider message ids of the erased timelines, as tombstones: written before
    /// (CQL) or with (embedded) the deletion of the identity links, so a replay that
    /// finds no customer finds its tombstone.
    pub tombstones: Vec<Tombstone>,
    pub audit: AuditEntry,
}

/// What survives the erasure of a message a provider delivered with an id (a Twilio
/// `MessageSid` or `CallSid`, a LINE message id, a Messenger `mid`, an email
/// Message-ID): the keyed hash of that id, its channel and when it expires. Nothing
/// else: no content, no address, no customer id, and the hash is keyed (HMAC-SHA256
/// with a key kept in the engine's settings) so the id cannot be confirmed from it
/// without the key. While it lives, a redelivery or a replay of that message is
/// answered as accepted and stores nothing ([`crate::Store::tombstone`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// HMAC-SHA256 of the id as the provider door stores it (`{channel}:{id}`).
    pub hash: [u8; 32],
    pub channel: Channel,
    /// Gone from then on (`limits.erasure_tombstone_retention_ms` after the erasure).
    pub expires_at: Millis,
}
