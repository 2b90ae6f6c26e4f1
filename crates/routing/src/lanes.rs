//! Waiting lanes: the open conversations of each class, grouped by the requirement
//! they are routed on now, so a decision can pass over a whole group at once.
//!
//! Owns the `Lanes` table: per channel class, one ordered lane per need in use (the
//! conversations whose current widening ring finds agents through that need's index)
//! plus one `Walk` lane for every other open conversation (no skills, a ring that
//! requires nothing, or a requirement the needs table could not index); the ordered
//! set of lane heads; the lane each conversation is filed in; and when each must move
//! because its next ring opens. A need lane is *live* while its need's index of the
//! class has an agent (the router tells the lanes when that changes); only live lanes
//! and the walk lane are in the heads. `QueueRouter::decide` merges those in waiting
//! order (`Walk`) and never sees a dead lane: none of its conversations could be
//! placed, so walking them one by one, as the router did before, only spent the
//! decision's time and skip budget. It must not decide whether a conversation is
//! placeable (see `router.rs`), do I/O or read a clock.
//!
//! Soundness: a conversation is filed under its ring at `now` (the latest time the
//! router was given for lanes). Time can go back between calls; then a conversation's
//! ring now may be lower than the one it is filed under, never higher (every opening
//! after `now` is scheduled and applied before a decision). Widening is monotone (a
//! later ring only relaxes: `widening.rs`), so the agents that meet a lower ring are a
//! subset of those that meet the filed one: a filed need with no free agent still
//! means no free agent for the conversation.

use super::hash::FastState;
use super::keys::WaitKey;
use super::needs::NeedId;
use domain::{ConversationId, Millis};
use std::cmp::Reverse;
use std::collections::{btree_set, BTreeSet, BinaryHeap, HashMap};
use std::iter::Peekable;
use std::ops::Bound;

type Map<K, V> = HashMap<K, V, FastState>;

/// Which lane an open conversation waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Lane {
    /// Walked conversation by conversation (each is checked by `place`).
    Walk,
    /// Routed through this need's index now.
    Need(NeedId),
}

/// One lane's conversations and whether it is live.
#[derive(Debug, Clone, Default)]
struct LaneSet {
    keys: BTreeSet<WaitKey>,
    live: bool,
}

/// The lanes of one queue. See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Lanes {
    /// Per class: each lane's conversations in waiting order.
    sets: [Map<Lane, LaneSet>; 4],
    /// Per class: the first conversation of every non-empty live lane, in waiting
    /// order.
    heads: [BTreeSet<(WaitKey, Lane)>; 4],
    /// Per class: how many conversations wait in dead lanes.
    dead: [usize; 4],
    /// The lane each filed conversation is in, with its class and key.
    of: Map<ConversationId, (usize, Lane, WaitKey)>,
    /// Ring openings of filed conversations after `now`: (when, conversation).
    due: BTreeSet<(Millis, ConversationId)>,
    /// The latest time the lanes were brought up to; conversations are filed under
    /// their ring at this time.
    pub now: Millis,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            sets: Default::default(),
            heads: Default::default(),
            dead: [0; 4],
            of: Map::default(),
            due: BTreeSet::new(),
            now: Millis(i64::MIN),
        }
    }
}

impl Lanes {
    /// Files an open conversation of class `ci` in `lane`, with its ring openings
    /// after `now` (`openings`); `live` says whether the lane is live, should it be
    /// new.
    pub fn file(
        &mut self,
        ci: usize,
        (lane, live): (Lane, bool),
        key: WaitKey,
        openings: impl Iterator<Item = Millis>,
    ) {
        let c = key.conversation;
        for at in openings {
            if at > self.now {
                self.due.insert((at, c));
            }
        }
        self.of.insert(c, (ci, lane, key));
        self.enter(ci, (lane, live), key);
    }

    /// Unfiles a conversation (it left waiting or became a transfer), with its ring
    /// openings (`openings`, the same as it was filed with). No-op when not filed.
    pub fn unfile(&mut self, c: &ConversationId, openings: impl Iterator<Item = Millis>) {
        let Some((ci, lane, key)) = self.of.remove(c) else {
            return;
        };
        for at in openings {
            self.due.remove(&(at, *c));
        }
        self.leave(ci, lane, key);
    }

    /// The next conversation whose ring opened at or before `now` (and is no longer
    /// due); the caller refiles it with `moved`.
    pub fn pop_due(&mut self, now: Millis) -> Option<ConversationId> {
        let &(at, c) = self.due.first()?;
        if at > now {
            return None;
        }
        self.due.pop_first();
        Some(c)
    }

    /// Moves a filed conversation to `lane` (its ring changed); `live` as for `file`.
    pub fn moved(&mut self, c: &ConversationId, (lane, live): (Lane, bool)) {
        let Some(entry) = self.of.get_mut(c) else {
            return;
        };
        let (ci, old, key) = *entry;
        if old == lane {
            return;
        }
        entry.1 = lane;
        self.leave(ci, old, key);
        self.enter(ci, (lane, live), key);
    }

    /// Marks `lane` of class `ci` live or dead (no-op when it has no conversation).
    pub fn set_live(&mut self, ci: usize, lane: Lane, live: bool) {
        let Some(set) = self.sets[ci].get_mut(&lane) else {
            return;
        };
        if set.live == live {
            return;
        }
        set.live = live;
        let head = (
            *set.keys.first().expect("lanes: kept lanes are not empty"),
            lane,
        );
        if live {
            self.dead[ci] -= set.keys.len();
            self.heads[ci].insert(head);
        } else {
            self.dead[ci] += set.keys.len();
            self.heads[ci].remove(&head);
        }
    }

    /// Whether `lane` of class `ci` has conversations.
    pub fn has(&self, ci: usize, lane: Lane) -> bool {
        self.sets[ci].contains_key(&lane)
    }

    /// How many conversations of class `ci` wait in dead lanes.
    pub fn dead(&self, ci: usize) -> usize {
        self.dead[ci]
    }

    /// The conversations of class `ci`, lane by lane merged in waiting order; the
    /// caller says which lanes to follow past their head (see [`Walk`]).
    pub fn walk(&self, ci: usize) -> Walk<'_> {
        Walk {
            lanes: self,
            ci,
            heads: self.heads[ci].iter().peekable(),
            next: BinaryHeap::new(),
        }
    }

    fn enter(&mut self, ci: usize, (lane, live): (Lane, bool), key: WaitKey) {
        let set = self.sets[ci].entry(lane).or_insert_with(|| LaneSet {
            keys: BTreeSet::new(),
            live,
        });
        let head = set.keys.first().copied();
        set.keys.insert(key);
        if !set.live {
            self.dead[ci] += 1;
        } else if head.is_none_or(|h| key < h) {
            if let Some(h) = head {
                self.heads[ci].remove(&(h, lane));
            }
            self.heads[ci].insert((key, lane));
        }
    }

    fn leave(&mut self, ci: usize, lane: Lane, key: WaitKey) {
        let Some(set) = self.sets[ci].get_mut(&lane) else {
            return;
        };
        let was_head = set.keys.first() == Some(&key);
        if !set.keys.remove(&key) {
            return;
        }
        if !set.live {
            self.dead[ci] -= 1;
        } else if was_head {
            self.heads[ci].remove(&(key, lane));
            if let Some(&h) = set.keys.first() {
                self.heads[ci].insert((h, lane));
            }
        }
        if set.keys.is_empty() {
            self.sets[ci].remove(&lane);
        }
    }

    /// Panics unless the lanes hold exactly `filed` (conversation, class, lane, key),
    /// each lane is live exactly when `live` says, the heads are exactly the live
    /// lanes' firsts, the dead counts are right, and every opening after `now` of
    /// each conversation is due (`openings` gives a conversation's).
    pub fn check(
        &self,
        filed: &[(ConversationId, usize, Lane, WaitKey)],
        live: impl Fn(usize, Lane) -> bool,
        openings: impl Fn(&ConversationId) -> Vec<Millis>,
    ) {
        assert_eq!(self.of.len(), filed.len(), "lanes: filed conversations");
        let mut due = 0;
        for (c, ci, lane, key) in filed {
            assert_eq!(
                self.of.get(c),
                Some(&(*ci, *lane, *key)),
                "lanes: {c} filed"
            );
            assert!(
                self.sets[*ci]
                    .get(lane)
                    .is_some_and(|s| s.keys.contains(key)),
                "lanes: {c} missing from its lane"
            );
            for at in openings(c) {
                if at > self.now {
                    due += 1;
                    assert!(self.due.contains(&(at, *c)), "lanes: {c} opening at {at:?}");
                }
            }
        }
        assert_eq!(self.due.len(), due, "lanes: openings due");
        for (_, c) in &self.due {
            assert!(self.of.contains_key(c), "lanes: {c} due while not filed");
        }
        for ci in 0..4 {
            let total: usize = self.sets[ci].values().map(|s| s.keys.len()).sum();
            let mine = filed.iter().filter(|f| f.1 == ci).count();
            assert_eq!(total, mine, "lanes: stray keys in class {ci}");
            let mut dead = 0;
            let mut heads = 0;
            for (lane, set) in &self.sets[ci] {
                assert!(!set.keys.is_empty(), "lanes: empty lane kept");
                assert_eq!(set.live, live(ci, *lane), "lanes: liveness of {lane:?}");
                let head = *set.keys.first().expect("non-empty");
                assert_eq!(
                    self.heads[ci].contains(&(head, *lane)),
                    set.live,
                    "lanes: head of {lane:?}"
                );
                if set.live {
                    heads += 1;
                } else {
                    dead += set.keys.len();
                }
            }
            assert_eq!(
                self.heads[ci].len(),
                heads,
                "lanes: stray heads of class {ci}"
            );
            assert_eq!(self.dead[ci], dead, "lanes: dead count of class {ci}");
        }
    }
}

/// A merge of one class's lanes in waiting order. `next` yields a lane's head; the
/// lane's later conversations are yielded only after `follow` (the caller found the
/// head blocked for its own reasons), so a lane nobody follows costs one step.
pub(crate) struct Walk<'a> {
    lanes: &'a Lanes,
    ci: usize,
    heads: Peekable<btree_set::Iter<'a, (WaitKey, Lane)>>,
    /// Followed lanes' next conversations.
    next: BinaryHeap<Reverse<(WaitKey, Lane)>>,
}

impl Walk<'_> {
    /// Continues `lane` after `key`.
    pub fn follow(&mut self, key: WaitKey, lane: Lane) {
        let after = self.lanes.sets[self.ci].get(&lane).and_then(|s| {
            s.keys
                .range((Bound::Excluded(key), Bound::Unbounded))
                .next()
        });
        if let Some(&k) = after {
            self.next.push(Reverse((k, lane)));
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = (WaitKey, Lane);

    fn next(&mut self) -> Option<(WaitKey, Lane)> {
        let head = self.heads.peek().map(|h| **h);
        let followed = self.next.peek().map(|r| r.0);
        match (head, followed) {
            (Some(h), Some(f)) if f < h => self.next.pop().map(|r| r.0),
            (Some(_), _) => self.heads.next().copied(),
            (None, Some(_)) => self.next.pop().map(|r| r.0),
            (None, None) => None,
        }
    }
}
