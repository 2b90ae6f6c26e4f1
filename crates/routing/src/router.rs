//! `QueueRouter`: one queue's waiting conversations, its agent index and the routing
//! decision that pairs them.
//!
//! Owns the routing state of one queue (waiting lists per channel class, offered
//! conversations, agent snapshots, per-class agent indexes, the round-robin tick) and
//! every rule that reads or changes it. It must not do I/O, spawn or message actors,
//! read a clock (time comes in as `now: Millis`) or allocate per agent on a decision:
//! a decision walks ordered indexes from the front and never scans all agents.
//!
//! Cost: `decide` is O(log n + skipped) where "skipped" counts the conversations that
//! were checked and could not be placed (capped at [`MAX_SKIPS_PER_CLASS`] per class)
//! plus the free agents passed over because the conversation already tried them.
//! Conversations waiting for a requirement no free agent meets are not checked at
//! all: they wait in dead lanes (`lanes.rs`), which `decide` never walks. Transfers (a
//! `required_agent`) are never skipped: they are kept apart, indexed by their agent,
//! and a class's best placeable transfer is one `first()` away. The price is paid when
//! an agent joins or leaves a class index: O(k log n) for its k untried transfers.

use super::hash::FastState;
use super::keys::{StrategyKey, WaitKey};
use super::lanes::{Lane, Lanes};
use super::needs::{NeedId, NeedKey, Needs};
use super::trace::Trace;
use super::types::{AgentSnapshot, Decision, EnqueueError, Peek, WaitingEntry};
use super::widening::{describe, Ranking, Rings};
use domain::{
    held, meets, AgentId, ChannelClass, ConversationId, Millis, RoutingStrategy, SkillFloors,
    DIFFICULTY, MAX_DIFFICULTY,
};
use std::borrow::Cow;
use std::collections::{btree_set, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::iter::Peekable;

/// At most this many conversations of one class are skipped (could not be placed:
/// sticky wait for a busy preferred agent, or every free agent tried) in one `decide`
/// or `best_for` call, which bounds its latency whatever the queue holds. The price: a
/// placeable conversation ranked behind more than this many unplaceable ones of its
/// class is not found until some of those ahead become placeable (sticky waits end,
/// agents free up or join) or leave. Conversations waiting for skills no free agent
/// has do not count in `decide`: it never walks them (`lanes.rs`). Sticky waits are bounded in time
/// (`sticky_wait_ms`), and transfers to a named agent are not in the walked list at
/// all, so only an unusual pile-up (256+ returning customers all waiting for busy
/// agents, or conversations rejected by every agent on shift) can hit the cap.
pub const MAX_SKIPS_PER_CLASS: usize = 256;

/// A conversation whose ring requires nothing but ranks by skills is given the best
/// score among at most this many free agents at the front of the class index.
pub const RANK_WINDOW: usize = 64;

/// At most this many agents are looked at, in one `decide` and one class, by the
/// walks that check agents one by one (`Via::Scan`: a ring that only ranks, or a
/// requirement the full needs table could not index). A conversation that finds the
/// budget spent is skipped like a blocked one, which bounds a decision's latency
/// whatever the skill mix; the price is that it may be placed a call later.
pub const SCAN_BUDGET: usize = 1_024;

/// The router's hash maps (see `hash.rs` for why not SipHash).
type Map<K, V> = HashMap<K, V, FastState>;

/// Orders conversations by age for the oldest-wait gauge and for overflow:
/// (enqueued_at, seq, id).
type AgeKey = (Millis, u64, ConversationId);

/// One entry of a class index: the agent's strategy key, then its id (tie-breaker).
type IndexEntry = (StrategyKey, AgentId);

fn age_key(w: &WaitingEntry) -> AgeKey {
    (w.enqueued_at, w.seq, w.conversation)
}

/// What the router holds per agent.
#[derive(Debug, Clone)]
struct AgentSlot {
    /// The last snapshot pushed, patched locally by decisions until the next push.
    snap: AgentSnapshot,
    /// The strategy key the agent is indexed under (kept so its index entries can be
    /// found and removed without recomputing from a snapshot that has since changed).
    key: StrategyKey,
    /// Per class: whether the agent is in that class index right now
    /// (== `snap.routable(class)`; a cache that makes reindexing O(changed classes)).
    indexed: [bool; 4],
}

/// How the chosen agent was found; reported in the `"chosen"` trace step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The conversation's required agent.
    Required,
    /// The conversation's preferred (sticky) agent.
    Preferred,
    /// The first untried agent of the strategy index.
    Strategy,
    /// The agent pulled it (`take_for`).
    Pulled,
}

impl Route {
    fn as_str(self) -> &'static str {
        match self {
            Route::Required => "required_agent",
            Route::Preferred => "preferred_agent",
            Route::Strategy => "strategy",
            Route::Pulled => "pulled_by_agent",
        }
    }
}

/// How a conversation with its own required skills finds agents in one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Nothing left to meet or rank: the class index, like any conversation.
    Plain,
    /// Its need's index.
    Need(NeedId),
    /// Walk the front of the class index (at most [`MAX_SKIPS_PER_CLASS`] agents),
    /// checking each agent and taking the best score: for a ring that requires nothing
    /// but still ranks by skills, and when the needs table was full.
    Scan,
}

/// Where `place` puts a conversation: the agent, how it was found, and for a
/// conversation with its own skills its ring and the agent's score.
type Placed<'s> = (&'s AgentId, Route, Option<(usize, u32)>);

/// A conversation whose widening ring changed, reported by `QueueRouter::widen_due`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widened {
    /// The conversation.
    pub conversation: ConversationId,
    /// Its ring now (1 = the first step applied).
    pub ring: usize,
    /// How many rings the queue has after ring 0.
    pub of: usize,
    /// What it still requires, e.g. `billing>=3`, or `any agent`.
    pub requires: String,
}

/// The best placeable conversation of one class, found but not yet committed.
struct Candidate {
    /// The conversation's waiting key (to compare candidates across classes).
    key: WaitKey,
    /// The agent it would be offered to.
    agent: AgentId,
    /// How the agent was found.
    route: Route,
    /// Steps recorded while walking the class up to and including this conversation.
    trace: Trace,
    /// Where the winner's `"considered"` step goes in `trace`.
    mark: usize,
    /// How many better-ranked conversations of the class were checked and could not
    /// be placed (those in dead lanes, which are never walked, are not counted).
    blocked_ahead: usize,
    /// For a conversation with its own required skills: its ring and the chosen
    /// agent's proficiency score.
    ring: Option<(usize, u32)>,
}

/// The routing state and decision logic of one queue. See the module docs.
#[derive(Debug, Clone)]
pub struct QueueRouter {
    /// How agents are ordered in the class indexes.
    strategy: RoutingStrategy,
    /// `enqueue` refuses when waiting + offered reaches this.
    max_waiting: usize,
    /// Waiting conversations without a `required_agent`, per `ChannelClass::index()`,
    /// in routing order: what `decide` walks. The key carries the conversation id (see
    /// `WaitKey`), so this is the spec's `BTreeMap<Key, ConversationId>` with the value
    /// folded into the key.
    open: [BTreeSet<WaitKey>; 4],
    /// Waiting conversations with a `required_agent`, per class. Kept out of `open`
    /// so that a backlog of transfers to an absent agent never uses up the per-call
    /// skip budget of everyone else (see [`MAX_SKIPS_PER_CLASS`]).
    required: [BTreeSet<WaitKey>; 4],
    /// Per required agent, per class: its waiting transfers that it has not tried
    /// (one it tried can never be placed, so it is in `required` only).
    by_agent: Map<AgentId, [BTreeSet<WaitKey>; 4]>,
    /// Per class: the transfers of `by_agent` whose agent is in the class index right
    /// now, i.e. exactly the placeable ones; its first is the class's best transfer.
    placeable: [BTreeSet<WaitKey>; 4],
    /// The waiting entries themselves (waiting only, never offered ones).
    entries: Map<ConversationId, WaitingEntry>,
    /// Waiting conversations oldest first: overflow and the oldest-wait gauge.
    waiting_by_age: BTreeSet<AgeKey>,
    /// Conversations offered to an agent and not yet closed, with that agent. Their
    /// entry keeps its original key so a rejected offer goes back to the same rank.
    offered: Map<ConversationId, (WaitingEntry, AgentId)>,
    /// Offered conversations oldest first (the oldest-wait gauge counts them too).
    offered_by_age: BTreeSet<AgeKey>,
    /// Every agent pushed to this queue, routable or not.
    agents: Map<AgentId, AgentSlot>,
    /// Per class: exactly the agents with `available && free[class] > 0`, ordered by
    /// the strategy key, then id. Decisions walk these from the front.
    index: [BTreeSet<IndexEntry>; 4],
    /// Round-robin: the tick of the last time each agent was chosen. Kept across
    /// `remove_agent` so an agent that reconnects does not jump the rotation; bounded
    /// by the number of distinct agents serving this queue.
    rr_ticks: Map<AgentId, u64>,
    /// The next round-robin tick; starts at 1 so never-chosen agents (tick 0) go first.
    next_tick: u64,
    /// The queue's widening rings.
    rings: Rings,
    /// The queue's proficiency ranking.
    ranking: Ranking,
    /// Per-requirement agent indexes (see `needs.rs`).
    needs: Needs,
    /// Per waiting conversation with its own required skills: how each ring finds
    /// agents (index = ring).
    via: Map<ConversationId, Vec<Via>>,
    /// Ring openings still ahead of waiting conversations: (when, conversation, ring).
    widen_at: BTreeSet<(Millis, ConversationId, usize)>,
    /// The latest `now` the router was given (ring openings before it are not
    /// scheduled again when a conversation is requeued).
    seen_now: Millis,
    /// The open conversations grouped by the need they are routed on now, which
    /// `decide` walks (see `lanes.rs`).
    lanes: Lanes,
}

impl QueueRouter {
    /// An empty router.
    pub fn new(strategy: RoutingStrategy, max_waiting: usize) -> Self {
        QueueRouter {
            strategy,
            max_waiting,
            open: Default::default(),
            required: Default::default(),
            by_agent: Map::default(),
            placeable: Default::default(),
            entries: Map::default(),
            waiting_by_age: BTreeSet::new(),
            offered: Map::default(),
            offered_by_age: BTreeSet::new(),
            agents: Map::default(),
            index: Default::default(),
            rr_ticks: Map::default(),
            next_tick: 1,
            rings: Rings::default(),
            ranking: Ranking::default(),
            needs: Needs::default(),
            via: Map::default(),
            widen_at: BTreeSet::new(),
            seen_now: Millis(i64::MIN),
            lanes: Lanes::default(),
        }
    }

    /// Sets the widening rings and the proficiency ranking. On a change, every
    /// waiting conversation is filed again under the new rules (O(waiting log n +
    /// needs × agents)); offers out stay.
    pub fn set_rules(&mut self, rings: Rings, ranking: Ranking) {
        if rings == self.rings && ranking == self.ranking {
            return;
        }
        let ids: Vec<ConversationId> = self.entries.keys().copied().collect();
        let waiting: Vec<WaitingEntry> = ids.iter().filter_map(|c| self.take_waiting(c)).collect();
        self.needs.clear();
        self.rings = rings;
        self.ranking = ranking;
        for w in waiting {
            self.insert_waiting(w);
        }
    }

    /// Caps the per-requirement indexes (default [`NEEDS_MAX`](crate::NEEDS_MAX)): a
    /// conversation whose requirement finds the table full is routed by scanning the
    /// front of the class index instead. Takes effect for needs created from now on.
    pub fn set_needs_max(&mut self, n: usize) {
        self.needs.max = n;
    }

    /// The widening rings in force.
    pub fn rings(&self) -> &Rings {
        &self.rings
    }

    /// The proficiency ranking in force.
    pub fn ranking(&self) -> &Ranking {
        &self.ranking
    }

    /// Conversations whose next widening ring opened at or before `now`, each with the
    /// ring it is in now; the caller routes again when this is not empty.
    /// O(k log n) for k openings.
    pub fn widen_due(&mut self, now: Millis) -> Vec<Widened> {
        self.seen_now = self.seen_now.max(now);
        let mut out: Vec<Widened> = Vec::new();
        while let Some(&(at, c, ring)) = self.widen_at.first() {
            if at > now {
                break;
            }
            self.widen_at.pop_first();
            let Some(w) = self.entries.get(&c) else {
                continue;
            };
            let requires = describe(&self.rings.relax(&w.requirements, ring));
            match out.last_mut() {
                Some(last) if last.conversation == c && last.ring < ring => {
                    last.ring = ring;
                    last.requires = requires;
                }
                _ => out.push(Widened {
                    conversation: c,
                    ring,
                    of: self.rings.steps(),
                    requires,
                }),
            }
        }
        out
    }

    /// The strategy in force.
    pub fn strategy(&self) -> RoutingStrategy {
        self.strategy
    }

    /// The waiting limit in force.
    pub fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// Changes the strategy and re-sorts every class index (O(agents log agents)).
    pub fn set_strategy(&mut self, s: RoutingStrategy) {
        if s == self.strategy {
            return;
        }
        self.strategy = s;
        for slot in self.agents.values_mut() {
            let tick = self.rr_ticks.get(&slot.snap.id).copied().unwrap_or(0);
            let key = StrategyKey::of(s, &slot.snap, tick);
            // Routability does not change with the strategy: no transfer to sync.
            let _ = reindex(&mut self.index, slot, key);
            self.needs
                .update_agent((&slot.snap, slot.key, slot.indexed));
        }
        self.sync_lanes();
    }

    /// Changes the waiting limit. Conversations already queued stay.
    pub fn set_max_waiting(&mut self, n: usize) {
        self.max_waiting = n;
    }

    // ----- agents -----------------------------------------------------------------

    /// Inserts or replaces an agent's snapshot and updates the class indexes.
    pub fn upsert_agent(&mut self, a: AgentSnapshot) {
        let tick = self.rr_ticks.get(&a.id).copied().unwrap_or(0);
        let key = StrategyKey::of(self.strategy, &a, tick);
        let id = a.id.clone();
        let flips = if let Some(slot) = self.agents.get_mut(&a.id) {
            slot.snap = a;
            reindex(&mut self.index, slot, key)
        } else {
            let mut slot = AgentSlot {
                snap: a,
                key,
                indexed: [false; 4],
            };
            let flips = reindex(&mut self.index, &mut slot, key);
            self.agents.insert(id.clone(), slot);
            flips
        };
        self.sync_required(&id, flips);
        self.file_needs(&id);
    }

    /// Forgets an agent (logged out, gone, or known stale). Its conversations in
    /// `offered` stay until the caller closes or removes them.
    pub fn remove_agent(&mut self, id: &AgentId) {
        if let Some(mut slot) = self.agents.remove(id) {
            slot.snap.available = false;
            let key = slot.key;
            let flips = reindex(&mut self.index, &mut slot, key);
            self.sync_required(id, flips);
            self.needs.remove_agent(id);
            self.sync_lanes();
        }
    }

    /// Every agent known to the queue (any order).
    pub fn agents(&self) -> impl Iterator<Item = &AgentSnapshot> {
        self.agents.values().map(|s| &s.snap)
    }

    /// How many agents could take a conversation of `class` now.
    pub fn free_agents(&self, class: ChannelClass) -> usize {
        self.index[class.index()].len()
    }

    // ----- conversations ----------------------------------------------------------

    /// Adds a new conversation. Refused if it is already waiting or offered
    /// (`Duplicate`) or if waiting + offered has reached `max_waiting` (`Full`).
    pub fn enqueue(&mut self, w: WaitingEntry) -> Result<(), EnqueueError> {
        if self.entries.contains_key(&w.conversation) || self.offered.contains_key(&w.conversation)
        {
            return Err(EnqueueError::Duplicate);
        }
        if self.entries.len() + self.offered.len() >= self.max_waiting {
            return Err(EnqueueError::Full {
                max: self.max_waiting,
            });
        }
        self.insert_waiting(w);
        Ok(())
    }

    /// Puts a conversation (back) into waiting, never refused: after a reject, a
    /// timeout, a disconnect, or a recovery. Its rank comes from its own
    /// (priority, enqueued_at, seq), so it gets back its original place. Replaces any
    /// entry of the same conversation, waiting or offered.
    pub fn requeue(&mut self, w: WaitingEntry) {
        self.remove(&w.conversation);
        self.insert_waiting(w);
    }

    /// Removes a conversation, waiting or offered, and returns its entry.
    pub fn remove(&mut self, c: &ConversationId) -> Option<WaitingEntry> {
        if let Some(w) = self.take_waiting(c) {
            return Some(w);
        }
        self.take_offered(c).map(|(w, _)| w)
    }

    /// The entry of a conversation, waiting or offered.
    pub fn get(&self, c: &ConversationId) -> Option<&WaitingEntry> {
        self.entries
            .get(c)
            .or_else(|| self.offered.get(c).map(|(w, _)| w))
    }

    /// Closes the offer of `c` to `agent`. Accepted: the conversation leaves the router
    /// and its entry is returned. Otherwise (rejected, timed out, rescinded): `agent`
    /// joins its `tried` set and it goes back to waiting at its original rank; `None`.
    /// Nothing happens (and `None` is returned) unless `c` is offered to `agent`.
    pub fn offer_closed(
        &mut self,
        c: &ConversationId,
        agent: &AgentId,
        accepted: bool,
    ) -> Option<WaitingEntry> {
        match self.offered.get(c) {
            Some((_, a)) if a == agent => {}
            _ => return None,
        }
        let (mut w, _) = self.take_offered(c)?;
        if accepted {
            return Some(w);
        }
        w.tried.insert(agent.clone());
        self.insert_waiting(w);
        None
    }

    /// Lets `agent` be offered again every waiting conversation it declined, missed or
    /// lost to a disconnect. Called when the agent comes back (becomes available), so
    /// that a conversation every agent passed on does not wait for a new agent to log
    /// in. O(waiting).
    pub fn forget_tried(&mut self, agent: &AgentId) {
        let ids: Vec<ConversationId> = self
            .entries
            .iter()
            .filter(|(_, w)| w.tried.contains(agent))
            .map(|(c, _)| *c)
            .collect();
        for c in ids {
            if let Some(mut w) = self.take_waiting(&c) {
                w.tried.remove(agent);
                self.insert_waiting(w);
            }
        }
    }

    /// Sets the priority of `c`, waiting or offered: a waiting conversation takes its
    /// new rank at once; an offered one keeps it if it comes back. Returns whether `c`
    /// is here.
    pub fn set_priority(&mut self, c: &ConversationId, priority: i32) -> bool {
        if let Some(mut w) = self.take_waiting(c) {
            w.priority = priority;
            self.insert_waiting(w);
            return true;
        }
        match self.offered.get_mut(c) {
            Some((w, _)) => {
                w.priority = priority;
                true
            }
            None => false,
        }
    }

    /// Drops the required agent of a waiting conversation (a transfer to a person that
    /// the person declined or missed): it becomes open to every eligible agent of the
    /// queue, at its original rank. Returns whether anything changed.
    pub fn widen(&mut self, c: &ConversationId) -> bool {
        if self
            .entries
            .get(c)
            .is_none_or(|w| w.required_agent.is_none())
        {
            return false;
        }
        let Some(mut w) = self.take_waiting(c) else {
            return false;
        };
        w.required_agent = None;
        self.insert_waiting(w);
        true
    }

    /// Whether `agent` is known and available.
    pub fn is_available(&self, agent: &AgentId) -> bool {
        self.agents.get(agent).is_some_and(|s| s.snap.available)
    }

    /// The agent `c` is offered to, if it is offered.
    pub fn offered_to(&self, c: &ConversationId) -> Option<&AgentId> {
        self.offered.get(c).map(|(_, a)| a)
    }

    /// Conversations waiting (not offered).
    pub fn waiting_len(&self) -> usize {
        self.entries.len()
    }

    /// Conversations offered and not yet closed.
    pub fn offered_len(&self) -> usize {
        self.offered.len()
    }

    /// 0-based rank of a waiting conversation among the waiting conversations of its
    /// class; `None` if it is not waiting. O(min(rank, len - rank)).
    pub fn position(&self, c: &ConversationId) -> Option<usize> {
        let w = self.entries.get(c)?;
        let key = WaitKey::of(w);
        let ci = w.class.index();
        Some(rank_in(&self.open[ci], key) + rank_in(&self.required[ci], key))
    }

    /// The earliest `enqueued_at` over waiting and offered conversations. O(log n).
    pub fn oldest_enqueued_at(&self) -> Option<Millis> {
        let w = self.waiting_by_age.first().map(|k| k.0);
        let o = self.offered_by_age.first().map(|k| k.0);
        match (w, o) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Waiting (not offered) conversations with `enqueued_at <= cutoff`, oldest first
    /// (for overflow).
    pub fn waiting_older_than(&self, cutoff: Millis) -> Vec<ConversationId> {
        self.waiting_by_age
            .iter()
            .take_while(|k| k.0 <= cutoff)
            .map(|k| k.2)
            .collect()
    }

    /// Waiting conversations of every class in routing order (priority desc,
    /// enqueued_at asc, seq asc): a merge of the per-class lists.
    pub fn waiting(&self) -> impl Iterator<Item = &WaitingEntry> {
        WaitingIter {
            heads: std::array::from_fn(|i| {
                if i < 4 {
                    self.open[i].iter().peekable()
                } else {
                    self.required[i - 4].iter().peekable()
                }
            }),
            entries: &self.entries,
        }
    }

    // ----- decisions --------------------------------------------------------------

    /// Picks the best-ranked waiting conversation that can be placed now and its agent,
    /// marks it offered and charges the agent locally. `None` when nothing can be
    /// placed. See the module docs for the rules; each class skips at most
    /// [`MAX_SKIPS_PER_CLASS`] conversations.
    pub fn decide(&mut self, now: Millis) -> Option<Decision> {
        self.advance_lanes(now);
        // Classes that have both waiting conversations and free agents, best front first.
        let mut order: [(Option<WaitKey>, usize); 4] = std::array::from_fn(|ci| {
            let front = if self.index[ci].is_empty() {
                None
            } else {
                min_key(
                    self.open[ci].first().copied(),
                    self.placeable[ci].first().copied(),
                )
            };
            (front, ci)
        });
        order.sort_unstable_by_key(|(front, _)| (front.is_none(), *front));
        let mut best: Option<Candidate> = None;
        for (front, ci) in order {
            let Some(front) = front else { break };
            let bound = best.as_ref().map(|b| b.key);
            if bound.is_some_and(|b| front >= b) {
                // Every later class starts behind the candidate already found.
                break;
            }
            if let Some(c) = self.find_in_class(ci, now, bound) {
                best = Some(c);
            }
        }
        let c = best?;
        Some(self.commit(c))
    }

    /// The best waiting conversation `agent` may take now: it has a free slot of the
    /// class and is routable, has not tried it, is its required agent (if any), and no
    /// other agent's sticky wait holds it. No mutation. Each class skips at most
    /// [`MAX_SKIPS_PER_CLASS`] conversations.
    pub fn best_for(&self, agent: &AgentId, now: Millis) -> Option<Peek> {
        let slot = self.agents.get(agent)?;
        let transfers = self.by_agent.get(agent);
        let mut best: Option<WaitKey> = None;
        for ci in 0..4 {
            if !slot.indexed[ci] {
                continue;
            }
            // Its own transfers: untried by construction, so the first one is eligible.
            if let Some(k) = transfers.and_then(|t| t[ci].first()) {
                best = min_key(best, Some(*k));
            }
            for (skipped, key) in self.open[ci].iter().enumerate() {
                if skipped == MAX_SKIPS_PER_CLASS || best.is_some_and(|b| *key >= b) {
                    break;
                }
                if self
                    .entries
                    .get(&key.conversation)
                    .is_some_and(|w| self.allows(w, slot, now))
                {
                    best = Some(*key);
                    break;
                }
            }
        }
        let w = self.entries.get(&best?.conversation)?;
        Some(Peek {
            conversation: w.conversation,
            priority: w.priority,
            enqueued_at: w.enqueued_at,
            seq: w.seq,
        })
    }

    /// Offers `c` to `agent` if the agent may take it now (same check as `best_for`,
    /// without the rank: an agent may pull any conversation it is eligible for), and
    /// marks it offered exactly like `decide`.
    pub fn take_for(
        &mut self,
        c: &ConversationId,
        agent: &AgentId,
        now: Millis,
    ) -> Option<Decision> {
        let w = self.entries.get(c)?;
        let slot = self.agents.get(agent)?;
        if !slot.indexed[w.class.index()] || !self.allows(w, slot, now) {
            return None;
        }
        let ring = (!w.requirements.is_empty()).then(|| (self.ring_of(w, now), 0));
        let cand = Candidate {
            key: WaitKey::of(w),
            agent: slot.snap.id.clone(),
            route: Route::Pulled,
            trace: Trace::default(),
            mark: 0,
            blocked_ahead: 0,
            ring,
        };
        Some(self.commit(cand))
    }

    // ----- checks -----------------------------------------------------------------

    /// Panics with a message if any structural invariant is broken:
    /// - every conversation is in exactly one of waiting / offered, and the ordered
    ///   sets (per-class open / required lists, by-age) hold exactly the entries,
    ///   under their keys;
    /// - `by_agent` holds exactly the waiting transfers their agent has not tried, and
    ///   `placeable` exactly those whose agent is in the class index;
    /// - every class index holds exactly the agents with `available && free > 0`,
    ///   under their current strategy key;
    /// - the round-robin tick is ahead of every tick handed out.
    ///
    /// O(n log n); for tests and debug assertions.
    pub fn debug_check_invariants(&self) {
        let total: usize = self
            .open
            .iter()
            .chain(&self.required)
            .map(|s| s.len())
            .sum();
        assert_eq!(total, self.entries.len(), "waiting sets vs entries");
        assert_eq!(
            self.waiting_by_age.len(),
            self.entries.len(),
            "by-age vs entries"
        );
        for (c, w) in &self.entries {
            assert_eq!(*c, w.conversation, "entry under the wrong id");
            assert!(
                !self.offered.contains_key(c),
                "{c} both waiting and offered"
            );
            let (ci, k) = (w.class.index(), WaitKey::of(w));
            match &w.required_agent {
                None => assert!(self.open[ci].contains(&k), "{c} missing from open"),
                Some(r) => {
                    assert!(self.required[ci].contains(&k), "{c} missing from required");
                    let mine = self.by_agent.get(r).is_some_and(|t| t[ci].contains(&k));
                    assert_eq!(mine, !w.tried.contains(r), "{c}: by_agent membership");
                    let free = self.agents.get(r).is_some_and(|s| s.indexed[ci]);
                    assert_eq!(
                        self.placeable[ci].contains(&k),
                        mine && free,
                        "{c}: placeable membership"
                    );
                }
            }
            assert!(
                self.waiting_by_age.contains(&age_key(w)),
                "{c} missing from by-age"
            );
        }
        let lists = self.open.iter().enumerate().map(|(ci, s)| (ci, s, false));
        let lists = lists.chain(
            self.required
                .iter()
                .enumerate()
                .map(|(ci, s)| (ci, s, true)),
        );
        for (ci, set, required) in lists {
            for k in set {
                let w = self
                    .entries
                    .get(&k.conversation)
                    .expect("waiting key without entry");
                assert_eq!(w.class.index(), ci, "entry in the wrong class list");
                assert_eq!(WaitKey::of(w), *k, "stale waiting key");
                assert_eq!(w.required_agent.is_some(), required, "open vs required");
            }
        }
        let mut mine = 0;
        for (r, sets) in &self.by_agent {
            assert!(
                sets.iter().any(|s| !s.is_empty()),
                "{r}: empty by_agent entry"
            );
            mine += sets.iter().map(|s| s.len()).sum::<usize>();
            for k in sets.iter().flatten() {
                let w = self
                    .entries
                    .get(&k.conversation)
                    .expect("by_agent key without entry");
                assert_eq!(
                    w.required_agent.as_ref(),
                    Some(r),
                    "by_agent under the wrong agent"
                );
            }
        }
        let placeable: usize = self.placeable.iter().map(|s| s.len()).sum();
        let expected_mine = self
            .entries
            .values()
            .filter(|w| {
                w.required_agent
                    .as_ref()
                    .is_some_and(|r| !w.tried.contains(r))
            })
            .count();
        assert_eq!(mine, expected_mine, "stray by_agent keys");
        for (ci, set) in self.placeable.iter().enumerate() {
            for k in set {
                let w = self
                    .entries
                    .get(&k.conversation)
                    .expect("placeable key without entry");
                assert_eq!(w.class.index(), ci, "placeable in the wrong class");
            }
        }
        assert!(placeable <= mine, "stray placeable keys");
        assert_eq!(
            self.offered_by_age.len(),
            self.offered.len(),
            "offered by-age vs offered"
        );
        for (c, (w, _)) in &self.offered {
            assert_eq!(*c, w.conversation, "offered under the wrong id");
            assert!(
                self.offered_by_age.contains(&age_key(w)),
                "{c} missing from offered by-age"
            );
        }
        let mut counts = [0usize; 4];
        for (id, slot) in &self.agents {
            assert_eq!(*id, slot.snap.id, "agent under the wrong id");
            let tick = self.rr_ticks.get(id).copied().unwrap_or(0);
            assert_eq!(
                slot.key,
                StrategyKey::of(self.strategy, &slot.snap, tick),
                "{id}: stale strategy key"
            );
            for class in ChannelClass::ALL {
                let ci = class.index();
                let want = slot.snap.routable(class);
                assert_eq!(
                    slot.indexed[ci],
                    want,
                    "{id}: indexed flag for {}",
                    class.as_str()
                );
                assert_eq!(
                    self.index[ci].contains(&(slot.key, id.clone())),
                    want,
                    "{id}: index membership for {}",
                    class.as_str()
                );
                counts[ci] += usize::from(want);
            }
        }
        for (ci, (set, count)) in self.index.iter().zip(counts).enumerate() {
            assert_eq!(set.len(), count, "stray entries in class index {ci}");
        }
        assert!(
            self.rr_ticks.values().all(|t| *t < self.next_tick),
            "round-robin tick went back"
        );
        let mut refs: Map<NeedId, usize> = Map::default();
        let mut with = 0;
        for (c, w) in &self.entries {
            let vias = self.via.get(c);
            assert_eq!(vias.is_some(), !w.requirements.is_empty(), "{c}: via entry");
            let Some(vias) = vias else { continue };
            with += 1;
            assert_eq!(vias.len(), self.rings.steps() + 1, "{c}: one via per ring");
            for (ring, via) in vias.iter().enumerate() {
                if let Via::Need(id) = via {
                    *refs.entry(*id).or_default() += 1;
                    assert_eq!(
                        self.needs.get(*id).key.floors,
                        self.rings.relax(&w.requirements, ring),
                        "{c}: ring {ring} filed under the wrong need"
                    );
                }
            }
        }
        assert_eq!(
            self.via.len(),
            with,
            "via entries of conversations not waiting"
        );
        for (_, c, _) in &self.widen_at {
            assert!(
                self.via.contains_key(c),
                "{c}: ring opening while not waiting"
            );
        }
        let mut class_refs: Map<(NeedId, usize), usize> = Map::default();
        for (c, vias) in &self.via {
            let ci = self.entries[c].class.index();
            for via in vias {
                if let Via::Need(id) = via {
                    *class_refs.entry((*id, ci)).or_default() += 1;
                }
            }
        }
        self.needs.check(
            self.agents.values().map(|s| (&s.snap, s.key, s.indexed)),
            &refs,
            &class_refs,
        );
        // Every open conversation is in the lane of its ring at the lanes' time.
        let filed: Vec<_> = self
            .entries
            .values()
            .filter(|w| w.required_agent.is_none())
            .map(|w| {
                let lane = self.lane_for(w, self.ring_of(w, self.lanes.now));
                (w.conversation, w.class.index(), lane, WaitKey::of(w))
            })
            .collect();
        self.lanes.check(
            &filed,
            |ci, lane| self.is_live(ci, lane),
            |c| {
                self.entries
                    .get(c)
                    .map(|w| openings(&self.rings, w).collect())
                    .unwrap_or_default()
            },
        );
    }

    /// The round-robin tick of an agent's last decision (0 = never); for test oracles.
    #[cfg(test)]
    pub(crate) fn rr_tick(&self, id: &AgentId) -> u64 {
        self.rr_ticks.get(id).copied().unwrap_or(0)
    }

    // ----- internals --------------------------------------------------------------

    fn insert_waiting(&mut self, w: WaitingEntry) {
        let (ci, k) = (w.class.index(), WaitKey::of(&w));
        match &w.required_agent {
            None => {
                self.open[ci].insert(k);
            }
            Some(r) => {
                self.required[ci].insert(k);
                if !w.tried.contains(r) {
                    if let Some(sets) = self.by_agent.get_mut(r) {
                        sets[ci].insert(k);
                    } else {
                        let mut sets: [BTreeSet<WaitKey>; 4] = Default::default();
                        sets[ci].insert(k);
                        self.by_agent.insert(r.clone(), sets);
                    }
                    if self.agents.get(r).is_some_and(|s| s.indexed[ci]) {
                        self.placeable[ci].insert(k);
                    }
                }
            }
        }
        self.waiting_by_age.insert(age_key(&w));
        if !w.requirements.is_empty() {
            self.file_requirements(&w);
        }
        if w.required_agent.is_none() {
            let lane = self.lane_for(&w, self.ring_of(&w, self.lanes.now));
            let live = self.is_live(ci, lane);
            let rings = &self.rings;
            self.lanes.file(ci, (lane, live), k, openings(rings, &w));
        }
        self.entries.insert(w.conversation, w);
        self.sync_lanes();
    }

    fn take_waiting(&mut self, c: &ConversationId) -> Option<WaitingEntry> {
        let w = self.entries.remove(c)?;
        let (ci, k) = (w.class.index(), WaitKey::of(&w));
        match &w.required_agent {
            None => {
                self.open[ci].remove(&k);
            }
            Some(r) => {
                self.required[ci].remove(&k);
                self.placeable[ci].remove(&k);
                if let Some(sets) = self.by_agent.get_mut(r) {
                    sets[ci].remove(&k);
                    if sets.iter().all(|s| s.is_empty()) {
                        self.by_agent.remove(r);
                    }
                }
            }
        }
        self.waiting_by_age.remove(&age_key(&w));
        self.unfile_requirements(&w);
        let rings = &self.rings;
        self.lanes.unfile(&w.conversation, openings(rings, &w));
        self.sync_lanes();
        Some(w)
    }

    /// After an agent joined (`flips.0`) or left (`flips.1`) class indexes (bit
    /// masks by class index), moves its untried transfers into or out of `placeable`.
    fn sync_required(&mut self, id: &AgentId, (joined, left): (u8, u8)) {
        if joined | left == 0 {
            return;
        }
        let Some(sets) = self.by_agent.get(id) else {
            return;
        };
        for (ci, set) in sets.iter().enumerate() {
            let bit = 1u8 << ci;
            if joined & bit != 0 {
                self.placeable[ci].extend(set.iter().copied());
            } else if left & bit != 0 {
                for k in set {
                    self.placeable[ci].remove(k);
                }
            }
        }
    }

    fn take_offered(&mut self, c: &ConversationId) -> Option<(WaitingEntry, AgentId)> {
        let (w, a) = self.offered.remove(c)?;
        self.offered_by_age.remove(&age_key(&w));
        Some((w, a))
    }

    /// The best placeable conversation of class `ci` better than `bound` (a candidate
    /// from another class): the best of (a) the first placeable transfer and (b) the
    /// first placeable open conversation, found by walking the class's live lanes in
    /// waiting order (`lanes.rs`; dead lanes are not in the walk), each conversation
    /// checked by `place`, giving up after [`MAX_SKIPS_PER_CLASS`] could not be placed.
    fn find_in_class(&self, ci: usize, now: Millis, bound: Option<WaitKey>) -> Option<Candidate> {
        let transfer = self.placeable[ci]
            .first()
            .copied()
            .filter(|k| bound.is_none_or(|b| *k < b));
        let stop = min_key(bound, transfer);
        let mut trace = Trace::default();
        let mut blocked = 0;
        let mut budget = SCAN_BUDGET;
        let mut walk = self.lanes.walk(ci);
        while let Some((key, lane)) = walk.next() {
            if blocked == MAX_SKIPS_PER_CLASS || stop.is_some_and(|s| key >= s) {
                break;
            }
            let Some(w) = self.entries.get(&key.conversation) else {
                walk.follow(key, lane);
                continue;
            };
            let mut mark = trace.mark();
            if let Some((agent, route, ring)) = self.place(w, now, &mut trace, &mut budget) {
                self.note_dead(ci, &mut trace, &mut mark);
                return Some(Candidate {
                    key,
                    agent: agent.clone(),
                    route,
                    trace,
                    mark,
                    blocked_ahead: blocked,
                    ring,
                });
            }
            blocked += 1;
            walk.follow(key, lane);
        }
        let key = transfer?;
        let agent = self
            .entries
            .get(&key.conversation)?
            .required_agent
            .clone()?;
        let mut mark = trace.mark();
        self.note_dead(ci, &mut trace, &mut mark);
        Some(Candidate {
            key,
            agent,
            route: Route::Required,
            trace,
            mark,
            blocked_ahead: blocked,
            ring: None,
        })
    }

    /// Records in one `"blocked"` step, before the winner's `"considered"` step at
    /// `mark`, how many conversations of the class wait in dead lanes (never walked).
    fn note_dead(&self, ci: usize, trace: &mut Trace, mark: &mut usize) {
        let dead = self.lanes.dead(ci);
        if dead == 0 {
            return;
        }
        let inserted = trace.insert_capped(*mark, "blocked", || {
            format!(
                "{dead} conversation(s) of the class wait for skills no free agent has \
                 (not walked)"
            )
        });
        if inserted {
            *mark += 1;
        }
    }

    /// The agent an open (no required agent) conversation goes to now, if any: its
    /// preferred agent when free (and meeting the conversation's skills), else (unless
    /// a sticky wait holds it) the first untried agent of its index: the class index,
    /// or for a conversation with its own skills the index of its current ring's need.
    /// Also returns, for such a conversation, its ring and the agent's score. Records
    /// skipped agents and the blocking reason in `trace`.
    fn place<'s>(
        &'s self,
        w: &WaitingEntry,
        now: Millis,
        trace: &mut Trace,
        budget: &mut usize,
    ) -> Option<Placed<'s>> {
        let ci = w.class.index();
        debug_assert!(
            w.required_agent.is_none(),
            "transfers are not in the open list"
        );
        let (ring, via, floors) = if w.requirements.is_empty() {
            (0, Via::Plain, None)
        } else {
            let ring = self.ring_of(w, now);
            (ring, self.via_of(w, ring), Some(self.floors_at(w, ring)))
        };
        let tag = |score: u32| floors.as_ref().map(|_| (ring, score));
        let fits = |a: &AgentSnapshot| floors.as_ref().is_none_or(|f| meets(&a.skills, f));
        if let Some(pref) = &w.preferred_agent {
            if w.tried.contains(pref) {
                trace.push("skipped", Some(pref), || {
                    "preferred agent tried before".to_owned()
                });
            } else {
                let (reason, may_wait) = match self.agents.get(pref) {
                    Some(s) if !fits(&s.snap) => ("does not meet the conversation's skills", false),
                    Some(s) if s.indexed[ci] => {
                        let score = match via {
                            Via::Need(id) => self.needs.get(id).score_of(pref).unwrap_or(0),
                            _ => 0,
                        };
                        return Some((&s.snap.id, Route::Preferred, tag(score)));
                    }
                    Some(s) => (unfree_reason(&s.snap), true),
                    None => ("not in this queue", true),
                };
                if may_wait && now < w.sticky_until {
                    trace.push("blocked", Some(pref), || {
                        format!(
                            "conversation {} waits for preferred agent {pref} ({reason}) until {}",
                            w.conversation, w.sticky_until.0
                        )
                    });
                    return None;
                }
                trace.push("skipped", Some(pref), || {
                    if may_wait {
                        format!("preferred agent {reason}; sticky wait over")
                    } else {
                        format!("preferred agent {reason}")
                    }
                });
            }
        }
        match via {
            Via::Plain => {
                for (_, id) in &self.index[ci] {
                    if w.tried.contains(id) {
                        trace.push("skipped", Some(id), || "tried before".to_owned());
                        continue;
                    }
                    return Some((id, Route::Strategy, tag(0)));
                }
            }
            Via::Need(nid) => {
                for (score, _, id) in &self.needs.get(nid).index[ci] {
                    if w.tried.contains(id) {
                        trace.push("skipped", Some(id), || "tried before".to_owned());
                        continue;
                    }
                    return Some((id, Route::Strategy, tag(score.0)));
                }
            }
            Via::Scan => {
                // The best score among the first agents of the class index; ties go
                // to the strategy's order, as in a need's index.
                let weighs = self.ranking.weighs(&w.requirements);
                let window = if floors.as_ref().is_some_and(|f| f.is_empty()) {
                    RANK_WINDOW
                } else {
                    MAX_SKIPS_PER_CLASS
                };
                let mut best: Option<(u32, &AgentId)> = None;
                for (_, id) in self.index[ci].iter().take(window) {
                    if *budget == 0 {
                        break;
                    }
                    *budget -= 1;
                    if w.tried.contains(id) {
                        trace.push("skipped", Some(id), || "tried before".to_owned());
                        continue;
                    }
                    let Some(s) = self.agents.get(id).filter(|s| fits(&s.snap)) else {
                        continue;
                    };
                    let score = super::widening::score(&s.snap.skills, &weighs);
                    if best.is_none_or(|(b, _)| score > b) {
                        best = Some((score, id));
                    }
                }
                if let Some((score, id)) = best {
                    return Some((id, Route::Strategy, tag(score)));
                }
            }
        }
        let spent = via == Via::Scan && *budget == 0;
        trace.push("blocked", None, || match &floors {
            Some(_) if spent => format!(
                "conversation {}: this call's scan budget ({SCAN_BUDGET} agents) is spent",
                w.conversation
            ),
            None => format!(
                "conversation {}: every free agent tried before",
                w.conversation
            ),
            Some(f) => {
                let next = self
                    .rings
                    .opens_after(ring + 1)
                    .map(|ms| {
                        format!(
                            "; ring {} opens at {}",
                            ring + 1,
                            w.enqueued_at.0.saturating_add(ms as i64)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "conversation {}: no free untried agent meets {} (ring {ring} of {}){next}",
                    w.conversation,
                    describe(f),
                    self.rings.steps()
                )
            }
        });
        None
    }

    /// The ring `w` is in at `now`.
    fn ring_of(&self, w: &WaitingEntry, now: Millis) -> usize {
        let waited = now.0.saturating_sub(w.enqueued_at.0).max(0) as u64;
        self.rings.ring_at(waited)
    }

    /// How a waiting conversation with its own skills finds agents in `ring`.
    fn via_of(&self, w: &WaitingEntry, ring: usize) -> Via {
        self.via
            .get(&w.conversation)
            .and_then(|v| v.get(ring))
            .copied()
            .unwrap_or(Via::Scan)
    }

    /// What `w` requires in `ring` (borrowed from its need when it has one).
    fn floors_at(&self, w: &WaitingEntry, ring: usize) -> Cow<'_, SkillFloors> {
        match self.via_of(w, ring) {
            Via::Need(id) => Cow::Borrowed(&self.needs.get(id).key.floors),
            _ => Cow::Owned(self.rings.relax(&w.requirements, ring)),
        }
    }

    /// Whether the conversation lets `slot`'s agent take it now (its free slot is
    /// checked separately): see [`allows`], and unless it is a transfer to this agent,
    /// the agent meets the conversation's skills in its current ring.
    fn allows(&self, w: &WaitingEntry, slot: &AgentSlot, now: Millis) -> bool {
        if !allows(w, &slot.snap.id, now) {
            return false;
        }
        // A transfer to a named agent was meant for that person, skills or not.
        w.requirements.is_empty()
            || w.required_agent.is_some()
            || meets(&slot.snap.skills, &self.floors_at(w, self.ring_of(w, now)))
    }

    /// Files an agent's current state in every need (after its snapshot or key
    /// changed).
    fn file_needs(&mut self, id: &AgentId) {
        if self.needs.len() == 0 {
            return;
        }
        if let Some(slot) = self.agents.get(id) {
            self.needs
                .update_agent((&slot.snap, slot.key, slot.indexed));
        }
        self.sync_lanes();
    }

    /// A conversation with its own skills entered waiting: takes its rings' needs and
    /// schedules its ring openings still ahead.
    fn file_requirements(&mut self, w: &WaitingEntry) {
        let weighs = self.ranking.weighs(&w.requirements);
        let rings = self.rings.steps();
        let mut vias = Vec::with_capacity(rings + 1);
        for ring in 0..=rings {
            let floors = self.rings.relax(&w.requirements, ring);
            let via = if floors.is_empty() {
                // Nothing left to meet: the class index, ranked by a look at its front
                // when there are skills to rank by (an index per set of ranked skills
                // would hold every agent of the queue, each).
                if weighs.is_empty() {
                    Via::Plain
                } else {
                    Via::Scan
                }
            } else {
                let agents = self.agents.values().map(|s| (&s.snap, s.key, s.indexed));
                let key = NeedKey {
                    floors,
                    weighs: weighs.clone(),
                };
                self.needs
                    .acquire(key, w.class, agents)
                    .map_or(Via::Scan, Via::Need)
            };
            vias.push(via);
            if let Some(at) = self.opening(w, ring) {
                if at > self.seen_now {
                    self.widen_at.insert((at, w.conversation, ring));
                }
            }
        }
        self.via.insert(w.conversation, vias);
    }

    /// When ring `ring` (1..) of `w` opens.
    fn opening(&self, w: &WaitingEntry, ring: usize) -> Option<Millis> {
        opening(&self.rings, w, ring)
    }

    /// The lane an open conversation waits in while in `ring`.
    fn lane_for(&self, w: &WaitingEntry, ring: usize) -> Lane {
        if w.requirements.is_empty() {
            return Lane::Walk;
        }
        match self.via_of(w, ring) {
            Via::Need(id) => Lane::Need(id),
            Via::Plain | Via::Scan => Lane::Walk,
        }
    }

    /// Whether `lane` of class `ci` is live: a need lane while its index of the class
    /// has an agent.
    fn is_live(&self, ci: usize, lane: Lane) -> bool {
        match lane {
            Lane::Walk => true,
            Lane::Need(id) => self.needs.has_agent(id, ci),
        }
    }

    /// Brings the lanes up to `now`: conversations whose next ring opened move to the
    /// lane of the ring they are in. O(k log n) for k openings.
    fn advance_lanes(&mut self, now: Millis) {
        self.lanes.now = self.lanes.now.max(now);
        while let Some(c) = self.lanes.pop_due(now) {
            let Some(w) = self.entries.get(&c) else {
                continue;
            };
            let lane = self.lane_for(w, self.ring_of(w, self.lanes.now));
            let live = self.is_live(w.class.index(), lane);
            self.lanes.moved(&c, (lane, live));
        }
    }

    /// Marks live or dead the lanes of every need whose indexes went from empty to not
    /// or back since the last call. O(changed needs).
    fn sync_lanes(&mut self) {
        while let Some(id) = self.needs.pop_changed() {
            let lane = Lane::Need(id);
            for ci in 0..4 {
                if self.lanes.has(ci, lane) {
                    let live = self.needs.has_agent(id, ci);
                    self.lanes.set_live(ci, lane, live);
                }
            }
        }
    }

    /// A conversation with its own skills left waiting: releases its needs and its
    /// ring openings.
    fn unfile_requirements(&mut self, w: &WaitingEntry) {
        let Some(vias) = self.via.remove(&w.conversation) else {
            return;
        };
        for (ring, via) in vias.into_iter().enumerate() {
            if let Via::Need(id) = via {
                self.needs.release(id, w.class);
            }
            if let Some(at) = self.opening(w, ring) {
                self.widen_at.remove(&(at, w.conversation, ring));
            }
        }
    }

    /// Moves the candidate's conversation to offered, charges its agent locally (one
    /// slot of the class; voice takes every slot; anything else closes voice), bumps
    /// the agent's round-robin tick, reindexes it, and builds the decision.
    fn commit(&mut self, c: Candidate) -> Decision {
        let Candidate {
            key,
            agent,
            route,
            mut trace,
            mark,
            blocked_ahead,
            ring,
        } = c;
        let w = self
            .take_waiting(&key.conversation)
            .expect("router: committed conversation is waiting");
        let class = w.class;
        let ci = class.index();
        let mut considered = format!(
            "class={} priority={} enqueued_at={} seq={} blocked_ahead={blocked_ahead}",
            class.as_str(),
            w.priority,
            w.enqueued_at.0,
            w.seq
        );
        if let Some((r, _)) = ring {
            let _ = write!(
                considered,
                " requires={} ring={r}/{}",
                super::widening::compact(&self.rings.relax(&w.requirements, r)),
                self.rings.steps()
            );
        }
        trace.insert_at(mark, "considered", None, considered);
        let tick = self.next_tick;
        self.next_tick += 1;
        let slot = self
            .agents
            .get_mut(&agent)
            .expect("router: committed agent is known");
        let s = &slot.snap;
        let omitted = if trace.omitted > 0 {
            format!(" (+{} steps omitted)", trace.omitted)
        } else {
            String::new()
        };
        let strategy = super::strategy::of(self.strategy);
        let mut detail = String::with_capacity(112);
        let _ = write!(
            detail,
            "route={} strategy={} ",
            route.as_str(),
            strategy.name()
        );
        strategy.write_detail(s, slot.key, &mut detail);
        if let Some((_, score)) = ring {
            let _ = write!(detail, " score={score}");
            if self.ranking.novices_first {
                if let Some((d, c)) = w.requirements.get_key_value(DIFFICULTY) {
                    let own = held(&s.skills, d).unwrap_or(MAX_DIFFICULTY);
                    let _ = write!(
                        detail,
                        " difficulty={} contact_difficulty={}",
                        own.get(),
                        c.get()
                    );
                }
            }
        }
        let _ = write!(detail, " free_{}={}{omitted}", class.as_str(), s.free[ci]);
        trace.push_reserved("chosen", Some(&agent), detail);

        // Charge the agent locally until its actor pushes the truth.
        let free = &mut slot.snap.free;
        if class == ChannelClass::Voice {
            *free = [0; 4];
        } else {
            free[ci] = free[ci].saturating_sub(1);
            free[ChannelClass::Voice.index()] = 0;
        }
        match self.rr_ticks.get_mut(&agent) {
            Some(t) => *t = tick,
            None => {
                self.rr_ticks.insert(agent.clone(), tick);
            }
        }
        let new_key = StrategyKey::of(self.strategy, &slot.snap, tick);
        let flips = reindex(&mut self.index, slot, new_key);
        self.sync_required(&agent, flips);
        self.file_needs(&agent);

        self.offered_by_age.insert(age_key(&w));
        let conversation = w.conversation;
        self.offered.insert(conversation, (w, agent.clone()));
        Decision {
            conversation,
            agent,
            class,
            trace: trace.steps,
        }
    }
}

/// When ring `ring` (1..) of `w` opens under `rings`.
fn opening(rings: &Rings, w: &WaitingEntry, ring: usize) -> Option<Millis> {
    if ring == 0 {
        return None;
    }
    let ms = rings.opens_after(ring)?;
    Some(Millis(w.enqueued_at.0.saturating_add(ms as i64)))
}

/// Every ring opening of `w` (none when it requires no skills: rings relax skills).
fn openings<'a>(rings: &'a Rings, w: &'a WaitingEntry) -> impl Iterator<Item = Millis> + 'a {
    let steps = if w.requirements.is_empty() {
        0
    } else {
        rings.steps()
    };
    (1..=steps).filter_map(move |ring| opening(rings, w, ring))
}

/// Whether the conversation itself lets `agent` take it now (the agent's free slot is
/// checked separately): not tried; the required agent if there is one; otherwise not
/// held by another agent's sticky wait.
fn allows(w: &WaitingEntry, agent: &AgentId, now: Millis) -> bool {
    if w.tried.contains(agent) {
        return false;
    }
    if let Some(req) = &w.required_agent {
        return req == agent;
    }
    match &w.preferred_agent {
        Some(p) if p != agent && !w.tried.contains(p) => now >= w.sticky_until,
        _ => true,
    }
}

fn unfree_reason(a: &AgentSnapshot) -> &'static str {
    if a.available {
        "not free"
    } else {
        "unavailable"
    }
}

/// Brings `slot`'s index entries in line with its (already updated) snapshot and
/// `new_key`: removes it from classes it left, inserts it into classes it joined, and
/// moves it where the key changed. Touches only the classes that change. Returns the
/// classes it joined and left, as bit masks by class index.
#[must_use]
fn reindex(
    index: &mut [BTreeSet<IndexEntry>; 4],
    slot: &mut AgentSlot,
    new_key: StrategyKey,
) -> (u8, u8) {
    let old_key = slot.key;
    let (mut joined, mut left) = (0u8, 0u8);
    let mut probe: Option<IndexEntry> = None;
    for class in ChannelClass::ALL {
        let ci = class.index();
        let was = slot.indexed[ci];
        let want = slot.snap.routable(class);
        if was && want && old_key == new_key {
            continue;
        }
        if was {
            let p = probe.get_or_insert_with(|| (old_key, slot.snap.id.clone()));
            index[ci].remove(p);
        }
        if want {
            index[ci].insert((new_key, slot.snap.id.clone()));
        }
        if was != want {
            if want {
                joined |= 1 << ci;
            } else {
                left |= 1 << ci;
            }
        }
        slot.indexed[ci] = want;
    }
    slot.key = new_key;
    (joined, left)
}

/// The smaller of two optional keys (`None` = no key).
fn min_key(a: Option<WaitKey>, b: Option<WaitKey>) -> Option<WaitKey> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How many keys of `set` rank before `key` (`key` itself need not be in it).
/// O(min(rank, len - rank)): counts from both ends in lockstep.
fn rank_in(set: &BTreeSet<WaitKey>, key: WaitKey) -> usize {
    let mut before = set.range(..key);
    let mut from = set.range(key..);
    let mut n = 0;
    loop {
        if before.next().is_none() {
            return n;
        }
        if from.next().is_none() {
            return set.len() - n;
        }
        n += 1;
    }
}

/// Merges the four class lists into routing order.
struct WaitingIter<'a> {
    /// The next key of each list: open lists by class, then transfer lists by class.
    heads: [Peekable<btree_set::Iter<'a, WaitKey>>; 8],
    /// Where the entries live.
    entries: &'a Map<ConversationId, WaitingEntry>,
}

impl<'a> Iterator for WaitingIter<'a> {
    type Item = &'a WaitingEntry;

    fn next(&mut self) -> Option<&'a WaitingEntry> {
        loop {
            let mut best: Option<(usize, WaitKey)> = None;
            for (i, head) in self.heads.iter_mut().enumerate() {
                if let Some(k) = head.peek() {
                    if best.is_none_or(|(_, b)| **k < b) {
                        best = Some((i, **k));
                    }
                }
            }
            let (i, _) = best?;
            let k = self.heads[i].next()?;
            if let Some(w) = self.entries.get(&k.conversation) {
                return Some(w);
            }
        }
    }
}
