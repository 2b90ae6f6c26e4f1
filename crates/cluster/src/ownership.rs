//! One node's ownership loop, as pure decisions: given the lease rows it read and its
//! clocks, which keys to take, renew and hand over, and which it must stop acting on.
//! The engine's driver (`switchboard_engine::ownership`) does the I/O; this is what it
//! decides, tested on manual clocks (docs/cluster.md).
//!
//! Each round the node
//! 1. drops every key whose local deadline passed ([`Holding::may_serve`]): from here
//!    on another node may take it;
//! 2. computes the keys it should own: rendezvous placement over the live members
//!    (itself included) — [`crate::placement`];
//! 3. hands over the keys it holds but should not (a member joined that scores higher):
//!    it stops acting on them first, then releases them, so the new owner takes them
//!    at once;
//! 4. asks for the keys it should own and does not hold, when the rule allows
//!    ([`claim`]: free, released, lapsed, or its own);
//! 5. renews all it holds, its membership included, in one request, once a renewal
//!    is due (rounds may run more often than renewals, to notice a released key
//!    sooner).
//!
//! **Sticky** keys are not placed: any member takes one when it is free (the first to
//! ask wins) and keeps it until it stops or loses it — for a key whose move is costly,
//! such as the active engine of an active/standby pair (`singleton/active-engine`).
//!
//! A key held by a member that died stays with it until its rows lapse (its membership
//! and its keys are renewed together, so they lapse together); the round after that
//! moment places the key elsewhere. [`Round::wake_at`] says when that is, so the driver
//! need not wait for its next tick.

use crate::lease::{claim, Claim, Holding, Lease, LeaseTiming, RELEASED};
use crate::{membership, placement, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// A change in what this node may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Granted `key` under `epoch`: start acting as its owner (load its state). The
    /// node's own membership is one too: the node has joined.
    Gained { key: String, epoch: u64 },
    /// No longer the owner of `key`: stop acting on it now.
    Lost { key: String, why: Why },
}

/// Why a key was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its local deadline passed with no renewal confirmed: another node may take it
    /// from now on.
    Deadline,
    /// The store refused its renewal: another node took it (or a newer run of this
    /// node's name did).
    Taken,
    /// Given up: another member should own it, or this node is stopping.
    HandedOver,
    /// Given up with everything else while this node stands aside: it cannot reach a
    /// majority of the members ([`crate::quorum`]), so the others take its keys at
    /// once instead of waiting for them to lapse.
    Aside,
}

/// What this node means to do this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Intent {
    /// Join, take its share, renew.
    #[default]
    Serve,
    /// Stand aside: hand every key and the membership over and ask for nothing until
    /// told to serve again (then it joins anew, under a new membership epoch).
    Aside,
    /// Graceful stop: hand everything over, the membership last.
    Stop,
}

/// What the driver does this round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Keys to ask for (each its own compare-and-set).
    pub acquire: Vec<String>,
    /// Keys to give up: the node already stopped acting on them.
    pub release: Vec<(String, u64)>,
    /// Everything still held, membership included: one renewal.
    pub renew: Vec<(String, u64)>,
    /// Wall-clock time (ms) at which another member's rows lapse: run the next round
    /// then rather than at the next tick.
    pub wake_at: Option<u64>,
    /// What stopped being owned this round (deadline passed, handed over).
    pub changes: Vec<Change>,
    /// Live members seen this round, this node included (0 before it joined).
    pub live_members: usize,
}

/// One node's view of what it holds.
#[derive(Debug, Clone)]
pub struct Ownership {
    me: NodeId,
    timing: LeaseTiming,
    skew_ms: u64,
    held: BTreeMap<String, Holding>,
    member_key: String,
}

impl Ownership {
    pub fn new(me: NodeId, timing: LeaseTiming, skew_ms: u64) -> Self {
        let member_key = membership::key(&me.name);
        Self {
            me,
            timing,
            skew_ms,
            held: BTreeMap::new(),
            member_key,
        }
    }

    pub fn me(&self) -> &NodeId {
        &self.me
    }

    /// This node's membership key.
    pub fn member_key(&self) -> &str {
        &self.member_key
    }

    /// Whether this node is a member now (its membership granted and not past its
    /// deadline).
    pub fn joined(&self, mono_now: u64) -> bool {
        self.owns(&self.member_key, mono_now).is_some()
    }

    /// The epoch under which this node may act on `key` at `mono_now`.
    pub fn owns(&self, key: &str, mono_now: u64) -> Option<u64> {
        self.held
            .get(key)
            .filter(|h| h.may_serve(mono_now))
            .map(|h| h.epoch)
    }

    /// Every key this node may act on at `mono_now` (membership excluded).
    pub fn owned(&self, mono_now: u64) -> Vec<(String, u64)> {
        self.held
            .iter()
            .filter(|(k, h)| **k != self.member_key && h.may_serve(mono_now))
            .map(|(k, h)| (k.clone(), h.epoch))
            .collect()
    }

    /// The earliest local deadline among the keys held (when the driver must check
    /// again even if the store does not answer).
    pub fn next_deadline(&self) -> Option<u64> {
        self.held.values().map(|h| h.valid_until).min()
    }

    /// Drops every key whose local deadline passed at `mono_now` (checked by the
    /// driver's watchdog as well as at every round, so that a store call that hangs
    /// does not keep the node acting).
    pub fn expire(&mut self, mono_now: u64) -> Vec<Change> {
        let expired: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| !h.may_serve(mono_now))
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .map(|key| {
                self.held.remove(&key);
                Change::Lost {
                    key,
                    why: Why::Deadline,
                }
            })
            .collect()
    }

    /// Gives up every key held (membership last) with `why`; returns the releases.
    fn give_up_all(&mut self, why: Why, round: &mut Round) {
        let member = self.held.remove(&self.member_key);
        for (key, h) in std::mem::take(&mut self.held) {
            round.changes.push(Change::Lost {
                key: key.clone(),
                why,
            });
            round.release.push((key, h.epoch));
        }
        if let Some(h) = member {
            round.changes.push(Change::Lost {
                key: self.member_key.clone(),
                why,
            });
            round.release.push((self.member_key.clone(), h.epoch));
        }
    }

    /// Plans a round over `keys` (the placed keys of the cluster: shards, queues,
    /// singletons) and `sticky` keys, from `rows` (every lease row, members included)
    /// read at wall-clock `wall_now` and monotonic `mono_now`. [`Intent::Stop`] and
    /// [`Intent::Aside`]: hand everything over — nothing is acquired, every key is
    /// released, the membership last.
    pub fn plan(
        &mut self,
        keys: &[String],
        sticky: &[String],
        rows: &BTreeMap<String, Lease>,
        wall_now: u64,
        mono_now: u64,
        intent: Intent,
    ) -> Round {
        let mut round = Round {
            // 1. Past the deadline: stop acting.
            changes: self.expire(mono_now),
            ..Round::default()
        };
        match intent {
            Intent::Serve => {}
            Intent::Stop => {
                self.give_up_all(Why::HandedOver, &mut round);
                return round;
            }
            Intent::Aside => {
                self.give_up_all(Why::Aside, &mut round);
                return round;
            }
        }
        if !self.held.contains_key(&self.member_key) {
            // Not a member (yet, or any more): join first; own nothing before.
            let row = rows.get(&self.member_key);
            if claim(row, &self.me, wall_now, self.skew_ms) != Claim::Held {
                // A membership of this run that it stopped holding (its deadline
                // passed: paused, or cut off from the store) is released first, so
                // the node joins anew under a new epoch instead of renewing the old
                // one: nothing of that epoch is held here any more (every key went
                // with it), and the others see a new member.
                if let Some(l) = row.filter(|l| l.holder == self.me && l.expires_at != RELEASED) {
                    round.release.push((self.member_key.clone(), l.epoch));
                }
                round.acquire.push(self.member_key.clone());
            }
            self.give_up_all(Why::Deadline, &mut round);
            return round;
        }
        // 2. The live members, this node included.
        let mut live: Vec<NodeId> = rows
            .iter()
            .filter(|(k, l)| membership::name(k).is_some() && !l.lapsed(wall_now, self.skew_ms))
            .map(|(_, l)| l.holder.clone())
            .filter(|n| n.name != self.me.name)
            .collect();
        live.push(self.me.clone());
        round.live_members = live.len();
        // The next moment a row held by another node lapses (a member, or a key of a
        // member that died before its first renewal aligned them).
        round.wake_at = rows
            .values()
            .filter(|l| l.holder.name != self.me.name && !l.lapsed(wall_now, self.skew_ms))
            .map(|l| l.expires_at.saturating_add(self.skew_ms) + 1)
            .min();
        let desired: BTreeSet<&String> = keys
            .iter()
            .filter(|k| placement::owner(k, &live).is_some_and(|n| n.name == self.me.name))
            .collect();
        // 3. Hand over what another member should own.
        let handed: Vec<String> = self
            .held
            .keys()
            .filter(|k| **k != self.member_key && !desired.contains(k) && !sticky.contains(k))
            .cloned()
            .collect();
        for key in handed {
            if let Some(h) = self.held.remove(&key) {
                round.changes.push(Change::Lost {
                    key: key.clone(),
                    why: Why::HandedOver,
                });
                round.release.push((key, h.epoch));
            }
        }
        // 4. Ask for what this node should own (and any free sticky key), where the
        // rule allows.
        round.acquire = desired
            .into_iter()
            .chain(sticky)
            .filter(|k| !self.held.contains_key(*k))
            .filter(|k| claim(rows.get(*k), &self.me, wall_now, self.skew_ms) != Claim::Held)
            .cloned()
            .collect();
        // 5. Renew everything held, when a renewal is due (rounds may run more often
        // than renewals: a node waiting for a key polls the rows).
        if self
            .held
            .values()
            .any(|h| h.renew_due(mono_now, &self.timing))
        {
            round.renew = self
                .held
                .iter()
                .map(|(k, h)| (k.clone(), h.epoch))
                .collect();
        }
        round
    }

    /// The store granted `key` under `epoch` to the request sent at `sent_mono`.
    pub fn granted(&mut self, key: &str, epoch: u64, sent_mono: u64) -> Option<Change> {
        match self.held.get_mut(key) {
            Some(h) if h.epoch == epoch => {
                h.renewed(sent_mono, &self.timing);
                None
            }
            _ => {
                self.held.insert(
                    key.to_owned(),
                    Holding::granted(epoch, sent_mono, &self.timing),
                );
                Some(Change::Gained {
                    key: key.to_owned(),
                    epoch,
                })
            }
        }
    }

    /// The renewal of `renewed` sent at `sent_mono` came back with `lost` no longer
    /// held; the rest are renewed. Losing the membership loses everything (a newer run
    /// of this name took over).
    pub fn renewed(
        &mut self,
        renewed: &[(String, u64)],
        lost: &[String],
        sent_mono: u64,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let lost: BTreeSet<&String> = lost.iter().collect();
        if lost.contains(&self.member_key) {
            for (key, _) in std::mem::take(&mut self.held) {
                changes.push(Change::Lost {
                    key,
                    why: Why::Taken,
                });
            }
            return changes;
        }
        for (key, epoch) in renewed {
            if lost.contains(key) {
                if self.held.get(key).is_some_and(|h| h.epoch == *epoch) {
                    self.held.remove(key);
                    changes.push(Change::Lost {
                        key: key.clone(),
                        why: Why::Taken,
                    });
                }
            } else if let Some(h) = self.held.get_mut(key).filter(|h| h.epoch == *epoch) {
                h.renewed(sent_mono, &self.timing);
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests;
