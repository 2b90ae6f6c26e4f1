//! Per-requirement agent indexes: for each distinct (required skills, ranked skills)
//! of the waiting conversations, the free agents who meet it, best first.
//!
//! Owns the `Needs` table: one [`Need`] per distinct requirement in use, reference
//! counted by the waiting conversations' rings, each holding per channel class the
//! agents that are routable in the class *and* meet the requirement, ordered by
//! proficiency score (higher first), then the strategy key, then id. A decision for a
//! conversation with skills walks its need's index from the front exactly as a plain
//! conversation walks the class index, so it costs O(log n + tried) whatever the skill
//! mix. It must not decide anything (see `router.rs`), do I/O or read a clock.
//!
//! Costs: creating a need scans every agent once (O(agents)); an agent's update
//! touches every need (O(needs log n)). Needs no waiting conversation uses are kept,
//! up to [`IDLE_MAX`], so a requirement that comes and goes is not rebuilt each time.
//! At most [`NEEDS_MAX`] needs exist; a conversation whose requirement finds the table
//! full is routed by walking the front of the class index instead (see
//! `QueueRouter::place`), as is one whose ring requires nothing but ranks by skills
//! (such a need would index every agent of the queue).

use super::hash::FastState;
use super::keys::StrategyKey;
use super::types::AgentSnapshot;
use super::widening::{score, Weighs};
use domain::{meets, AgentId, ChannelClass, SkillFloors};
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

/// At most this many needs (live and idle) per queue.
pub const NEEDS_MAX: usize = 1024;

/// At most this many needs no waiting conversation uses are kept for reuse.
pub const IDLE_MAX: usize = 64;

type Map<K, V> = HashMap<K, V, FastState>;

/// One entry of a need's class index: score (higher first), strategy key, id.
pub(crate) type NeedEntry = (Reverse<u32>, StrategyKey, AgentId);

/// A need's id in the table (stable while it exists).
pub(crate) type NeedId = u32;

/// What identifies a need: the skills an agent must meet, and the skills (with
/// weights) it is ranked on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NeedKey {
    pub floors: SkillFloors,
    pub weighs: Weighs,
}

/// One requirement in use and its agents.
#[derive(Debug, Clone)]
pub(crate) struct Need {
    pub key: NeedKey,
    /// Waiting conversations' rings that use it.
    refs: usize,
    /// The same, per channel class: only classes with some are indexed, so an agent
    /// leaving a class no conversation of this need waits in (voice, when it takes a
    /// chat) costs nothing here.
    class_refs: [usize; 4],
    /// When it was last released (a counter), for evicting idle needs oldest first.
    released: u64,
    /// Per class with waiting conversations (`class_refs`): the routable agents that
    /// meet `key.floors`, best first. Empty for the other classes.
    pub index: [BTreeSet<NeedEntry>; 4],
    /// Every agent that meets it, routable or not, with the score and key it is filed
    /// under and the classes it is in (bit mask by class index; 0: in none).
    members: Map<AgentId, (u32, StrategyKey, u8)>,
}

/// The classes an agent is routable in, as a bit mask by class index.
fn mask_of(indexed: [bool; 4]) -> u8 {
    indexed
        .iter()
        .enumerate()
        .fold(0, |m, (ci, on)| m | (u8::from(*on) << ci))
}

impl Need {
    /// The score `agent` is filed under, if it meets the need.
    pub fn score_of(&self, agent: &AgentId) -> Option<u32> {
        self.members.get(agent).map(|m| m.0)
    }

    /// Files `snap` afresh (its skills may have changed); returns whether it meets
    /// the need.
    fn file(&mut self, snap: &AgentSnapshot, key: StrategyKey, indexed: [bool; 4]) -> bool {
        self.unfile(&snap.id);
        if !meets(&snap.skills, &self.key.floors) {
            return false;
        }
        let s = score(&snap.skills, &self.key.weighs);
        let mask = mask_of(indexed);
        self.insert(s, key, mask & self.active(), &snap.id);
        self.members.insert(snap.id.clone(), (s, key, mask));
        true
    }

    /// Moves a member whose skills did not change to its new key and classes (nothing
    /// to do when neither changed, the common case after a decision).
    fn refile(&mut self, id: &AgentId, key: StrategyKey, indexed: [bool; 4]) {
        let mask = mask_of(indexed);
        let active = self.active();
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        let (s, old_key, old_mask) = *m;
        m.1 = key;
        m.2 = mask;
        if old_key == key && (old_mask ^ mask) & active == 0 {
            return;
        }
        self.remove(s, old_key, old_mask & active, id);
        self.insert(s, key, mask & active, id);
    }

    /// The classes indexed now, as a bit mask.
    fn active(&self) -> u8 {
        self.class_refs
            .iter()
            .enumerate()
            .fold(0, |m, (ci, n)| m | (u8::from(*n > 0) << ci))
    }

    /// A conversation of class `ci` started using this need: the class's index is
    /// built from the members when it is the first.
    fn take(&mut self, ci: usize) {
        self.refs += 1;
        self.class_refs[ci] += 1;
        if self.class_refs[ci] == 1 {
            for (id, (s, key, mask)) in &self.members {
                if mask & (1 << ci) != 0 {
                    self.index[ci].insert((Reverse(*s), *key, id.clone()));
                }
            }
        }
    }

    /// A conversation of class `ci` stopped using this need: the class's index goes
    /// when it was the last.
    fn give_back(&mut self, ci: usize) {
        self.refs -= 1;
        self.class_refs[ci] -= 1;
        if self.class_refs[ci] == 0 {
            self.index[ci].clear();
        }
    }

    fn unfile(&mut self, id: &AgentId) {
        if let Some((s, key, mask)) = self.members.remove(id) {
            let active = self.active();
            self.remove(s, key, mask & active, id);
        }
    }

    fn insert(&mut self, s: u32, key: StrategyKey, mask: u8, id: &AgentId) {
        for (ci, index) in self.index.iter_mut().enumerate() {
            if mask & (1 << ci) != 0 {
                index.insert((Reverse(s), key, id.clone()));
            }
        }
    }

    fn remove(&mut self, s: u32, key: StrategyKey, mask: u8, id: &AgentId) {
        if mask == 0 {
            return;
        }
        let e = (Reverse(s), key, id.clone());
        for (ci, index) in self.index.iter_mut().enumerate() {
            if mask & (1 << ci) != 0 {
                index.remove(&e);
            }
        }
    }
}

/// What the table knows of one agent: the skills, strategy key and classes it was last
/// filed with, and the needs it meets.
#[derive(Debug, Clone, Default)]
struct Filed {
    skills: SkillFloors,
    key: StrategyKey,
    mask: u8,
    needs: Vec<NeedId>,
}

/// The table of needs of one queue.
#[derive(Debug, Clone)]
pub(crate) struct Needs {
    /// At most this many needs (default [`NEEDS_MAX`]).
    pub max: usize,
    slots: Vec<Option<Need>>,
    by_key: Map<NeedKey, NeedId>,
    /// Needs with no reference, by release time: evicted oldest first.
    idle: BTreeSet<(u64, NeedId)>,
    clock: u64,
    /// Per agent filed while needs existed: its skills then and the needs it meets, so
    /// that a decision's update touches only those.
    agents: Map<AgentId, Filed>,
}

impl Default for Needs {
    fn default() -> Self {
        Needs {
            max: NEEDS_MAX,
            slots: Vec::new(),
            by_key: Map::default(),
            idle: BTreeSet::new(),
            clock: 0,
            agents: Map::default(),
        }
    }
}

/// An agent as the needs see it: snapshot, strategy key, routable classes.
pub(crate) type AgentView<'a> = (&'a AgentSnapshot, StrategyKey, [bool; 4]);

impl Needs {
    /// The need `id`; panics if it was freed (a caller holding a reference never sees
    /// that).
    pub fn get(&self, id: NeedId) -> &Need {
        self.slots[id as usize].as_ref().expect("needs: live id")
    }

    /// Takes a reference to the need for `key`, creating it (one scan of `agents`)
    /// if it does not exist. `None` when the table is full of needs in use.
    pub fn acquire<'a>(
        &mut self,
        key: NeedKey,
        class: ChannelClass,
        agents: impl Iterator<Item = AgentView<'a>>,
    ) -> Option<NeedId> {
        if let Some(&id) = self.by_key.get(&key) {
            let n = self.slots[id as usize].as_mut().expect("needs: keyed id");
            if n.refs == 0 {
                self.idle.remove(&(n.released, id));
            }
            n.take(class.index());
            return Some(id);
        }
        if self.by_key.len() >= self.max {
            let (_, oldest) = self.idle.pop_first()?;
            self.free(oldest);
        }
        let id = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        } as NeedId;
        self.by_key.insert(key.clone(), id);
        let mut need = Need {
            key,
            refs: 0,
            class_refs: [0; 4],
            released: 0,
            index: Default::default(),
            members: Map::default(),
        };
        need.take(class.index());
        self.slots[id as usize] = Some(need);
        for view in agents {
            let stale = self
                .agents
                .get(&view.0.id)
                .is_none_or(|f| f.skills != view.0.skills);
            if stale {
                // Never filed, or its skills changed while no need existed: file it
                // everywhere (this need included).
                self.update_agent(view);
                continue;
            }
            let (snap, k, indexed) = view;
            let n = self.slots[id as usize].as_mut().expect("needs: new id");
            if n.file(snap, k, indexed) {
                if let Some(f) = self.agents.get_mut(&snap.id) {
                    f.needs.push(id);
                }
            }
        }
        Some(id)
    }

    /// Drops a reference; a need nobody uses is kept idle (up to [`IDLE_MAX`]).
    pub fn release(&mut self, id: NeedId, class: ChannelClass) {
        self.clock += 1;
        let clock = self.clock;
        let n = self.slots[id as usize]
            .as_mut()
            .expect("needs: released id");
        n.give_back(class.index());
        if n.refs > 0 {
            return;
        }
        n.released = clock;
        self.idle.insert((clock, id));
        if self.idle.len() > IDLE_MAX || self.by_key.len() > self.max {
            if let Some((_, oldest)) = self.idle.pop_first() {
                self.free(oldest);
            }
        }
    }

    fn free(&mut self, id: NeedId) {
        if let Some(n) = self.slots[id as usize].take() {
            self.by_key.remove(&n.key);
            for agent in n.members.keys() {
                if let Some(f) = self.agents.get_mut(agent) {
                    f.needs.retain(|x| *x != id);
                }
            }
        }
    }

    /// Files an agent's new state: only in the needs it meets when its skills did
    /// not change (O(those)), else afresh in every need (O(needs)).
    pub fn update_agent(&mut self, (snap, key, indexed): AgentView<'_>) {
        let mask = mask_of(indexed);
        if let Some(f) = self.agents.get_mut(&snap.id) {
            if f.skills == snap.skills {
                // The common case after a decision under longest-idle: one slot fewer,
                // still routable in the same classes, same key: nothing moves.
                if f.key == key && f.mask == mask {
                    return;
                }
                f.key = key;
                f.mask = mask;
                for id in &f.needs {
                    if let Some(n) = self.slots[*id as usize].as_mut() {
                        n.refile(&snap.id, key, indexed);
                    }
                }
                return;
            }
        }
        let mut needs = Vec::new();
        for (id, n) in self.slots.iter_mut().enumerate() {
            if let Some(n) = n {
                if n.file(snap, key, indexed) {
                    needs.push(id as NeedId);
                }
            }
        }
        self.agents.insert(
            snap.id.clone(),
            Filed {
                skills: snap.skills.clone(),
                key,
                mask,
                needs,
            },
        );
    }

    /// Forgets an agent everywhere (O(needs it meets)).
    pub fn remove_agent(&mut self, id: &AgentId) {
        if let Some(f) = self.agents.remove(id) {
            for n in f.needs {
                if let Some(n) = self.slots[n as usize].as_mut() {
                    n.unfile(id);
                }
            }
        }
    }

    /// Drops every need (the rules changed; the router re-acquires).
    pub fn clear(&mut self) {
        *self = Needs {
            max: self.max,
            ..Needs::default()
        };
    }

    /// How many needs exist (live and idle).
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Panics unless every need indexes exactly the routable agents that meet it,
    /// under their current key and score, and its reference count is `refs[id]`.
    pub fn check<'a>(
        &self,
        agents: impl Iterator<Item = AgentView<'a>> + Clone,
        refs: &Map<NeedId, usize>,
        class_refs: &Map<(NeedId, usize), usize>,
    ) {
        assert_eq!(
            self.by_key.len(),
            self.slots.iter().flatten().count(),
            "needs: keys vs slots"
        );
        for (id, n) in self.slots.iter().enumerate() {
            let Some(n) = n else { continue };
            let id = id as NeedId;
            assert_eq!(self.by_key.get(&n.key), Some(&id), "needs: stale key");
            let want = refs.get(&id).copied().unwrap_or(0);
            assert_eq!(n.refs, want, "needs: reference count of {:?}", n.key);
            for (ci, have) in n.class_refs.iter().enumerate() {
                let want = class_refs.get(&(id, ci)).copied().unwrap_or(0);
                assert_eq!(*have, want, "needs: class {ci} references");
            }
            assert_eq!(
                self.idle.contains(&(n.released, id)),
                n.refs == 0,
                "needs: idle membership"
            );
            let mut count = [0usize; 4];
            let mut eligible = 0;
            for (snap, key, indexed) in agents.clone() {
                let ok = meets(&snap.skills, &n.key.floors);
                eligible += usize::from(ok);
                assert_eq!(
                    n.members.contains_key(&snap.id),
                    ok,
                    "needs: {} membership of {:?}",
                    snap.id,
                    n.key.floors
                );
                let listed = self
                    .agents
                    .get(&snap.id)
                    .is_some_and(|f| f.needs.contains(&id));
                assert_eq!(listed, ok, "needs: {}'s list of needs", snap.id);
                let s = score(&snap.skills, &n.key.weighs);
                for (ci, class) in ChannelClass::ALL.iter().enumerate() {
                    debug_assert_eq!(class.index(), ci);
                    let want = ok && indexed[ci] && n.class_refs[ci] > 0;
                    assert_eq!(
                        n.index[ci].contains(&(Reverse(s), key, snap.id.clone())),
                        want,
                        "needs: {} in {:?} class {ci}",
                        snap.id,
                        n.key.floors
                    );
                    count[ci] += usize::from(want);
                }
            }
            assert_eq!(n.members.len(), eligible, "needs: stray members");
            for (index, count) in n.index.iter().zip(count) {
                assert_eq!(index.len(), count, "needs: stray index entries");
            }
        }
        assert!(self.idle.len() <= IDLE_MAX, "needs: too many idle");
    }
}
