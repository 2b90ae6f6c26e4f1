//! Node-to-node messages (docs/cluster.md, "Node-to-node messages"): [`Peers`] sends a
//! message to whoever owns a key and answers what other nodes send this one, by the
//! cluster core's rules ([`cluster::envelope`]).
//!
//! Sending ([`Peers::send`]): a key this node owns is handled here, with no wire.
//! Otherwise the message goes to the holder the ownership loop last read, in an
//! [`Envelope`] carrying the holder's epoch and a deadline:
//! - **bounded:** at most `queue` envelopes wait per peer; one more is refused at once
//!   ([`SendError::Overloaded`]) — a slow peer never grows this node's memory;
//! - **batched, ordered per key, in lanes:** the envelopes for one peer go by their
//!   key's hash into one of `lanes` queues; a worker per lane sends up to `batch`
//!   envelopes per request with one request in flight, so what this node sends one
//!   key arrives in the order sent (and a receiver starts its handlers in envelope
//!   order). A receiver answers a batch once every envelope of it is handled, so a
//!   slow handler (an actor loading after a takeover) holds up its own lane only, not
//!   every message to that peer. A singleton's key (`singleton/…`: the live hub, fed
//!   by every node) takes a lane of its own, so its traffic — dropped when that lane
//!   is full — never fills the lane of an actor's messages (a burst of openings filled
//!   the hub's shared lane and refused assignments that hashed to it);
//! - **deadlines:** the caller waits until its timeout and no longer; an envelope past
//!   its deadline is not sent, and a receiver does not act on one that arrives late
//!   (deadlines are wall-clock: nodes' clocks within the skew bound move them by at
//!   most that);
//! - **moved:** a receiver that does not own the key names the owner it knows, and the
//!   message follows, at most `hops` times.
//!
//! An error other than [`SendError::Refused`] leaves the outcome unknown (the request
//! may have been acted on before its answer was lost): messages carry ids the receiver
//! deduplicates by, as every door of the engine does.
//!
//! Receiving ([`Peers::receive`]): each envelope is admitted or answered `moved` /
//! `expired`, and admitted ones go to the handler registered for their kind
//! ([`Peers::handle`]).
//!
//! Typed messages ([`Wire`]): a plain serde type names its kind and its reply type;
//! [`Peers::ask`] sends one and reads the reply, [`Peers::serve`] registers its
//! handler, and a body that is not the kind's type is refused (`bad_body`) before the
//! handler runs. [`Ping`] is the one every member answers. The wire (HTTP between nodes, authenticated by the cluster
//! secret) is the server's [`Transport`]; this module names none.

use crate::ownership::Driver;
use cluster::envelope::{admit, route, Admit, Answer, Envelope, Owner, Route};
use cluster::NodeId;
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The prefix of a singleton's key (`cluster::shard::OwnerKey::Singleton`): each takes
/// a peer lane of its own ([`Peers::lane_of`]).
const SINGLETON: &str = "singleton/";
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Bounds of the node-to-node queues (`[cluster]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerConfig {
    /// Envelopes waiting per peer and lane, beyond the batch in flight.
    pub queue: usize,
    /// Queues (each with its worker and one request in flight) per peer; a key's
    /// envelopes always take the same one.
    pub lanes: usize,
    /// Envelopes per request.
    pub batch: usize,
    /// `moved` answers followed per message.
    pub hops: u32,
    /// A peer's queue and worker stop after this long with nothing to send (the next
    /// message starts them again), so the peers a node once talked to — earlier runs
    /// of nodes on other addresses — are not kept for ever.
    pub idle: Duration,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            queue: 1024,
            lanes: 8,
            batch: 64,
            hops: 2,
            idle: Duration::from_secs(60),
        }
    }
}

/// Carries batches of envelopes to other nodes.
pub trait Transport: Send + Sync + 'static {
    /// Sends `batch` to the node at `address` and returns its answers (one per
    /// envelope, in any order), waiting at most `timeout`. An error means nothing is
    /// known about what arrived.
    fn deliver(
        &self,
        address: &str,
        batch: Vec<Envelope>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Answer>, Undelivered>>;
}

/// Why a batch got no answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub why: String,
    /// The peer's host refused the connection: nothing listens at the address (the
    /// process is not running, or not serving yet). Not a partition: the host answered.
    pub refused: bool,
}

/// Why a handler did nothing: a typed code and a message for the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

/// Takes the key and the body of an admitted envelope.
pub type Handler =
    Arc<dyn Fn(String, Value) -> BoxFuture<'static, Result<Value, Refusal>> + Send + Sync>;

/// A node-to-node message: a plain serde type, the name of its handler, and the type
/// of its reply. Keyed by the ids inside it, never by a process-local address.
pub trait Wire: Serialize + DeserializeOwned + Send + 'static {
    /// The kind its envelopes carry (one handler per kind on every node).
    const KIND: &'static str;
    type Reply: Serialize + DeserializeOwned + Send + 'static;
}

/// Asks a member (on its membership key, `node/<name>`) whether it answers, and what
/// its wall clock reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {}

/// A member's answer to [`Ping`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub name: String,
    pub incarnation: u64,
    /// Its wall clock (milliseconds since the epoch) as it answered.
    pub wall_ms: u64,
}

impl Wire for Ping {
    const KIND: &'static str = "ping";
    type Reply = Pong;
}

/// Why a message got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("nobody owns {key} now (a takeover may be under way)")]
    Unowned { key: String },
    #[error("too many messages waiting for {peer}")]
    Overloaded { peer: String },
    #[error("{peer} did not answer: {why}")]
    Unreachable {
        peer: String,
        why: String,
        /// Nothing listens at the peer's address ([`Undelivered::refused`]).
        refused: bool,
    },
    #[error("no reply for {key} within its deadline")]
    Timeout { key: String },
    #[error("refused ({code}): {message}")]
    Refused { code: String, message: String },
    #[error("{key} moved more than {hops} times")]
    TooManyHops { key: String, hops: u32 },
    /// Acted on, but the reply is not the kind's reply type (two builds disagree).
    #[error("the reply to {kind} could not be read: {why}")]
    BadReply { kind: String, why: String },
}

struct Pending {
    envelope: Envelope,
    reply: oneshot::Sender<Result<Answer, SendError>>,
}

/// This node's end of the node-to-node messages.
pub struct Peers {
    driver: Arc<Driver>,
    transport: Arc<dyn Transport>,
    config: PeerConfig,
    handlers: DashMap<String, Handler>,
    /// One queue (and worker) per lane of each peer address it sent to within
    /// `config.idle`, by `address#lane`.
    queues: Arc<DashMap<String, mpsc::Sender<Pending>>>,
    /// When each peer address last answered a request (any request).
    answered: Arc<DashMap<String, std::time::Instant>>,
    next_id: AtomicU64,
}

impl Peers {
    pub fn new(driver: Arc<Driver>, transport: Arc<dyn Transport>, config: PeerConfig) -> Self {
        crate::metrics::peer_messages_init();
        Self {
            driver,
            transport,
            config: PeerConfig {
                queue: config.queue.max(1),
                lanes: config.lanes.max(1),
                batch: config.batch.max(1),
                hops: config.hops,
                idle: config.idle.max(Duration::from_millis(1)),
            },
            handlers: DashMap::new(),
            queues: Arc::default(),
            answered: Arc::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// This run of this node.
    pub fn node(&self) -> &NodeId {
        self.driver.node()
    }

    /// Whether the peer at `address` answered a request of this node (any kind) within
    /// `window`: evidence that it is up and reachable, whatever a ping queued behind
    /// that traffic says.
    pub fn answered_within(&self, address: &str, window: Duration) -> bool {
        self.answered
            .get(address)
            .is_some_and(|at| at.elapsed() <= window)
    }

    /// This node's wall clock (milliseconds since the epoch), as envelope deadlines
    /// count it.
    pub fn wall_now(&self) -> u64 {
        self.driver.wall_now()
    }

    /// The bounds this node runs with.
    pub fn config(&self) -> PeerConfig {
        self.config
    }

    /// Registers the handler of `kind` (replacing any earlier one).
    pub fn handle(&self, kind: &str, handler: Handler) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    /// Registers the handler of the typed message `M`: it gets the key and the decoded
    /// message; a body that does not decode is refused `bad_body` without calling it.
    pub fn serve<M, F, Fut>(&self, handler: F)
    where
        M: Wire,
        F: Fn(String, M) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<M::Reply, Refusal>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.handle(
            M::KIND,
            Arc::new(move |key, body| {
                let decoded = serde_json::from_value::<M>(body).map_err(|e| Refusal {
                    code: "bad_body".into(),
                    message: format!("not a {} message: {e}", M::KIND),
                });
                let handler = handler.clone();
                Box::pin(async move {
                    let reply = handler(key, decoded?).await?;
                    serde_json::to_value(reply).map_err(|e| Refusal {
                        code: "bad_reply".into(),
                        message: format!("the reply to {} did not encode: {e}", M::KIND),
                    })
                })
            }),
        );
    }

    /// Sends the typed `message` to the owner of `key` ([`Peers::send`]) and reads its
    /// reply.
    pub async fn ask<M: Wire>(
        &self,
        key: &str,
        message: &M,
        timeout: Duration,
    ) -> Result<M::Reply, SendError> {
        let reply = self.send(key, M::KIND, encode(message)?, timeout).await?;
        decode::<M>(reply)
    }

    /// [`Peers::ask`] where the caller last saw the key ([`Peers::send_to`]).
    pub async fn ask_at<M: Wire>(
        &self,
        owner: Owner,
        key: &str,
        message: &M,
        timeout: Duration,
    ) -> Result<M::Reply, SendError> {
        let reply = self
            .send_to(owner, key, M::KIND, encode(message)?, timeout)
            .await?;
        decode::<M>(reply)
    }

    /// Sends `body` to the owner of `key` and waits up to `timeout` for its reply.
    pub async fn send(
        &self,
        key: &str,
        kind: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Value, SendError> {
        let target = route(self.node(), self.driver.owns(key), self.driver.owner(key));
        self.follow(target, key, kind, body, timeout).await
    }

    /// Sends `body` for `key` to `owner` (where the caller last saw the key), following
    /// `moved` answers as [`Peers::send`] does.
    pub async fn send_to(
        &self,
        owner: Owner,
        key: &str,
        kind: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Value, SendError> {
        self.follow(Route::Peer(owner), key, kind, body, timeout)
            .await
    }

    async fn follow(
        &self,
        mut target: Route,
        key: &str,
        kind: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Value, SendError> {
        let until = tokio::time::Instant::now() + timeout;
        let deadline = self.driver.wall_now() + timeout.as_millis() as u64;
        let outcome = async {
            for _ in 0..=self.config.hops {
                let owner = match target {
                    Route::Local(_) => {
                        crate::metrics::peer_message("local");
                        return self.local(key, kind, body).await;
                    }
                    Route::Unowned => return Err(SendError::Unowned { key: key.into() }),
                    Route::Peer(owner) => owner,
                };
                let envelope = Envelope {
                    id: self.next_id.fetch_add(1, Ordering::Relaxed),
                    from: self.node().clone(),
                    key: key.to_owned(),
                    epoch: owner.epoch,
                    deadline,
                    kind: kind.to_owned(),
                    body: body.clone(),
                };
                let answer = self.enqueue(&owner.address, envelope).await?;
                crate::metrics::peer_message(outcome_of(&answer));
                target = match answer {
                    Answer::Done { body, .. } => return Ok(body),
                    Answer::Refused { code, message, .. } => {
                        return Err(SendError::Refused { code, message })
                    }
                    Answer::Expired { .. } => return Err(SendError::Timeout { key: key.into() }),
                    Answer::Moved {
                        owner: Some(next), ..
                    } if next.node == *self.node() => {
                        route(self.node(), self.driver.owns(key), None)
                    }
                    Answer::Moved {
                        owner: Some(next), ..
                    } => Route::Peer(next),
                    // The receiver does not know: this node's own rows may.
                    Answer::Moved { owner: None, .. } => {
                        match route(self.node(), self.driver.owns(key), self.driver.owner(key)) {
                            Route::Peer(fresh) if fresh == owner => Route::Unowned,
                            other => other,
                        }
                    }
                };
            }
            Err(SendError::TooManyHops {
                key: key.into(),
                hops: self.config.hops,
            })
        };
        match tokio::time::timeout_at(until, outcome).await {
            Ok(done) => done,
            Err(_) => {
                crate::metrics::peer_message("timeout");
                Err(SendError::Timeout { key: key.into() })
            }
        }
    }

    async fn local(&self, key: &str, kind: &str, body: Value) -> Result<Value, SendError> {
        let handler = self.handlers.get(kind).map(|h| h.value().clone());
        match handler {
            Some(h) => h(key.to_owned(), body)
                .await
                .map_err(|r| SendError::Refused {
                    code: r.code,
                    message: r.message,
                }),
            None => Err(no_handler(kind)),
        }
    }

    /// The lane of the peer queues `key`'s envelopes take: one of `lanes` by the key's
    /// hash, or, for a singleton's key, a lane of its own named by the key.
    pub fn lane_of(key: &str, lanes: usize) -> String {
        if key.starts_with(SINGLETON) {
            return key.to_owned();
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % lanes.max(1) as u64).to_string()
    }

    /// Queues `envelope` for the peer at `address`, in its key's lane (refused at once
    /// when that queue is full), and waits for its answer.
    async fn enqueue(&self, address: &str, envelope: Envelope) -> Result<Answer, SendError> {
        let lane = format!(
            "{address}#{}",
            Self::lane_of(&envelope.key, self.config.lanes)
        );
        let (reply, answer) = oneshot::channel();
        let mut pending = Pending { envelope, reply };
        // A worker lives on the runtime of the first sender to that peer; if that
        // runtime ended (a server's worker thread stopped), its queue is closed: start
        // another, once.
        for attempt in 0..2 {
            let queue = self
                .queues
                .entry(lane.clone())
                .or_insert_with(|| self.start_worker(address, &lane))
                .clone();
            match queue.try_send(pending) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    crate::metrics::peer_message("overloaded");
                    return Err(SendError::Overloaded {
                        peer: address.into(),
                    });
                }
                Err(mpsc::error::TrySendError::Closed(p)) => {
                    self.queues.remove_if(&lane, |_, q| q.same_channel(&queue));
                    if attempt == 1 {
                        return Err(SendError::Unreachable {
                            peer: address.into(),
                            why: "its queue closed".into(),
                            refused: false,
                        });
                    }
                    pending = p;
                }
            }
        }
        answer.await.unwrap_or_else(|_| {
            Err(SendError::Unreachable {
                peer: address.into(),
                why: "dropped".into(),
                refused: false,
            })
        })
    }

    fn start_worker(&self, address: &str, lane: &str) -> mpsc::Sender<Pending> {
        let (tx, rx) = mpsc::channel(self.config.queue);
        tokio::spawn(worker(
            address.to_owned(),
            lane.to_owned(),
            rx,
            self.transport.clone(),
            self.driver.clone(),
            self.config,
            Worked {
                answered: self.answered.clone(),
                queues: self.queues.clone(),
            },
        ));
        tx
    }

    /// Peer lanes with a queue and worker now (see [`PeerConfig::idle`]).
    pub fn workers(&self) -> usize {
        self.queues.len()
    }

    /// Answers a batch that arrived from another node: one answer per envelope.
    /// Handlers start in envelope order (each runs up to its first wait before the
    /// next starts) and run concurrently from there.
    pub async fn receive(&self, batch: Vec<Envelope>) -> Vec<Answer> {
        let now = self.driver.wall_now();
        let work = batch.into_iter().map(|env| {
            let verdict = admit(
                &env,
                self.node(),
                self.driver.owns(&env.key),
                self.driver.owner(&env.key),
                now,
            );
            let handler = self.handlers.get(&env.kind).map(|h| h.value().clone());
            async move {
                let id = env.id;
                let answer = match verdict {
                    Admit::Expired => Answer::Expired { id },
                    Admit::Moved(owner) => Answer::Moved { id, owner },
                    Admit::Deliver => match handler {
                        None => {
                            let r = no_handler(&env.kind);
                            refused(id, "unknown_kind", r.to_string())
                        }
                        Some(h) => match h(env.key, env.body).await {
                            Ok(body) => Answer::Done { id, body },
                            Err(r) => refused(id, &r.code, r.message),
                        },
                    },
                };
                crate::metrics::peer_received(outcome_of(&answer));
                answer
            }
        });
        futures_util::future::join_all(work).await
    }
}

fn refused(id: u64, code: &str, message: String) -> Answer {
    Answer::Refused {
        id,
        code: code.to_owned(),
        message,
    }
}

fn no_handler(kind: &str) -> SendError {
    SendError::Refused {
        code: "unknown_kind".into(),
        message: format!("no handler for {kind:?} on this node"),
    }
}

fn encode<M: Wire>(message: &M) -> Result<Value, SendError> {
    serde_json::to_value(message).map_err(|e| SendError::Refused {
        code: "bad_body".into(),
        message: format!("a {} message did not encode: {e}", M::KIND),
    })
}

fn decode<M: Wire>(reply: Value) -> Result<M::Reply, SendError> {
    serde_json::from_value(reply).map_err(|e| SendError::BadReply {
        kind: M::KIND.into(),
        why: e.to_string(),
    })
}

fn outcome_of(a: &Answer) -> &'static str {
    match a {
        Answer::Done { .. } => "done",
        Answer::Refused { .. } => "refused",
        Answer::Moved { .. } => "moved",
        Answer::Expired { .. } => "expired",
    }
}

/// How much longer than its envelopes' latest deadline a request may take.
const REQUEST_GRACE: Duration = Duration::from_millis(50);

/// How often a lane whose requests keep failing says so in the log: its first failure
/// at once, then at most one line per this interval, with how many failed meanwhile
/// unlogged (`switchboard_peer_messages_total{outcome="unreachable"}` counts each). A
/// dead peer otherwise filled a kill -9 run's log with ~1,200 lines of the same error.
pub const FAILURE_LOG_EVERY: Duration = Duration::from_secs(5);

/// A lane's failed requests, for the log ([`FAILURE_LOG_EVERY`]).
#[derive(Debug, Default)]
struct Failures {
    /// Failed in a row, since the peer last answered.
    in_a_row: u64,
    /// Failed since the last line logged, not logged.
    unlogged: u64,
    logged_at: Option<std::time::Instant>,
}

impl Failures {
    /// A request failed at `now`: `Some(unlogged before it)` when this one is to be
    /// logged.
    fn failed(&mut self, now: std::time::Instant) -> Option<u64> {
        self.in_a_row += 1;
        match self.logged_at {
            Some(at) if now.saturating_duration_since(at) < FAILURE_LOG_EVERY => {
                self.unlogged += 1;
                None
            }
            _ => {
                self.logged_at = Some(now);
                Some(std::mem::take(&mut self.unlogged))
            }
        }
    }

    /// The peer answered: `Some(failed in a row before)` after a failure.
    fn answered(&mut self) -> Option<u64> {
        let n = std::mem::take(self).in_a_row;
        (n > 0).then_some(n)
    }
}

/// The maps a worker updates: when its peer answered, and the queues (it removes its
/// own when it stops idle).
struct Worked {
    answered: Arc<DashMap<String, std::time::Instant>>,
    queues: Arc<DashMap<String, mpsc::Sender<Pending>>>,
}

/// Sends what waits in one lane of one peer, a batch at a time, until every sender is gone or
/// nothing came for `config.idle`.
async fn worker(
    address: String,
    lane: String,
    mut queue: mpsc::Receiver<Pending>,
    transport: Arc<dyn Transport>,
    driver: Arc<Driver>,
    config: PeerConfig,
    worked: Worked,
) {
    let Worked { answered, queues } = worked;
    let mut failures = Failures::default();
    loop {
        let first = match tokio::time::timeout(config.idle, queue.recv()).await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(_) => {
                // Idle: no new envelope gets in (a sender sees the queue closed and
                // starts a new worker); what got in before the close is still sent,
                // then `recv` ends the loop.
                queue.close();
                queues.remove_if(&lane, |_, q| q.is_closed());
                answered.remove_if(&address, |_, at| at.elapsed() >= config.idle);
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < config.batch {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        // What nobody waits for, or nobody may act on any more, is not sent.
        let now = driver.wall_now();
        batch.retain(|p| !p.reply.is_closed() && p.envelope.deadline >= now);
        let Some(last) = batch.iter().map(|p| p.envelope.deadline).max() else {
            continue;
        };
        // The request may take until the latest deadline, and a little more: a caller's
        // own timer (`Timeout`, typed) must fire before the request's (which would read
        // as the peer failing).
        let timeout = Duration::from_millis(last.saturating_sub(now).max(1)) + REQUEST_GRACE;
        let envelopes = batch.iter().map(|p| p.envelope.clone()).collect();
        let sent = std::time::Instant::now();
        let result = transport.deliver(&address, envelopes, timeout).await;
        crate::metrics::peer_request(&address, sent.elapsed(), queue.len());
        match result {
            Ok(answers) => {
                answered.insert(address.clone(), std::time::Instant::now());
                if let Some(n) = failures.answered() {
                    tracing::info!(peer = %address, lane = %lane, failed = n,
                        "node-to-node requests answered again");
                }
                let mut by_id: HashMap<u64, Answer> =
                    answers.into_iter().map(|a| (a.id(), a)).collect();
                for p in batch {
                    let answer =
                        by_id
                            .remove(&p.envelope.id)
                            .ok_or_else(|| SendError::Unreachable {
                                peer: address.clone(),
                                why: "no answer for this envelope".into(),
                                refused: false,
                            });
                    let _ = p.reply.send(answer);
                }
            }
            Err(Undelivered { why, refused }) => {
                crate::metrics::peer_message("unreachable");
                if let Some(unlogged) = failures.failed(std::time::Instant::now()) {
                    tracing::warn!(peer = %address, lane = %lane, error = %why,
                        failed_unlogged = unlogged, "node-to-node request failed");
                }
                for p in batch {
                    let _ = p.reply.send(Err(SendError::Unreachable {
                        peer: address.clone(),
                        why: why.clone(),
                        refused,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Failures, Peers, FAILURE_LOG_EVERY};
    use std::collections::BTreeSet;

    #[test]
    fn a_failing_lane_logs_once_per_interval() {
        let t0 = std::time::Instant::now();
        let mut f = Failures::default();
        assert_eq!(f.answered(), None, "nothing failed");
        assert_eq!(f.failed(t0), Some(0), "the first failure is logged");
        let soon = t0 + FAILURE_LOG_EVERY / 2;
        assert_eq!((f.failed(soon), f.failed(soon)), (None, None));
        // The next interval logs again, with the two left unlogged.
        assert_eq!(f.failed(t0 + FAILURE_LOG_EVERY), Some(2));
        assert_eq!(f.answered(), Some(4), "four failed in a row");
        // Answered: the next failure is logged at once.
        assert_eq!(f.failed(soon), Some(0));
    }

    #[test]
    fn a_singleton_has_a_lane_of_its_own() {
        let lanes = 8;
        let hub = Peers::lane_of("singleton/hub", lanes);
        let shared: BTreeSet<String> = (0..256)
            .map(|i| Peers::lane_of(&format!("shard/{i}"), lanes))
            .chain(["queue/general", "queue/sales"].map(|q| Peers::lane_of(q, lanes)))
            .collect();
        assert!(shared.len() <= lanes, "{shared:?}");
        assert!(!shared.contains(&hub), "{hub} shared with {shared:?}");
        assert_ne!(Peers::lane_of("singleton/sweeper", lanes), hub);
        assert_eq!(
            Peers::lane_of("shard/7", lanes),
            Peers::lane_of("shard/7", lanes)
        );
    }
}
