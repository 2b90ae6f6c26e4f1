//! The store's privacy records: the audit log (privacy operations, and the other staff
//! actions worth answering for: knowledge-base changes, login alarms), and the erasure
//! of a customer's personal data (one atomic write in the embedded store).
//!
//! What an erasure removes and keeps is decided by `crate::actors::privacy`; this
//! module only carries it. Aggregate data (conversation states, queues, timestamps,
//! Prometheus counters) is not touched.

use domain::{AgentId, Conversation, Customer, CustomerId, EventId, IdentityKey, Millis};
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
    /// `kb_draft_proposed`, `kb_draft_discarded`, `login_failures_alarm`
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
    /// records (client ids can be personal: an email Message-ID names the sender).
    pub timelines: Vec<CustomerId>,
    /// Identity links deleted (the address no longer resolves to anyone).
    pub identities: Vec<IdentityKey>,
    /// Conversations rewritten without their personal fields.
    pub conversations: Vec<Conversation>,
    pub audit: AuditEntry,
}
