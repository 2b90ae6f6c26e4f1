//! What the engine reads from the configuration: limits, timing, and the settings of
//! the features the actors run (surveys, notifications, the bot, callbacks, parking),
//! plus the few channel facts the engine needs, stated without naming a provider.
//!
//! The server's `config::Settings` holds the `[limits]` and `[timing]` tables as these
//! types and projects the rest into an [`EngineSettings`] at start-up.

use crate::domain::Channel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Everything the engine's actors read from the configuration.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Arbiter threads for actors; each actor lives on one, chosen by a hash of its id.
    pub actor_threads: usize,
    pub limits: Limits,
    pub timing: Timing,
    /// Post-interaction CSAT surveys (`[survey]`).
    pub survey: crate::survey::SurveySettings,
    /// Proactive notifications (`[notify]`).
    pub notify: crate::notify::NotifySettings,
    /// The FAQ bot on messaging channels (`[bot]`).
    pub bot: crate::bot::BotSettings,
    /// Queued callbacks (`[callbacks]`).
    pub callbacks: crate::ivr::callbacks::CallbackSettings,
    /// Browser calls over WebRTC (`[calls]`).
    pub calls: crate::calls::CallSettings,
    /// The channel facts the engine needs.
    pub channels: ChannelFacts,
    /// What one client address may do without a staff login (`[anonymous]`).
    pub anonymous: AnonymousSettings,
    /// Parked asynchronous conversations (`[parking]`).
    pub parking: ParkingSettings,
    /// What files are accepted and how they are stored (`[attachments]`).
    pub attachments: crate::domain::FilePolicy,
    /// `[ivr]`: the tree's limits, and the channels that walk it in writing
    /// (`ivr.messaging`). The tree in force is [`crate::Engine::ivr`].
    pub ivr: crate::ivr::IvrSettings,
    /// The configuration file's tree: version 0, in force until one is saved
    /// (`crate::ivr_versions`).
    pub ivr_configured: Option<crate::ivr::Tree>,
}

impl EngineSettings {
    /// Whether `channel` walks the IVR tree in writing (`ivr.messaging.channels`).
    pub fn walks_ivr(&self, channel: Channel) -> bool {
        self.ivr.messaging.channels.contains(&channel)
    }
}

/// What the engine needs to know about the channels, without naming a provider. The
/// default (for tests) has no public URL, never reopens and enables no connector.
#[derive(Debug, Clone, Default)]
pub struct ChannelFacts {
    /// The engine's public base URL (survey and unsubscribe links), no trailing '/'.
    pub public_url: String,
    /// A message within this long of a conversation's close reopens it.
    pub reopen_window_ms: u64,
    /// The video join link template (`{room}`, `{conversation}`); `None` while video
    /// escalation is not enabled.
    pub video_join_url_template: Option<String>,
    /// The channels an agent's text reply can be delivered on: those whose connector
    /// is enabled. The web chat and video need none (their sockets carry the text).
    pub replies: BTreeSet<Channel>,
    /// The connector channels whose replies carry files (the web chat's always do).
    pub files: BTreeSet<Channel>,
    /// The reply window of each enabled channel that has one (its connector's rule).
    pub windows: std::collections::BTreeMap<Channel, crate::domain::ReplyWindow>,
    /// The approved templates of each channel that takes them.
    pub templates: std::collections::BTreeMap<Channel, Vec<crate::domain::ApprovedTemplate>>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            actor_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            limits: Limits::default(),
            timing: Timing::default(),
            survey: Default::default(),
            notify: Default::default(),
            bot: Default::default(),
            callbacks: Default::default(),
            calls: Default::default(),
            channels: ChannelFacts::default(),
            anonymous: Default::default(),
            parking: Default::default(),
            attachments: Default::default(),
            ivr: Default::default(),
            ivr_configured: None,
        }
    }
}

/// Size and rate limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest websocket frame / message accepted, bytes.
    pub max_ws_message_bytes: usize,
    /// Largest REST request body, bytes.
    pub max_http_body_bytes: usize,
    /// Longest message or note text, bytes.
    pub max_text_bytes: usize,
    /// Websocket messages per second per connection before `rate_limited` errors.
    pub ws_messages_per_second: u32,
    /// Customer messages one chat socket may have waiting for their durable commit;
    /// beyond this they are answered `busy` at once (the client resends them by
    /// `client_msg_id`), so a socket sending faster than the engine commits holds at
    /// most this many messages in memory.
    pub chat_in_flight_per_socket: usize,
    /// Recent timeline events kept live per customer and sent with a conversation.
    pub recent_events: usize,
    /// Largest `limit` for a timeline page.
    pub max_page: usize,
    /// Audit entries one filtered `GET /api/v1/audit` reads at most (newest first)
    /// before it answers with what it found and where to go on.
    pub audit_scan_max: usize,
    /// Password hashes (argon2id, ~19 MiB and tens of ms each) computed at once; further
    /// logins wait their turn, so a login flood cannot exhaust memory.
    pub password_hash_concurrency: usize,
    /// Pushes per second to each supervisor socket at most; changes in between are
    /// coalesced into one delta.
    pub supervisor_pushes_per_second: u32,
    /// Deltas a supervisor socket may have unacknowledged; past it the hub stops
    /// sending to it and owes it a fresh snapshot (drop-to-snapshot).
    pub supervisor_window: usize,
    /// Supervisor sockets at once; more are refused at the handshake.
    pub max_supervisors: usize,
    /// Routing events queued for the live hub; past it events are dropped (and
    /// counted) rather than slowing routing.
    pub hub_mailbox: usize,
    /// How long an applied client or provider id is remembered durably, so that a
    /// retry is answered with the original event instead of being stored again
    /// (docs/protocol.md, "Exactly once"). Keep it longer than any client's or
    /// provider's retry window; at least 1 s.
    pub idempotency_retention_ms: u64,
    /// Acks of the latest ids each live customer keeps in memory (retries answered
    /// without a store read); older ids are found in the store.
    pub remembered_ids_per_customer: usize,
    /// Expired idempotency records and erasure tombstones removed per store call by the
    /// embedded store's sweep.
    pub idempotency_sweep_batch: usize,
    /// How long an erased customer's provider message ids are kept as tombstones (keyed
    /// hash, channel, expiry): a redelivery or replay of a message received before the
    /// erasure is answered as accepted and stores nothing (docs/security.md,
    /// "Privacy"). Keep it longer than any provider's retry window and at least
    /// `idempotency_retention_ms`.
    pub erasure_tombstone_retention_ms: u64,
    /// Wrap-up codes in the managed list at most (`crate::wrapup`).
    pub max_wrapup_codes: usize,
}

/// Timeouts and periods, milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// How long an agent's state outlives its last dropped socket.
    pub agent_grace_ms: u64,
    /// A customer actor with no open socket passivates after this idle time.
    pub customer_idle_ms: u64,
    /// A waiting web-chat customer whose last socket closed is abandoned after this.
    pub visitor_grace_ms: u64,
    /// Lifetime of an agent login token.
    pub agent_token_ttl_ms: u64,
    /// Lifetime of a visitor token.
    pub visitor_token_ttl_ms: u64,
    /// Server pings each socket this often.
    pub heartbeat_ms: u64,
    /// A socket silent for this long is closed.
    pub client_timeout_ms: u64,
    /// Live service-level threshold: answered within this counts as in service level.
    pub live_sl_threshold_ms: u64,
    /// Length of the live interval (aligned to the epoch, so 15 minutes start at :00,
    /// :15, :30, :45 UTC).
    pub live_interval_ms: u64,
    /// Window of the live "offers by outcome" counts (whole minutes).
    pub live_offer_window_ms: u64,
    /// A supervisor socket that stays behind (window full, no ack) this long is closed.
    pub supervisor_stall_ms: u64,
    /// Graceful shutdown (SIGTERM/SIGINT): how long in-flight requests and writes get
    /// to finish after the listener stops accepting and sockets are told to reconnect.
    /// The process exits by then (rounded up to whole seconds for the HTTP server).
    pub shutdown_deadline_ms: u64,
    /// `/readyz` answers 503 if the store's health read takes longer than this (a
    /// database without quorum would otherwise hold the probe for the request timeout).
    pub readyz_store_timeout_ms: u64,
    /// The embedded store removes expired idempotency records and erasure tombstones this
    /// often.
    pub idempotency_sweep_ms: u64,
}

impl Limits {
    /// Refuses limits that would break a promise: an id must outlive a client's
    /// immediate retry, and at least one ack is kept in memory.
    pub fn validate(&self) -> Result<(), String> {
        if self.idempotency_retention_ms < 1_000 {
            return Err(format!(
                "limits.idempotency_retention_ms = {} is below 1000 (keep it longer than any \
                 client's or provider's retry window; default 7 days)",
                self.idempotency_retention_ms
            ));
        }
        if self.erasure_tombstone_retention_ms < self.idempotency_retention_ms {
            return Err(format!(
                "limits.erasure_tombstone_retention_ms = {} is below \
                 limits.idempotency_retention_ms = {} (an erased customer's messages must be \
                 recognised at least as long as a living one's; default 30 days)",
                self.erasure_tombstone_retention_ms, self.idempotency_retention_ms
            ));
        }
        if self.remembered_ids_per_customer == 0 {
            return Err("limits.remembered_ids_per_customer must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_ws_message_bytes: 64 * 1024,
            max_http_body_bytes: 64 * 1024,
            max_text_bytes: 16 * 1024,
            ws_messages_per_second: 50,
            chat_in_flight_per_socket: 64,
            recent_events: 50,
            max_page: 200,
            audit_scan_max: 10_000,
            password_hash_concurrency: 2,
            supervisor_pushes_per_second: 4,
            supervisor_window: 32,
            max_supervisors: 1_000,
            hub_mailbox: 65_536,
            idempotency_retention_ms: 7 * 24 * 3_600_000,
            remembered_ids_per_customer: 1_024,
            idempotency_sweep_batch: 10_000,
            erasure_tombstone_retention_ms: 30 * 24 * 3_600_000,
            max_wrapup_codes: 200,
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            agent_grace_ms: 60_000,
            customer_idle_ms: 300_000,
            visitor_grace_ms: 120_000,
            agent_token_ttl_ms: 12 * 3_600_000,
            visitor_token_ttl_ms: 30 * 24 * 3_600_000,
            heartbeat_ms: 5_000,
            client_timeout_ms: 30_000,
            live_sl_threshold_ms: 20_000,
            live_interval_ms: 15 * 60_000,
            live_offer_window_ms: 15 * 60_000,
            supervisor_stall_ms: 60_000,
            shutdown_deadline_ms: 10_000,
            readyz_store_timeout_ms: 2_000,
            idempotency_sweep_ms: 60_000,
        }
    }
}

/// `[anonymous]`: what one client address may do without a staff login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymousSettings {
    /// The window every `*_per_window` budget refills over.
    pub window_ms: u64,
    /// `/ws/chat` handshakes (new or returning visitors).
    pub chat_opens_per_window: u32,
    /// New visitors (a customer record and a visitor token made at the handshake).
    pub visitors_per_window: u32,
    /// Conversations opened or reopened by a chat message.
    pub conversations_per_window: u32,
    /// Callback requests from visitors (chat socket or `POST /callbacks` with a
    /// visitor token).
    pub callbacks_per_window: u32,
    /// Searches and "was this helpful?" answers at the public help center (its pages
    /// and the web chat's suggestions).
    pub help_requests_per_window: u32,
    /// Staff single sign-on starts and returns (each may call the identity provider).
    pub sso_requests_per_window: u32,
    /// `/ws/chat` sockets one address may hold open at once.
    pub max_chat_sockets: u32,
    /// A waiting web-chat conversation of a visitor nobody knows (no identity but
    /// anonymous web-chat addresses) that never reached an agent leaves the queue this
    /// long after its last socket closed, instead of `timing.visitor_grace_ms` (never
    /// longer than it); it is reported as `left_unserved`, not as an abandoned customer.
    pub unserved_grace_ms: u64,
    /// Refusals in a minute from which the supervisor dashboard shows a flood.
    pub flood_alert_per_minute: u64,
}

impl Default for AnonymousSettings {
    fn default() -> Self {
        Self {
            window_ms: 60_000,
            chat_opens_per_window: 30,
            visitors_per_window: 10,
            conversations_per_window: 10,
            callbacks_per_window: 3,
            help_requests_per_window: 60,
            sso_requests_per_window: 30,
            max_chat_sockets: 20,
            unserved_grace_ms: 15_000,
            flood_alert_per_minute: 50,
        }
    }
}

impl AnonymousSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.window_ms == 0 {
            return Err("anonymous.window_ms must be positive".into());
        }
        let budgets = [
            self.chat_opens_per_window,
            self.visitors_per_window,
            self.conversations_per_window,
            self.callbacks_per_window,
            self.help_requests_per_window,
            self.sso_requests_per_window,
            self.max_chat_sockets,
        ];
        if budgets.contains(&0) {
            return Err(
                "anonymous budgets must be at least 1 (a door with no budget would be closed)"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_must_outlive_idempotency_records() {
        assert_eq!(Limits::default().validate(), Ok(()));
        let short = Limits {
            erasure_tombstone_retention_ms: 1_000,
            ..Limits::default()
        };
        let err = short.validate().expect_err("refused");
        assert!(
            err.contains("limits.erasure_tombstone_retention_ms"),
            "{err}"
        );
        let equal = Limits {
            idempotency_retention_ms: 5_000,
            erasure_tombstone_retention_ms: 5_000,
            ..Limits::default()
        };
        assert_eq!(equal.validate(), Ok(()));
    }
}

/// `[parking]`: asynchronous conversations (SMS, email, LINE, Messenger) set aside so
/// they do not hold an agent's slot while the customer is away (docs/api.md,
/// "Parking").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParkingSettings {
    /// Conversations one agent may have parked at once; a park past it is refused
    /// (`conflict`), auto-parking waits until one returns.
    pub max_per_agent: usize,
    /// The engine parks an assigned conversation on an asynchronous channel whose
    /// customer has not written for this long (since the assignment, or their last
    /// message). 0: never.
    pub auto_park_after_ms: u64,
    /// How often each agent's held conversations are checked for that silence.
    pub check_ms: u64,
}

impl Default for ParkingSettings {
    fn default() -> Self {
        Self {
            max_per_agent: 20,
            auto_park_after_ms: 30 * 60_000,
            check_ms: 10_000,
        }
    }
}

impl ParkingSettings {
    /// Upper bound of `max_per_agent` (each parked conversation is listed in every
    /// welcome of the agent's sockets).
    pub const MAX_PER_AGENT: usize = 1_000;

    pub fn validate(&self) -> Result<(), String> {
        if self.max_per_agent > Self::MAX_PER_AGENT {
            return Err(format!(
                "parking.max_per_agent = {} is above {}",
                self.max_per_agent,
                Self::MAX_PER_AGENT
            ));
        }
        if self.auto_park_after_ms > 0 && self.check_ms == 0 {
            return Err("parking.check_ms must be positive while auto-parking is on".into());
        }
        Ok(())
    }
}
