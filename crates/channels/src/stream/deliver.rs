//! Delivering the stream. [`start`] runs a supervisor on the holder of
//! `singleton/event-stream` (every node without a cluster): every `stream.poll_ms` it
//! reads the subscribers and keeps one task per active one; when this node loses the
//! key it stops them all (the new holder goes on from the stored cursors). Once a
//! minute it prunes journal hours older than `stream.journal_hours`.
//!
//! A subscriber's task works in rounds. A round reads the journal from
//! `stream.overlap_ms` before its cursor, skipping the rows it knows are done, up to
//! `stream.page` rows; reads their events; and hands the wanted ones to
//! `stream.lanes` lanes by conversation, so one conversation's events go out one after
//! another, in journal order. A lane retries a failing delivery with doubling delays
//! (`retry_first_ms` .. `retry_max_ms`, with jitter) and holds the events behind it,
//! until it is delivered or has failed for `dead_after_ms`, when it becomes a dead
//! letter. Then the cursor moves past every row done, and is stored: a restart, a
//! `kill -9` or a new holder re-sends at most the rows delivered since the last store,
//! with the same `Switchboard-Event-Id` (at least once, never lost).

use super::model::{self, Cursor, DeadLetter, Subscriber};
use super::StreamSettings;
use crate::cluster::shard::Singleton;
use crate::domain::{EventId, Millis, TimelineEvent};
use crate::store::journal::{self, Entry};
use crate::store::{Batch, RecordWrite};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_engine::Engine;

/// The stream's handle, kept by the server: its settings and HTTP client. It holds no
/// engine (a shutdown waits for the engine's last holder); [`start`] and
/// [`Stream::redeliver`] are given one.
#[derive(Clone)]
pub struct Stream {
    settings: StreamSettings,
    client: reqwest::Client,
}

impl Stream {
    pub fn new(settings: StreamSettings) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .no_proxy()
            .user_agent("Switchboard-Events/1")
            .dns_resolver(Arc::new(super::guard::Resolver {
                allow_private: settings.allow_private_addresses,
            }))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Stream { settings, client }
    }

    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// Sends one event to `sub` now, once (a dead letter a person redelivers): `Err`
    /// says why it failed. The event is read from the store; an erased one is `Err`.
    pub async fn redeliver(
        &self,
        engine: &Engine,
        sub: &Subscriber,
        dead: &DeadLetter,
    ) -> Result<(), String> {
        self.sender(engine.clone()).redeliver(sub, dead).await
    }

    fn sender(&self, engine: Engine) -> Sender {
        Sender(Arc::new(Inner {
            engine,
            settings: self.settings.clone(),
            client: self.client.clone(),
        }))
    }
}

/// The stream at work: its settings, HTTP client and the engine.
#[derive(Clone)]
struct Sender(Arc<Inner>);

struct Inner {
    engine: Engine,
    settings: StreamSettings,
    client: reqwest::Client,
}

impl Sender {
    /// Sends one event to `sub` now, once (a dead letter a person redelivers): `Err`
    /// says why it failed. The event is read from the store; an erased one is `Err`.
    async fn redeliver(&self, sub: &Subscriber, dead: &DeadLetter) -> Result<(), String> {
        let event = self
            .read_event(dead.customer_id, dead.event_id)
            .await
            .map_err(|e| format!("reading the event failed: {e}"))?
            .ok_or_else(|| "the event is no longer stored (erased)".to_owned())?;
        let body = model::body_of(&sub.id, &dead.stream_type, &event);
        let r = self
            .send(sub, &dead.stream_type, event.id, &body, dead.attempts + 1)
            .await;
        count(if r.is_ok() { "delivered" } else { "failed" });
        r.map_err(|f| f.text)
    }

    /// The event `id` of `customer`, or of the record it was merged into.
    async fn read_event(
        &self,
        customer: crate::domain::CustomerId,
        id: EventId,
    ) -> Result<Option<TimelineEvent>, crate::store::StoreError> {
        self.0.engine.store.event(customer, id).await
    }

    /// One POST of `body` to the subscriber, signed; `Err` describes the failure.
    async fn send(
        &self,
        sub: &Subscriber,
        stream_type: &str,
        id: EventId,
        body: &[u8],
        attempt: u32,
    ) -> Result<(), Failure> {
        let s = &self.0.settings;
        // Stored under other settings, or an address literal the resolver never sees.
        let url =
            super::guard::check_url(&sub.url, s).map_err(|e| Failure::down(format!("url {e}")))?;
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let res = self
            .0
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("switchboard-event-id", id.to_string())
            .header("switchboard-event-type", stream_type)
            .header("switchboard-timestamp", timestamp.to_string())
            .header("switchboard-delivery-attempt", attempt.to_string())
            .header(
                "switchboard-signature",
                model::sign(&sub.secret, timestamp, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure::down(describe(e)))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let snippet = read_bounded(res, s.max_response_bytes).await;
        let text = if status.is_redirection() {
            format!("HTTP {} (redirects are not followed)", status.as_u16())
        } else if snippet.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {snippet}", status.as_u16())
        };
        // A 4xx other than "timeout" and "too many requests" is the receiver refusing
        // this event (it would refuse it again); anything else says it is down.
        let refused = status.is_client_error() && !matches!(status.as_u16(), 408 | 429);
        Err(Failure { text, refused })
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone)]
struct Failure {
    text: String,
    /// The receiver answered and refused this event (4xx other than 408 and 429).
    refused: bool,
}

impl Failure {
    fn down(text: String) -> Self {
        Failure {
            text,
            refused: false,
        }
    }
}

/// At most `max` bytes of an answer's body, as text.
async fn read_bounded(mut res: reqwest::Response, max: usize) -> String {
    let mut got: Vec<u8> = Vec::new();
    while got.len() < max {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - got.len();
                got.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&got)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// A client error as one line (without the URL's query, which may carry a token).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn count(outcome: &'static str) {
    metrics::counter!("switchboard_stream_deliveries_total", "outcome" => outcome).increment(1);
}

/// Describes the stream's counters once per process.
fn describe_metrics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        crate::metrics::install();
        metrics::describe_counter!(
            "switchboard_stream_deliveries_total",
            "Event-stream deliveries by outcome: delivered, failed (retried), dead (given up), skipped (event no longer stored)."
        );
    });
}

/// Starts the stream's supervisor on the current runtime; it stops when the engine
/// drains.
pub fn start(stream: &Stream, engine: Engine) {
    describe_metrics();
    let stream = stream.sender(engine);
    tokio::spawn(async move {
        let engine = stream.0.engine.clone();
        let mut drain = engine.drain_signal();
        let every = Duration::from_millis(stream.0.settings.poll_ms.max(1));
        let mut tasks: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
        let mut last_prune: Option<Instant> = None;
        loop {
            if *drain.borrow() {
                break;
            }
            if engine.runs(Singleton::EventStream) {
                supervise(&stream, &mut tasks).await;
                if last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    last_prune = Some(Instant::now());
                    prune(&stream).await;
                }
            } else {
                for (_, t) in std::mem::take(&mut tasks) {
                    t.abort();
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = drain.changed() => {}
            }
        }
        for (_, t) in tasks {
            t.abort();
        }
    });
}

/// Every subscriber in the store (at most `max_subscribers`).
pub async fn subscribers(
    engine: &Engine,
    settings: &StreamSettings,
) -> Result<Vec<Subscriber>, crate::store::StoreError> {
    let rows = engine
        .store
        .records(model::SUBSCRIBER_KIND, None, settings.max_subscribers + 1)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect())
}

/// Keeps one task per active subscriber.
async fn supervise(stream: &Sender, tasks: &mut BTreeMap<String, tokio::task::JoinHandle<()>>) {
    let subs = match subscribers(&stream.0.engine, &stream.0.settings).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "event stream: reading subscribers failed");
            return;
        }
    };
    tasks.retain(|_, t| !t.is_finished());
    if !stream.0.settings.enabled {
        return;
    }
    for sub in subs.into_iter().filter(|s| s.active) {
        if let std::collections::btree_map::Entry::Vacant(slot) = tasks.entry(sub.id) {
            let id = slot.key().clone();
            slot.insert(tokio::spawn(run_subscriber(stream.clone(), id)));
        }
    }
}

/// Why a round stopped before its end.
#[derive(Debug)]
enum Stop {
    /// This node no longer holds the stream, or the engine drains: nothing is stored.
    NotOurs,
    /// The subscriber was deleted or paused.
    Gone,
}

/// What a subscriber's task keeps between rounds.
struct TaskState {
    cursor: Cursor,
    /// Done keys after `position - overlap` (the cursor's `recent`, and later ones).
    done: BTreeSet<String>,
}

async fn run_subscriber(stream: Sender, id: String) {
    let engine = stream.0.engine.clone();
    let poll = Duration::from_millis(stream.0.settings.poll_ms.max(1));
    let mut drain = engine.drain_signal();
    let mut state: Option<TaskState> = None;
    loop {
        if *drain.borrow() || !engine.runs(Singleton::EventStream) {
            return;
        }
        let sub = match read_subscriber(&engine, &id).await {
            Ok(Some(s)) if s.active => s,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(subscriber = %id, error = %e, "event stream: reading the subscriber failed");
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        if state.is_none() {
            match load_cursor(&engine, &sub).await {
                Ok(c) => {
                    state = Some(TaskState {
                        done: c.recent.iter().cloned().collect(),
                        cursor: c,
                    })
                }
                Err(e) => {
                    tracing::warn!(subscriber = %id, error = %e, "event stream: reading the cursor failed");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            }
        }
        let st = state.as_mut().expect("loaded above");
        let full = match round(&stream, &sub, st).await {
            Ok(taken) => taken >= stream.0.settings.page,
            Err(Stop::NotOurs) | Err(Stop::Gone) => return,
        };
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = drain.changed() => {}
            }
        }
    }
}

async fn read_subscriber(
    engine: &Engine,
    id: &str,
) -> Result<Option<Subscriber>, crate::store::StoreError> {
    Ok(engine
        .store
        .record(model::SUBSCRIBER_KIND, id)
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// The stored cursor, or a new one at the subscriber's creation (a replay asked for
/// before the first round stored one still applies: its token is new to this cursor).
async fn load_cursor(
    engine: &Engine,
    sub: &Subscriber,
) -> Result<Cursor, crate::store::StoreError> {
    let stored = engine.store.record(model::CURSOR_KIND, &sub.id).await?;
    Ok(stored
        .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
        .unwrap_or_else(|| Cursor {
            position: journal::key_at(sub.created_at),
            ..Default::default()
        }))
}

/// The cursor of `sub`, for the status route.
pub async fn cursor_of(
    engine: &Engine,
    sub: &Subscriber,
) -> Result<Cursor, crate::store::StoreError> {
    load_cursor(engine, sub).await
}

/// One journal row to handle.
struct Row {
    key: String,
    at: Millis,
    id: EventId,
    entry: Entry,
}

/// What became of a row this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    NotYet,
}

/// One round for `sub`: answers how many journal rows it took.
async fn round(stream: &Sender, sub: &Subscriber, st: &mut TaskState) -> Result<usize, Stop> {
    let s = &stream.0.settings;
    let engine = &stream.0.engine;
    if let Some(r) = sub.replay {
        if r.token != st.cursor.replay_token {
            st.cursor.position = journal::key_at(r.from);
            st.cursor.replay_token = r.token;
            st.done.clear();
        }
    }
    let now = engine.now();
    let position_at = journal::parse_key(&st.cursor.position)
        .map(|(at, _)| at)
        .unwrap_or(Millis(0));
    let from = Millis(position_at.0.saturating_sub(s.overlap_ms as i64));
    let rows = match read_rows(engine, from, now, &st.done, s.page).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(subscriber = %sub.id, error = %e, "event stream: reading the journal failed");
            return Ok(0);
        }
    };
    if rows.is_empty() {
        // A quiet journal: the cursor follows the clock (less the overlap), so the
        // next reads do not walk every hour since the last event.
        let quiet = Millis(now.0.saturating_sub(s.overlap_ms as i64));
        if quiet.0 - position_at.0 > journal::HOUR_MS {
            st.cursor.position = journal::key_at(quiet);
            st.done.clear();
            st.cursor.recent.clear();
            save_cursor(engine, &sub.id, &st.cursor).await;
        }
        return Ok(0);
    }
    let taken = rows.len();
    // The events, read a few at a time, in row order.
    let wanted: Vec<(crate::domain::CustomerId, EventId, bool)> = rows
        .iter()
        .map(|r| (r.entry.customer, r.id, sub.wants(&r.entry.stream_type)))
        .collect();
    let read: Vec<Result<Option<TimelineEvent>, crate::store::StoreError>> =
        futures_util::stream::iter(wanted)
            .map(|(customer, id, want)| {
                let stream = stream.clone();
                async move {
                    if !want {
                        return Ok(None);
                    }
                    stream.read_event(customer, id).await
                }
            })
            .buffered(16)
            .collect()
            .await;
    let mut events: Vec<Option<TimelineEvent>> = Vec::with_capacity(read.len());
    for r in read {
        match r {
            Ok(e) => events.push(e),
            Err(e) => {
                tracing::warn!(subscriber = %sub.id, error = %e, "event stream: reading events failed");
                return Ok(0);
            }
        }
    }
    // Lanes by conversation (by customer for an event outside a conversation).
    let lanes = s.lanes.max(1);
    let mut by_lane: Vec<Vec<usize>> = vec![Vec::new(); lanes];
    let mut outcome = vec![Outcome::Done; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        if !sub.wants(&r.entry.stream_type) {
            continue;
        }
        let bytes = match r.entry.conversation {
            Some(c) => *c.as_bytes(),
            None => *r.entry.customer.as_bytes(),
        };
        let lane =
            (u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) % lanes as u64) as usize;
        by_lane[lane].push(i);
    }
    let stats = Mutex::new(Tally::default());
    let results = futures_util::future::join_all(
        by_lane
            .iter()
            .map(|lane| run_lane(stream, sub, lane, &rows, &events, now, &stats)),
    )
    .await;
    let mut stop = None;
    for (lane, result) in by_lane.iter().zip(results) {
        match result {
            Ok(not_yet_from) => {
                if let Some(k) = not_yet_from {
                    for &i in &lane[k..] {
                        outcome[i] = Outcome::NotYet;
                    }
                }
            }
            Err(e) => {
                for &i in lane {
                    outcome[i] = Outcome::NotYet;
                }
                stop = Some(e);
            }
        }
    }
    if let Some(Stop::NotOurs) = stop {
        return Err(Stop::NotOurs);
    }
    // The cursor moves over every row done, up to the first one not done.
    let mut moved = false;
    let mut blocked = false;
    for (r, o) in rows.iter().zip(&outcome) {
        if *o == Outcome::Done {
            st.done.insert(r.key.clone());
            if !blocked && r.key > st.cursor.position {
                st.cursor.position = r.key.clone();
                moved = true;
            }
        } else {
            blocked = true;
        }
    }
    let tally = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    st.cursor.delivered += tally.delivered;
    st.cursor.dead += tally.dead;
    if let Some((at, e)) = tally.last_error {
        // Nothing is being retried any more: every failure of the round ended.
        let status = model::Status {
            last_error: Some(e),
            last_error_at: Some(at),
            retrying: None,
        };
        save_status(engine, &sub.id, &status).await;
    }
    if let Some(at) = tally.last_success {
        st.cursor.last_success_at = Some(at);
    }
    let position_at = journal::parse_key(&st.cursor.position)
        .map(|(at, _)| at)
        .unwrap_or(Millis(0));
    let keep_from = journal::key_at(Millis(position_at.0.saturating_sub(s.overlap_ms as i64)));
    st.done = st.done.split_off(&keep_from);
    st.cursor.recent = st
        .done
        .iter()
        .rev()
        .take(model::RECENT_MAX)
        .rev()
        .cloned()
        .collect();
    if moved || tally.delivered > 0 || tally.dead > 0 || tally.failed > 0 {
        save_cursor(engine, &sub.id, &st.cursor).await;
    }
    match stop {
        Some(e) => Err(e),
        None => Ok(taken),
    }
}

/// What one round's lanes did.
#[derive(Default)]
struct Tally {
    delivered: u64,
    dead: u64,
    failed: u64,
    last_error: Option<(Millis, String)>,
    last_success: Option<Millis>,
    /// When this round's first failure happened.
    failing_since: Option<Millis>,
}

/// Delivers the rows `lane` (indexes into `rows`) in order. `Ok(Some(k))`: the rows
/// from the lane's `k`th on are not done (an event not readable yet).
async fn run_lane(
    stream: &Sender,
    sub: &Subscriber,
    lane: &[usize],
    rows: &[Row],
    events: &[Option<TimelineEvent>],
    now: Millis,
    stats: &Mutex<Tally>,
) -> Result<Option<usize>, Stop> {
    let s = &stream.0.settings;
    for (k, &i) in lane.iter().enumerate() {
        let row = &rows[i];
        let Some(event) = &events[i] else {
            if now.0.saturating_sub(row.at.0) < s.missing_grace_ms as i64 {
                return Ok(Some(k));
            }
            count("skipped");
            continue;
        };
        deliver(stream, sub, row, event, stats).await?;
    }
    Ok(None)
}

/// Delivers one event, retrying until it is delivered or dead.
async fn deliver(
    stream: &Sender,
    sub: &Subscriber,
    row: &Row,
    event: &TimelineEvent,
    stats: &Mutex<Tally>,
) -> Result<(), Stop> {
    let s = &stream.0.settings;
    let engine = &stream.0.engine;
    let started = Instant::now();
    let mut current = sub.clone();
    let mut attempts: u32 = 0;
    let mut refusals: u32 = 0;
    let mut drain = engine.drain_signal();
    loop {
        if *drain.borrow() || !engine.runs(Singleton::EventStream) {
            return Err(Stop::NotOurs);
        }
        if attempts > 0 {
            // A person may have fixed the URL, rotated the secret, paused or deleted
            // the subscriber meanwhile.
            match read_subscriber(engine, &sub.id).await {
                Ok(Some(fresh)) if fresh.active => current = fresh,
                Ok(_) => return Err(Stop::Gone),
                Err(_) => {}
            }
        }
        attempts += 1;
        let body = model::body_of(&current.id, &row.entry.stream_type, event);
        match stream
            .send(&current, &row.entry.stream_type, row.id, &body, attempts)
            .await
        {
            Ok(()) => {
                count("delivered");
                let mut t = stats.lock().unwrap_or_else(|p| p.into_inner());
                t.delivered += 1;
                t.last_success = Some(engine.now());
                return Ok(());
            }
            Err(Failure { text: e, refused }) => {
                count("failed");
                if refused {
                    refusals += 1;
                }
                tracing::info!(subscriber = %current.id, event = %row.id, attempt = attempts, error = %e, "event stream: delivery failed");
                let now = engine.now();
                let since = {
                    let mut t = stats.lock().unwrap_or_else(|p| p.into_inner());
                    t.failed += 1;
                    t.last_error = Some((now, e.clone()));
                    *t.failing_since.get_or_insert(now)
                };
                // Said at once, then at each doubling of the attempts: a receiver down
                // for long shows it without a write per retry.
                if attempts.is_power_of_two() {
                    let status = model::Status {
                        last_error: Some(e.clone()),
                        last_error_at: Some(now),
                        retrying: Some(model::Retrying {
                            event_id: row.id,
                            attempts,
                            since,
                        }),
                    };
                    save_status(engine, &current.id, &status).await;
                }
                // A receiver that is down holds the stream back (until `dead_after_ms`);
                // one that keeps refusing this event must not hold back the others.
                if started.elapsed() >= Duration::from_millis(s.dead_after_ms)
                    || refusals >= s.max_refusals
                {
                    bury(stream, &current, row, attempts, e).await;
                    count("dead");
                    stats.lock().unwrap_or_else(|p| p.into_inner()).dead += 1;
                    return Ok(());
                }
                let wait = backoff(s, attempts);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = drain.changed() => {}
                }
            }
        }
    }
}

/// The delay after the `attempt`th failure: doubling from `retry_first_ms`, at most
/// `retry_max_ms`, plus up to a quarter more at random (receivers coming back are not
/// hit by every sender at once).
fn backoff(s: &StreamSettings, attempt: u32) -> Duration {
    let base = s
        .retry_first_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(s.retry_max_ms);
    let jitter = (u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * base / 4) / 255;
    Duration::from_millis(base + jitter)
}

/// Stores a dead letter for `row` (dropping the oldest past `max_dead_letters`).
async fn bury(stream: &Sender, sub: &Subscriber, row: &Row, attempts: u32, error: String) {
    let engine = &stream.0.engine;
    let dead = DeadLetter {
        event_id: row.id,
        key: row.key.clone(),
        stream_type: row.entry.stream_type.clone(),
        customer_id: row.entry.customer,
        conversation_id: row.entry.conversation,
        attempts,
        last_error: error,
        dead_at: engine.now(),
    };
    let Ok(bytes) = serde_json::to_vec(&dead) else {
        return;
    };
    let mut records = vec![RecordWrite::put(
        model::DEAD_KIND,
        model::dead_key(&sub.id, &row.key),
        bytes,
    )];
    let max = stream.0.settings.max_dead_letters;
    if let Ok(existing) = dead_letters(engine, &sub.id, None, max + 1).await {
        if existing.len() >= max {
            for (k, _) in existing.iter().take(existing.len() + 1 - max) {
                records.push(RecordWrite::delete(
                    model::DEAD_KIND,
                    model::dead_key(&sub.id, k),
                ));
            }
        }
    }
    let batch = Batch {
        records,
        ..Default::default()
    };
    if let Err(e) = engine.store.commit(batch).await {
        tracing::error!(subscriber = %sub.id, event = %row.id, error = %e, "event stream: storing a dead letter failed");
    }
}

/// Up to `limit` of `subscriber`'s dead letters as (journal key, letter), oldest
/// first, after journal key `after`.
pub async fn dead_letters(
    engine: &Engine,
    subscriber: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, DeadLetter)>, crate::store::StoreError> {
    let prefix = format!("{subscriber}/");
    let start = match after {
        Some(a) => model::dead_key(subscriber, a),
        None => prefix.clone(),
    };
    // `/` + 1 is `0`: every key of this subscriber sorts before `{subscriber}0`.
    let end = format!("{subscriber}0");
    let rows = engine
        .store
        .records_through(model::DEAD_KIND, Some(&start), &end, limit)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(&prefix)?.to_owned();
            Some((key, serde_json::from_slice(&v).ok()?))
        })
        .collect())
}

async fn save_cursor(engine: &Engine, id: &str, cursor: &Cursor) {
    let Ok(bytes) = serde_json::to_vec(cursor) else {
        return;
    };
    let batch = Batch {
        records: vec![RecordWrite::put(model::CURSOR_KIND, id, bytes)],
        ..Default::default()
    };
    if let Err(e) = engine.store.commit(batch).await {
        tracing::warn!(subscriber = %id, error = %e, "event stream: storing the cursor failed");
    }
}

async fn save_status(engine: &Engine, id: &str, status: &model::Status) {
    let Ok(bytes) = serde_json::to_vec(status) else {
        return;
    };
    let batch = Batch {
        records: vec![RecordWrite::put(model::STATUS_KIND, id, bytes)],
        ..Default::default()
    };
    if let Err(e) = engine.store.commit(batch).await {
        tracing::warn!(subscriber = %id, error = %e, "event stream: storing the status failed");
    }
}

/// The last error of `sub`, for the status route.
pub async fn status_of(
    engine: &Engine,
    sub: &Subscriber,
) -> Result<model::Status, crate::store::StoreError> {
    Ok(engine
        .store
        .record(model::STATUS_KIND, &sub.id)
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default())
}

/// Up to `page` journal rows with keys from `from` up to `now`'s hour, not in `done`,
/// in key order.
async fn read_rows(
    engine: &Engine,
    from: Millis,
    now: Millis,
    done: &BTreeSet<String>,
    page: usize,
) -> Result<Vec<Row>, crate::store::StoreError> {
    let mut out = Vec::new();
    let first = journal::key_at(from);
    for hour in journal::hour_of(from)..=journal::hour_of(now).max(journal::hour_of(from)) {
        let kind = journal::kind_of(hour);
        // Keys are strictly after `after`: the first hour starts at `from`.
        let mut after: Option<String> = (hour == journal::hour_of(from)).then(|| first.clone());
        loop {
            let chunk = engine
                .store
                .records(&kind, after.as_deref(), page.max(64))
                .await?;
            let n = chunk.len();
            for (key, value) in chunk {
                after = Some(key.clone());
                if key < first || done.contains(&key) {
                    continue;
                }
                let (Some((at, id)), Ok(entry)) = (
                    journal::parse_key(&key),
                    serde_json::from_slice::<Entry>(&value),
                ) else {
                    continue;
                };
                out.push(Row { key, at, id, entry });
                if out.len() >= page {
                    return Ok(out);
                }
            }
            if n < page.max(64) {
                break;
            }
        }
    }
    Ok(out)
}

/// Deletes the journal hours older than `stream.journal_hours` (at most 10,000 rows a
/// pass; the rest next time).
async fn prune(stream: &Sender) {
    let engine = &stream.0.engine;
    let keep = stream.0.settings.journal_hours as i64;
    let target = journal::hour_of(engine.now()) - keep;
    let state = engine.store.record(model::STATE_KIND, "pruned").await;
    let pruned: i64 = match state {
        Ok(Some(b)) => String::from_utf8_lossy(&b).parse().unwrap_or(target),
        // First run: the journal starts now, nothing older exists.
        Ok(None) => {
            save_pruned(engine, target).await;
            return;
        }
        Err(_) => return,
    };
    let mut budget = 10_000usize;
    let mut hour = pruned + 1;
    while hour <= target && budget > 0 {
        let kind = journal::kind_of(hour);
        match engine.store.records(&kind, None, 500).await {
            Ok(rows) if rows.is_empty() => {
                save_pruned(engine, hour).await;
                hour += 1;
            }
            Ok(rows) => {
                budget = budget.saturating_sub(rows.len());
                let batch = Batch {
                    records: rows
                        .into_iter()
                        .map(|(k, _)| RecordWrite::delete(&kind, k))
                        .collect(),
                    ..Default::default()
                };
                if engine.store.commit(batch).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

async fn save_pruned(engine: &Engine, hour: i64) {
    let batch = Batch {
        records: vec![RecordWrite::put(
            model::STATE_KIND,
            "pruned",
            hour.to_string().into_bytes(),
        )],
        ..Default::default()
    };
    let _ = engine.store.commit(batch).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_ceiling_with_a_little_jitter() {
        let s = StreamSettings {
            retry_first_ms: 100,
            retry_max_ms: 1_000,
            ..StreamSettings::default()
        };
        for (attempt, base) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1_000),
            (40, 1_000),
        ] {
            let d = backoff(&s, attempt).as_millis() as u64;
            assert!((base..=base + base / 4).contains(&d), "{attempt}: {d}");
        }
    }
}
