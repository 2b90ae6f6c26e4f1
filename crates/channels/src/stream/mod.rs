//! The outbound event stream (docs/event-stream.md): other systems — a CRM, a BI
//! warehouse, a ticketing tool — register an HTTPS URL and the event types they want,
//! and the engine POSTs each matching timeline event to them, signed, at least once,
//! in order per conversation, across restarts and node losses.
//!
//! - The source is the store's event journal (`store::journal`): every backend writes
//!   one row per streamed event in the same commit as the event, so nothing that
//!   happened can be missed, on whichever node it happened.
//! - [`model`]: the subscriber (its URL, types and secret), its cursor, a dead letter,
//!   the delivery's body and signature, and the validation of what staff submit.
//! - [`guard`]: which addresses a subscriber's URL may reach (no loopback, link-local,
//!   private or metadata addresses unless a setting allows them), checked again on
//!   every connection by the client's resolver.
//! - [`deliver`]: the holder of `singleton/event-stream` runs one task per subscriber,
//!   which reads the journal after its cursor, delivers in lanes (one conversation's
//!   events always in one lane, in order), retries with backoff, dead-letters an event
//!   that keeps failing past `stream.dead_after_ms`, and stores its cursor; it also
//!   prunes journal hours older than `stream.journal_hours`.

pub mod deliver;
pub mod guard;
pub mod model;

use serde::Deserialize;

/// `[stream]`: the outbound event stream's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// Deliver at all (subscribers can be managed either way).
    pub enabled: bool,
    /// How often each subscriber's task looks for new journal rows.
    pub poll_ms: u64,
    /// How far back each read starts before the cursor, for rows committed late (a slow
    /// commit, another node's clock); rows already delivered are skipped.
    pub overlap_ms: u64,
    /// Journal rows one round of one subscriber takes at most.
    pub page: usize,
    /// Deliveries in flight per subscriber; one conversation's events share a lane.
    pub lanes: usize,
    /// Whole time one delivery may take (connect, send, answer).
    pub timeout_ms: u64,
    /// Time to connect.
    pub connect_timeout_ms: u64,
    /// Bytes of a subscriber's answer read (kept as the last error); the rest is not read.
    pub max_response_bytes: usize,
    /// First retry delay; doubles per attempt up to `retry_max_ms` (with jitter).
    pub retry_first_ms: u64,
    pub retry_max_ms: u64,
    /// An event still failing this long after its first attempt goes to the dead
    /// letters and the stream moves on.
    pub dead_after_ms: u64,
    /// An event the receiver refused this many times (an HTTP 4xx other than 408 and
    /// 429: it would refuse it again) goes to the dead letters at once, so that one
    /// event it cannot take does not hold back the rest for `dead_after_ms`.
    pub max_refusals: u32,
    /// A journal row whose event is not readable yet (another node's commit still
    /// landing) is waited for this long, then skipped (erased, or never committed).
    pub missing_grace_ms: u64,
    /// Hours of journal kept (the furthest back a replay can go).
    pub journal_hours: u64,
    /// Subscribers at most.
    pub max_subscribers: usize,
    /// Longest subscriber URL, bytes.
    pub max_url_bytes: usize,
    /// Dead letters kept per subscriber; past it the oldest are dropped.
    pub max_dead_letters: usize,
    /// Allow `http://` URLs (tests, a receiver on a private network).
    pub allow_http: bool,
    /// Allow loopback, private, link-local and other non-public addresses.
    pub allow_private_addresses: bool,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_ms: 500,
            overlap_ms: 2_000,
            page: 200,
            lanes: 4,
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            max_response_bytes: 4_096,
            retry_first_ms: 1_000,
            retry_max_ms: 300_000,
            dead_after_ms: 24 * 3_600_000,
            max_refusals: 5,
            missing_grace_ms: 30_000,
            journal_hours: 72,
            max_subscribers: 20,
            max_url_bytes: 2_048,
            max_dead_letters: 10_000,
            allow_http: false,
            allow_private_addresses: false,
        }
    }
}

impl StreamSettings {
    /// Start-up check: every limit positive.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("poll_ms", self.poll_ms),
            ("page", self.page as u64),
            ("lanes", self.lanes as u64),
            ("timeout_ms", self.timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("max_response_bytes", self.max_response_bytes as u64),
            ("retry_first_ms", self.retry_first_ms),
            ("retry_max_ms", self.retry_max_ms),
            ("max_refusals", u64::from(self.max_refusals)),
            ("journal_hours", self.journal_hours),
            ("max_subscribers", self.max_subscribers as u64),
            ("max_url_bytes", self.max_url_bytes as u64),
            ("max_dead_letters", self.max_dead_letters as u64),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("stream.{name} must be positive"));
            }
        }
        if self.lanes > 64 {
            return Err("stream.lanes must be at most 64".into());
        }
        if self.retry_max_ms < self.retry_first_ms {
            return Err("stream.retry_max_ms must be at least stream.retry_first_ms".into());
        }
        Ok(())
    }
}
