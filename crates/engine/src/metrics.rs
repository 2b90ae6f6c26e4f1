//! Prometheus metrics (metrics + metrics-exporter-prometheus). One function per signal
//! so names, units and labels are defined in one place. Labels are bounded: queue,
//! channel, direction, outcome, agent state, socket kind — never customer, conversation
//! or agent ids. Durations are in seconds.
//!
//! Naming follows the Prometheus conventions: the `switchboard_` prefix, the base unit
//! in the name (`_seconds`), `_total` on every counter and on nothing else, a HELP text
//! for every metric. `tests/api/prometheus.rs` lints a real scrape after traffic with
//! `promtool check metrics`, and checks that every metric the Grafana dashboard
//! (`deploy/grafana/switchboard.json`) queries is in that scrape; report KPIs and their
//! live PromQL counterparts are in docs/metrics.md.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `switchboard_queue_waiting` | gauge | queue |
//! | `switchboard_queue_longest_wait_seconds` | gauge | queue |
//! | `switchboard_queue_service_rules_on` | gauge | queue |
//! | `switchboard_agents` | gauge | state (available, away, offline) |
//! | `switchboard_routing_decision_seconds` | histogram | |
//! | `switchboard_time_to_answer_seconds` | histogram | queue |
//! | `switchboard_offers_total` | counter | queue, outcome |
//! | `switchboard_queue_refused_total` | counter | queue |
//! | `switchboard_messages_total` | counter | channel, direction |
//! | `switchboard_duplicates_total` | counter | |
//! | `switchboard_idempotency_expired_total` | counter | |
//! | `switchboard_erased_messages_dropped_total` | counter | channel |
//! | `switchboard_conversations_opened_total` | counter | channel |
//! | `switchboard_conversations_reopened_total` | counter | channel |
//! | `switchboard_outbound_total` | counter | channel, outcome (sent, retried, failed, dropped) |
//! | `switchboard_webhooks_total` | counter | provider, outcome (accepted, duplicate, rejected, invalid, error) |
//! | `switchboard_conversations_abandoned_total` | counter | queue |
//! | `switchboard_conversations_left_unserved_total` | counter | queue |
//! | `switchboard_browser_calls_total` | counter | event, media |
//! | `switchboard_conversations_resolved_total` | counter | queue |
//! | `switchboard_conversations_parked_total` | counter | queue, by (agent, engine) |
//! | `switchboard_conversations_unparked_total` | counter | queue |
//! | `switchboard_responses_total` | counter | queue, reply (first, next), outcome (within_target, overdue, untimed) |
//! | `switchboard_ws_connections` | gauge | kind (agent, chat, supervisor) |
//! | `switchboard_customer_actors` | gauge | |
//! | `switchboard_lease_held` | gauge | key (a configured key: `singleton/active-engine`) |
//! | `switchboard_lease_renewals_total` | counter | outcome (renewed, error, fenced, lapsed) |
//! | `switchboard_cluster_members` | gauge | — |
//! | `switchboard_cluster_reachable_members` | gauge | — |
//! | `switchboard_cluster_standing_aside` | gauge | — |
//! | `switchboard_cluster_stood_aside_total` | counter | — |
//! | `switchboard_fenced_writes_total` | counter | by (engine: the node's lease had lapsed; store: a row was written since under a later epoch) |
//! | `switchboard_sockets_followed_total` | counter | kind (chat, agent), outcome (followed, reconnect) |
//! | `switchboard_peer_messages_total` | counter | outcome (local, done, refused, moved, expired, overloaded, unreachable, timeout) |
//! | `switchboard_peer_received_total` | counter | outcome (done, refused, moved, expired) |
//! | `switchboard_peer_request_seconds` | histogram | peer (a member's address) |
//! | `switchboard_peer_queue_depth` | gauge | peer (a member's address) |
//! | `switchboard_lease_takeovers_total` | counter | key (a configured key) |
//! | `switchboard_clock_offset_seconds` | gauge | — |
//! | `switchboard_store_commit_seconds` | histogram | |
//! | `switchboard_store_commit_group_size` | histogram | |
//! | `switchboard_message_stage_seconds` | histogram | `path` (customer, agent), `stage` (round_trip, in_actor, commit) |
//! | `switchboard_logins_throttled_total` | counter | by (account, ip) |
//! | `switchboard_login_alarms_total` | counter | — |
//! | `switchboard_audit_write_failures_total` | counter | — |
//! | `switchboard_ws_refused_total` | counter | reason (origin, revoked, expired, rate_limit, idle) |
//! | `switchboard_anonymous_refused_total` | counter | door (chat_open, visitor, conversation, callback, help, sso, chat_sockets) |
//! | `switchboard_smtp_refused_total` | counter | reason (per_ip, busy, idle) |
//! | `switchboard_files_stored_total` | counter | |
//! | `switchboard_file_bytes_stored_total` | counter | |
//! | `switchboard_files_refused_total` | counter | reason (too_large, type, mismatch, invalid) |
//! | `switchboard_media_fetches_total` | counter | provider, outcome (ok, host, status, too_large, redirects, network) |
//! | `switchboard_privacy_operations_total` | counter | op (export, erase) |
//! | `switchboard_actor_restarts_total` | counter | kind (customer, queue, agent) |
//! | `switchboard_crm_lookups_total` | counter | outcome (ok, cached, shed, http_error, timeout, unreachable, invalid, too_large) |
//! | `switchboard_crm_lookup_seconds` | histogram | |

use crate::domain::{AgentId, Channel, QueueName};
use dashmap::DashMap;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Each agent's state as last counted, so the per-state gauge moves by transitions.
static AGENT_STATES: OnceLock<DashMap<AgentId, &'static str>> = OnceLock::new();

/// Installs the global recorder once per process and returns the render handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("switchboard_routing_decision_seconds".into()),
                    &[
                        1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_time_to_answer_seconds".into()),
                        &[1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_store_commit_seconds".into()),
                        &[
                            1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0,
                        ],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_store_commit_group_size".into()),
                        &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_message_stage_seconds".into()),
                        &[
                            1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                            1.0,
                        ],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_peer_request_seconds".into()),
                        &[
                            1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                            1.0,
                        ],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_crm_lookup_seconds".into()),
                        &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
                    )
                })
                .expect("static bucket lists are non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests); then we only render.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        "switchboard_queue_waiting",
        "Conversations waiting in the queue (not yet offered)."
    );
    describe_gauge!(
        "switchboard_queue_longest_wait_seconds",
        Unit::Seconds,
        "Wait of the oldest waiting or offered conversation."
    );
    describe_gauge!(
        "switchboard_queue_service_rules_on",
        "Service-level rules on now (overflowing or boosting the queue)."
    );
    describe_gauge!("switchboard_agents", "Logged-in agents by state.");
    describe_histogram!(
        "switchboard_routing_decision_seconds",
        Unit::Seconds,
        "Time to take one routing decision."
    );
    describe_histogram!(
        "switchboard_time_to_answer_seconds",
        Unit::Seconds,
        "Wait until an accepted offer: from enqueue, or from the last transfer or requeue."
    );
    describe_histogram!(
        "switchboard_store_commit_seconds",
        Unit::Seconds,
        "Time to write and fsync one group of store commits."
    );
    describe_histogram!(
        "switchboard_message_stage_seconds",
        Unit::Seconds,
        "Where a chat message's time goes, by path (customer: a customer's message; agent: \
         an agent's reply or note) and stage: round_trip, from the socket's session or the \
         agent's actor asking the customer actor to its answer; in_actor, the customer \
         actor's handling (idempotency lookup and durable commit included; round_trip \
         minus in_actor is the wait in its mailbox and the hops); commit, the durable \
         commit alone (a reply, or a message in an open conversation), until the actor \
         runs again."
    );
    describe_histogram!(
        "switchboard_store_commit_group_size",
        "Commits written together in one durable transaction (group commit)."
    );
    describe_counter!("switchboard_offers_total", "Offers by outcome.");
    describe_counter!(
        "switchboard_conversations_reopened_total",
        "Closed conversations reopened by a new customer message inside the reopen window."
    );
    describe_counter!(
        "switchboard_conversations_parked_total",
        "Asynchronous conversations parked (the agent's slot freed), by the agent or by the engine after the customer's silence."
    );
    describe_counter!(
        "switchboard_conversations_unparked_total",
        "Parked conversations queued again: the customer wrote, or the agent took it back."
    );
    describe_counter!(
        "switchboard_responses_total",
        "Agent replies that answered a waiting customer, by reply (first, next) and outcome: within the queue's response-time target, overdue (counted when the target passes, or with a late reply the engine had not seen pass), or untimed."
    );
    describe_counter!(
        "switchboard_outbound_total",
        "Outbound provider sends by channel and outcome."
    );
    describe_counter!(
        "switchboard_webhooks_total",
        "Provider webhooks by provider and outcome."
    );
    describe_counter!(
        "switchboard_queue_refused_total",
        "New conversations refused because the queue was full."
    );
    describe_counter!(
        "switchboard_messages_total",
        "Messages by channel and direction."
    );
    describe_counter!(
        "switchboard_duplicates_total",
        "Retries answered with the original event (an id applied before), not stored again."
    );
    describe_counter!(
        "switchboard_idempotency_expired_total",
        "Idempotency records and erasure tombstones removed by the embedded store's expiry sweep."
    );
    describe_counter!(
        "switchboard_erased_messages_dropped_total",
        "Provider messages received before their customer was erased, redelivered or replayed after it: dropped, nothing stored."
    );
    describe_counter!(
        "switchboard_conversations_opened_total",
        "Conversations opened by channel."
    );
    describe_counter!(
        "switchboard_conversations_abandoned_total",
        "Conversations abandoned while waiting."
    );
    describe_counter!(
        "switchboard_browser_calls_total",
        "Browser calls (WebRTC), by event: started, or how they ended (hangup, declined, busy, no_answer, disconnected, closed); and media."
    );
    describe_counter!(
        "switchboard_conversations_left_unserved_total",
        "Anonymous visitors' waiting chats that left the queue when their socket went."
    );
    describe_counter!(
        "switchboard_conversations_resolved_total",
        "Conversations resolved."
    );
    describe_gauge!(
        "switchboard_ws_connections",
        "Open websocket connections by kind."
    );
    describe_gauge!(
        "switchboard_customer_actors",
        "Live (activated) customer actors."
    );
    describe_gauge!(
        "switchboard_lease_held",
        "1 while this node holds the lease of the key (docs/cluster.md), else 0."
    );
    describe_counter!(
        "switchboard_lease_renewals_total",
        "Lease renewals by outcome: renewed, error (store unreachable or slow), fenced (a key taken by another node), lapsed (keys dropped at the local deadline)."
    );
    describe_counter!(
        "switchboard_fenced_writes_total",
        "Store writes refused by a fence (docs/cluster.md), by: engine (this node did not hold its lease at that moment), store (a customer or conversation row was written since under a later epoch of its lease)."
    );
    describe_counter!(
        "switchboard_peer_messages_total",
        "Messages this node sent to a key's owner, by outcome: local (owned here), done, refused, moved (followed), expired, overloaded (the peer's queue full), unreachable, timeout."
    );
    describe_counter!(
        "switchboard_sockets_followed_total",
        "Chat and agent sockets whose actor (the customer's, the agent's) moved to another node, by kind (chat, agent) and outcome: followed (attached where it runs now, the socket kept open), reconnect (it could not be reached in time: the client was told to reconnect)."
    );
    describe_counter!(
        "switchboard_agent_catch_ups_total",
        "Repairs of pushes to agents lost between nodes, by step: asked (a customer's actor asked the agent's to catch up), pushed (events the agent's actor pushed from the conversation), given_up, resync (an agent socket told to reconnect after a push to it was lost)."
    );
    describe_counter!(
        "switchboard_peer_received_total",
        "Envelopes other nodes sent this one, by answer: done, refused, moved (not the owner), expired (past the deadline)."
    );
    describe_histogram!(
        "switchboard_peer_request_seconds",
        Unit::Seconds,
        "Node-to-node requests (a batch of envelopes) by the peer they went to: from sending to the answers, or to the failure."
    );
    describe_gauge!(
        "switchboard_peer_queue_depth",
        "Envelopes waiting to be sent to each peer, after this node's last request to it (at most cluster.peer_queue)."
    );
    describe_counter!(
        "switchboard_lease_takeovers_total",
        "Keys this node took, by key: at its start, from another node that released or lost them, or again after its own lease lapsed; memberships not counted."
    );
    describe_gauge!(
        "switchboard_clock_offset_seconds",
        "This node's wall clock minus the CQL store's, in seconds, measured when it joined (docs/cluster.md, \"Clock skew\")."
    );
    describe_gauge!(
        "switchboard_cluster_members",
        "Live members of the cluster at this node's last ownership round, itself included."
    );
    describe_gauge!(
        "switchboard_cluster_reachable_members",
        "Live members that answered this node's last quorum round of pings, itself included (spread placement)."
    );
    describe_gauge!(
        "switchboard_cluster_standing_aside",
        "1 while this node stands aside: it reaches no majority of the live members, so it has handed its keys over (docs/cluster.md, \"Partitions\")."
    );
    describe_counter!(
        "switchboard_cluster_stood_aside_total",
        "Times this node stood aside for want of a majority of reachable members."
    );
    describe_security();
}

/// Security counters (issue 8), and actor restarts.
fn describe_security() {
    use metrics::describe_counter;
    describe_counter!(
        "switchboard_audit_write_failures_total",
        "Audit entries of staff requests that could not be written (the store failed)."
    );
    describe_counter!(
        "switchboard_logins_throttled_total",
        "Logins refused with 429 by the per-account-and-address or per-IP failure limit."
    );
    describe_counter!(
        "switchboard_anonymous_refused_total",
        "Anonymous requests refused by a per-client-address budget, by door."
    );
    describe_counter!(
        "switchboard_login_alarms_total",
        "Accounts whose failed logins from every address reached security.login_alarm_failures_per_account in a window (nothing locked)."
    );
    // At zero from the first scrape, so an alert on its rise has a series to watch.
    counter!("switchboard_login_alarms_total").increment(0);
    describe_counter!(
        "switchboard_ws_refused_total",
        "Websocket handshakes refused or sockets closed by a security rule, by reason."
    );
    describe_counter!(
        "switchboard_smtp_refused_total",
        "SMTP connections answered 421 and closed by a limit, by reason: per_ip (max_connections_per_ip), busy (max_connections), idle (no command within first_command_timeout_ms)."
    );
    describe_counter!(
        "switchboard_files_stored_total",
        "Files stored (uploads by visitors and agents, and files that came with inbound messages), docs/attachments.md."
    );
    describe_counter!(
        "switchboard_file_bytes_stored_total",
        "Bytes of the files stored (a file stored again for the same customer counts again)."
    );
    describe_counter!(
        "switchboard_media_fetches_total",
        "Media of inbound messages fetched from the providers, by provider and outcome: ok, host (not an allowed host: the SSRF guard), status (an error answer), too_large, redirects, network."
    );
    describe_counter!(
        "switchboard_files_refused_total",
        "Files refused before storing, by reason: too_large (attachments.max_bytes), type (not in attachments.types), mismatch (bytes not of the declared type), invalid (empty)."
    );
    describe_counter!(
        "switchboard_privacy_operations_total",
        "Customer data exports and erasures."
    );
    describe_counter!(
        "switchboard_actor_restarts_total",
        "Actors found crashed and started again from the store, by kind."
    );
    describe_counter!(
        "switchboard_crm_lookups_total",
        "CRM lookups by outcome (cached: a fresh cache entry made the lookup unnecessary)."
    );
    metrics::describe_histogram!(
        "switchboard_crm_lookup_seconds",
        metrics::Unit::Seconds,
        "Duration of CRM lookups that reached the network."
    );
}

pub fn queue_state(queue: &QueueName, waiting: usize, longest_wait_ms: u64) {
    gauge!("switchboard_queue_waiting", "queue" => queue.to_string()).set(waiting as f64);
    gauge!("switchboard_queue_longest_wait_seconds", "queue" => queue.to_string())
        .set(longest_wait_ms as f64 / 1000.0);
}

pub fn service_rules_on(queue: &QueueName, on: usize) {
    gauge!("switchboard_queue_service_rules_on", "queue" => queue.to_string()).set(on as f64);
}

pub fn routing_decision(d: Duration) {
    histogram!("switchboard_routing_decision_seconds").record(d.as_secs_f64());
}

/// One durable group commit of the store writer: its duration and how many commits it
/// carried.
pub fn answered(queue: &QueueName, wait_ms: u64) {
    histogram!("switchboard_time_to_answer_seconds", "queue" => queue.to_string())
        .record(wait_ms as f64 / 1000.0);
}

pub fn offer(outcome: &str, queue: &QueueName) {
    counter!("switchboard_offers_total", "queue" => queue.to_string(), "outcome" => outcome.to_owned())
        .increment(1);
}

pub fn refused(queue: &QueueName) {
    counter!("switchboard_queue_refused_total", "queue" => queue.to_string()).increment(1);
}

pub fn message(channel: Channel, direction: &'static str) {
    counter!("switchboard_messages_total", "channel" => channel.as_str(), "direction" => direction)
        .increment(1);
}

/// Time spent by a chat message in one stage of its path (see the description above).
/// The six histograms are registered once: recording is then one atomic update, not a
/// lookup of the labels on every message.
pub fn message_stage(path: &'static str, stage: &'static str, since: std::time::Instant) {
    const PATHS: [&str; 2] = ["customer", "agent"];
    const STAGES: [&str; 3] = ["round_trip", "in_actor", "commit"];
    static HANDLES: OnceLock<Vec<metrics::Histogram>> = OnceLock::new();
    let handles = HANDLES.get_or_init(|| {
        PATHS
            .iter()
            .flat_map(|p| {
                STAGES.iter().map(move |s| {
                    histogram!("switchboard_message_stage_seconds", "path" => *p, "stage" => *s)
                })
            })
            .collect()
    });
    let (Some(p), Some(s)) = (
        PATHS.iter().position(|p| *p == path),
        STAGES.iter().position(|s| *s == stage),
    ) else {
        return;
    };
    handles[p * STAGES.len() + s].record(since.elapsed().as_secs_f64());
}

pub fn duplicate_answered() {
    counter!("switchboard_duplicates_total").increment(1);
}

/// A provider message dropped because an erasure left a tombstone of its id.
pub fn erased_message_dropped(channel: Channel) {
    counter!("switchboard_erased_messages_dropped_total", "channel" => channel.as_str())
        .increment(1);
}

pub fn idempotency_expired(n: usize) {
    counter!("switchboard_idempotency_expired_total").increment(n as u64);
}

pub fn conversation_reopened(channel: Channel) {
    counter!("switchboard_conversations_reopened_total", "channel" => channel.as_str())
        .increment(1);
}

pub fn outbound(channel: Channel, outcome: &'static str) {
    counter!("switchboard_outbound_total", "channel" => channel.as_str(), "outcome" => outcome)
        .increment(1);
}

pub fn webhook(provider: &'static str, outcome: &'static str) {
    counter!("switchboard_webhooks_total", "provider" => provider, "outcome" => outcome)
        .increment(1);
}

pub fn conversation_opened(channel: Channel) {
    counter!("switchboard_conversations_opened_total", "channel" => channel.as_str()).increment(1);
}

/// An anonymous visitor's waiting chat left the queue after its socket went
/// (`anonymous.unserved_grace_ms`); not an abandoned customer.
pub fn left_unserved(queue: &QueueName) {
    counter!("switchboard_conversations_left_unserved_total", "queue" => queue.to_string())
        .increment(1);
}

/// A browser call started (`event` = `started`) or ended (`event` = its end reason).
pub fn browser_call(event: &'static str, media: &'static str) {
    counter!("switchboard_browser_calls_total", "event" => event, "media" => media).increment(1);
}

pub fn conversation_abandoned(queue: &QueueName) {
    counter!("switchboard_conversations_abandoned_total", "queue" => queue.to_string())
        .increment(1);
}

pub fn conversation_parked(queue: &QueueName, auto: bool) {
    counter!(
        "switchboard_conversations_parked_total",
        "queue" => queue.to_string(),
        "by" => if auto { "engine" } else { "agent" }
    )
    .increment(1);
}

pub fn conversation_unparked(queue: &QueueName) {
    counter!("switchboard_conversations_unparked_total", "queue" => queue.to_string()).increment(1);
}

/// A response clock's verdict: `outcome` is `within_target`, `overdue` or `untimed`.
pub fn response(queue: &QueueName, first: bool, outcome: &'static str) {
    counter!(
        "switchboard_responses_total",
        "queue" => queue.to_string(),
        "reply" => if first { "first" } else { "next" },
        "outcome" => outcome
    )
    .increment(1);
}

pub fn conversation_resolved(queue: &QueueName) {
    counter!("switchboard_conversations_resolved_total", "queue" => queue.to_string()).increment(1);
}

pub fn ws_connections(kind: &'static str, delta: i64) {
    let g = gauge!("switchboard_ws_connections", "kind" => kind);
    if delta >= 0 {
        g.increment(delta as f64);
    } else {
        g.decrement((-delta) as f64);
    }
}

pub fn customer_actor_activated() {
    gauge!("switchboard_customer_actors").increment(1.0);
}

/// Whether this node holds the lease of `key` (a configured key — a shard, queue or
/// singleton — never an id, so the label set is bounded by the configuration).
pub fn lease_held(key: &str, held: bool) {
    gauge!("switchboard_lease_held", "key" => key.to_owned()).set(if held { 1.0 } else { 0.0 });
}

/// This node's clock minus the store's, measured as it joined.
pub fn clock_offset(ms: i64) {
    gauge!("switchboard_clock_offset_seconds").set(ms as f64 / 1000.0);
}

/// Registers the lease-renewal series at zero, so that a rate over them exists from
/// the first scrape.
pub fn lease_renewals_init() {
    for outcome in ["renewed", "error", "fenced", "lapsed"] {
        counter!("switchboard_lease_renewals_total", "outcome" => outcome).increment(0);
    }
    for by in ["engine", "store"] {
        counter!("switchboard_fenced_writes_total", "by" => by).increment(0);
    }
}

const PEER_SENT: [&str; 8] = [
    "local",
    "done",
    "refused",
    "moved",
    "expired",
    "overloaded",
    "unreachable",
    "timeout",
];

/// Registers the node-to-node series at zero.
pub fn peer_messages_init() {
    for outcome in PEER_SENT {
        counter!("switchboard_peer_messages_total", "outcome" => outcome).increment(0);
    }
    for outcome in &PEER_SENT[1..5] {
        counter!("switchboard_peer_received_total", "outcome" => *outcome).increment(0);
    }
}

/// One node-to-node request to `peer` (an address: bounded by the members), and how
/// many envelopes still wait for it.
pub fn peer_request(peer: &str, took: Duration, waiting: usize) {
    histogram!("switchboard_peer_request_seconds", "peer" => peer.to_owned())
        .record(took.as_secs_f64());
    gauge!("switchboard_peer_queue_depth", "peer" => peer.to_owned()).set(waiting as f64);
}

/// This node took `key` (its start, a takeover, or again after a lapse).
pub fn lease_takeover(key: &str) {
    counter!("switchboard_lease_takeovers_total", "key" => key.to_owned()).increment(1);
}

/// One message sent (or handled here) by outcome.
pub fn peer_message(outcome: &'static str) {
    counter!("switchboard_peer_messages_total", "outcome" => outcome).increment(1);
}

/// One envelope from another node answered, by answer.
pub fn peer_received(outcome: &'static str) {
    counter!("switchboard_peer_received_total", "outcome" => outcome).increment(1);
}

/// One step of repairing a push to an agent lost between nodes (see the description).
pub fn agent_catch_ups(step: &'static str, n: u64) {
    counter!("switchboard_agent_catch_ups_total", "step" => step).increment(n);
}

/// A chat or agent socket followed its actor to another node (see the description).
pub fn socket_followed(kind: &'static str, outcome: &'static str) {
    counter!("switchboard_sockets_followed_total", "kind" => kind, "outcome" => outcome)
        .increment(1);
}

/// Live members of the cluster as this node last read them (itself included).
pub fn cluster_members(live: usize) {
    gauge!("switchboard_cluster_members").set(live as f64);
}

/// A quorum round: `reachable` of the live members answered (this node included).
pub fn cluster_reachable(reachable: usize) {
    gauge!("switchboard_cluster_reachable_members").set(reachable as f64);
}

/// This node stands aside (`true`) or serves again.
pub fn standing_aside(aside: bool) {
    gauge!("switchboard_cluster_standing_aside").set(if aside { 1.0 } else { 0.0 });
    if aside {
        counter!("switchboard_cluster_stood_aside_total").increment(1);
    }
}

/// A lease renewal's outcome: `renewed`, `error`, `fenced` (refused: taken) or
/// `lapsed` (keys dropped at their local deadline).
pub fn lease_renewal(outcome: &'static str) {
    counter!("switchboard_lease_renewals_total", "outcome" => outcome).increment(1);
}

pub fn customer_actor_passivated() {
    gauge!("switchboard_customer_actors").decrement(1.0);
}

/// Records an agent's state; `connected=false` with "offline" removes it.
pub fn agent_state(agent: &AgentId, status: &'static str, connected: bool) {
    let states = AGENT_STATES.get_or_init(DashMap::new);
    let new = if connected || status != "offline" {
        status
    } else {
        "offline"
    };
    let old = states.insert(agent.clone(), new);
    if old == Some(new) {
        return;
    }
    if let Some(o) = old {
        gauge!("switchboard_agents", "state" => o).decrement(1.0);
    }
    gauge!("switchboard_agents", "state" => new).increment(1.0);
}

/// An audit entry of a staff request could not be written.
pub fn audit_write_failed() {
    counter!("switchboard_audit_write_failures_total").increment(1);
}

/// A login answered 429; `by` is `account` or `ip`.
pub fn login_throttled(by: &'static str) {
    counter!("switchboard_logins_throttled_total", "by" => by).increment(1);
}

/// An anonymous door refused a client address over its budget (`budget::Door`).
pub fn anonymous_refused(door: &'static str) {
    counter!("switchboard_anonymous_refused_total", "door" => door).increment(1);
}

/// One account's failed logins from every address reached
/// `security.login_alarm_failures_per_account` in a window (once per window).
pub fn login_alarm() {
    counter!("switchboard_login_alarms_total").increment(1);
}

/// A websocket refused or closed by a security rule: `origin`, `revoked`, `expired`,
/// `rate_limit`, `idle`.
pub fn ws_refused(reason: &'static str) {
    counter!("switchboard_ws_refused_total", "reason" => reason).increment(1);
}

/// A file stored, of `bytes`.
pub fn file_stored(bytes: u64) {
    counter!("switchboard_files_stored_total").increment(1);
    counter!("switchboard_file_bytes_stored_total").increment(bytes);
}

/// A provider's media item fetched (`ok`) or not (why).
pub fn media_fetched(provider: &'static str, outcome: &'static str) {
    counter!("switchboard_media_fetches_total", "provider" => provider, "outcome" => outcome)
        .increment(1);
}

/// A file refused before storing: `too_large`, `type`, `mismatch`, `invalid`.
pub fn file_refused(reason: &'static str) {
    counter!("switchboard_files_refused_total", "reason" => reason).increment(1);
}

/// An SMTP connection refused or closed by a limit: `per_ip`, `busy`, `idle`.
pub fn smtp_refused(reason: &'static str) {
    counter!("switchboard_smtp_refused_total", "reason" => reason).increment(1);
}

/// A privacy operation: `export` or `erase`.
pub fn privacy_operation(op: &'static str) {
    counter!("switchboard_privacy_operations_total", "op" => op).increment(1);
}

/// An actor (`kind`: customer, queue, agent) found crashed and started again.
pub fn actor_restarted(kind: &'static str) {
    counter!("switchboard_actor_restarts_total", "kind" => kind).increment(1);
}

/// A CRM lookup's `outcome` (the server's `crm` client), with its duration when it went to the
/// network.
pub fn crm_lookup(outcome: &'static str, took: Option<Duration>) {
    counter!("switchboard_crm_lookups_total", "outcome" => outcome).increment(1);
    if let Some(d) = took {
        histogram!("switchboard_crm_lookup_seconds").record(d.as_secs_f64());
    }
}
