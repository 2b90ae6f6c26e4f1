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
//! touches the needs it meets (O(those × log n)) when only its key or classes changed,
//! every need when its skills did; freeing a need is O(1) (its members' entries go
//! stale, see `Filed`). It also notes each need whose index of a class goes empty or
//! not, for the router's waiting lanes (`lanes.rs`). Needs no waiting conversation
//! uses are kept, up to [`IDLE_MAX`], so a requirement that comes and goes is not
//! rebuilt each time.
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
    /// Every agent that meets it, routable or not, with its score. The key and
    /// classes it is filed under are its `Filed` entry's (the same in every need).
    members: Map<AgentId, u32>,
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
        self.members.get(agent).copied()
    }

    /// Files `snap` afresh (its skills may have changed) under `key` and classes
    /// `mask`, after taking it out from under `old` (the key and classes it was
    /// filed under, if it was); returns its score if it meets the need.
    fn file(
        &mut self,
        snap: &AgentSnapshot,
        (key, mask): (StrategyKey, u8),
        old: Option<(StrategyKey, u8)>,
    ) -> Option<u32> {
        if let Some(old) = old {
            self.unfile(&snap.id, old);
        }
        if !meets(&snap.skills, &self.key.floors) {
            return None;
        }
        let s = score(&snap.skills, &self.key.weighs);
        self.insert(s, key, mask & self.active(), &snap.id);
        self.members.insert(snap.id.clone(), s);
        Some(s)
    }

    /// Moves member `id` (score `s`, skills unchanged) from `old` to `new` (key and
    /// classes); only the classes indexed here move.
    fn refile(&mut self, id: &AgentId, s: u32, old: (StrategyKey, u8), new: (StrategyKey, u8)) {
        let active = self.active();
        if old.0 == new.0 && (old.1 ^ new.1) & active == 0 {
            return;
        }
        self.remove(s, old.0, old.1 & active, id);
        self.insert(s, new.0, new.1 & active, id);
    }

    /// The classes whose index has an agent now, as a bit mask.
    pub fn live(&self) -> u8 {
        self.index
            .iter()
            .enumerate()
            .fold(0, |m, (ci, x)| m | (u8::from(!x.is_empty()) << ci))
    }

    /// The classes indexed now, as a bit mask.
    fn active(&self) -> u8 {
        self.class_refs
            .iter()
            .enumerate()
            .fold(0, |m, (ci, n)| m | (u8::from(*n > 0) << ci))
    }

    /// A conversation of class `ci` started using this need: the class's index is
    /// built from the members (filed as `agents` says) when it is the first.
    fn take(&mut self, ci: usize, agents: &Map<AgentId, Filed>) {
        self.refs += 1;
        self.class_refs[ci] += 1;
        if self.class_refs[ci] == 1 {
            for (id, s) in &self.members {
                let Some(f) = agents.get(id) else { continue };
                if f.mask & (1 << ci) != 0 {
                    self.index[ci].insert((Reverse(*s), f.key, id.clone()));
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

    /// Takes member `id`, filed under `(key, mask)`, out.
    fn unfile(&mut self, id: &AgentId, (key, mask): (StrategyKey, u8)) {
        if let Some(s) = self.members.remove(id) {
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

/// One need an agent meets, as its `Filed` entry lists it: the need's id and
/// generation (the entry is stale once the need is freed), and the agent's score.
type Met = (NeedId, u32, u32);

/// What the table knows of one agent: the skills, strategy key and classes it was last
/// filed with (in every need it meets), and those needs with its score in each, so a
/// decision's update moves it without looking it up in each need. Freeing a need does
/// not visit its members (that cost O(members × needs) inside a decision): their
/// entries go stale and are dropped the next time the list is walked, or once it has
/// doubled since it was last cleaned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filed {
    skills: SkillFloors,
    key: StrategyKey,
    mask: u8,
    needs: Vec<Met>,
    /// Clean `needs` of stale entries when it reaches this length.
    clean_at: usize,
}

impl Filed {
    /// Notes that `needs` grew: drops stale entries when it doubled since last time.
    fn grew(&mut self, gens: &[u32]) {
        if self.needs.len() >= self.clean_at {
            self.needs.retain(|m| gens[m.0 as usize] == m.1);
            self.clean_at = (2 * self.needs.len()).max(16);
        }
    }
}

/// The table of needs of one queue.
#[derive(Debug, Clone)]
pub(crate) struct Needs {
    /// At most this many needs (default [`NEEDS_MAX`]).
    pub max: usize,
    slots: Vec<Option<Need>>,
    /// Per slot: bumped each time its need is freed (see `Met`).
    gens: Vec<u32>,
    by_key: Map<NeedKey, NeedId>,
    /// Needs with no reference, by release time: evicted oldest first.
    idle: BTreeSet<(u64, NeedId)>,
    clock: u64,
    /// Per agent filed while needs existed: its skills then and the needs it meets, so
    /// that a decision's update touches only those.
    agents: Map<AgentId, Filed>,
    /// Needs whose index of some class went from empty to not or back since the
    /// router last took them (`take_changed`): its waiting lanes follow.
    changed: Vec<NeedId>,
}

/// Runs `f` on need `n` (id `id`) and notes the need in `changed` if some class index
/// went from empty to not or back.
fn watched<R>(
    changed: &mut Vec<NeedId>,
    id: NeedId,
    n: &mut Need,
    f: impl FnOnce(&mut Need) -> R,
) -> R {
    let before = n.live();
    let r = f(n);
    if n.live() != before {
        changed.push(id);
    }
    r
}

impl Default for Needs {
    fn default() -> Self {
        Needs {
            max: NEEDS_MAX,
            slots: Vec::new(),
            gens: Vec::new(),
            by_key: Map::default(),
            idle: BTreeSet::new(),
            clock: 0,
            agents: Map::default(),
            changed: Vec::new(),
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
            n.take(class.index(), &self.agents);
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
                self.gens.push(0);
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
        need.take(class.index(), &self.agents);
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
            let now = (k, mask_of(indexed));
            let Some(f) = self.agents.get_mut(&snap.id) else {
                continue;
            };
            // Its key and classes are stale only if they changed while no need existed
            // (the router does not file agents then), and then it is in no need.
            debug_assert!(
                (f.key, f.mask) == now || f.needs.iter().all(|m| self.gens[m.0 as usize] != m.1)
            );
            (f.key, f.mask) = now;
            let n = self.slots[id as usize].as_mut().expect("needs: new id");
            if let Some(s) = watched(&mut self.changed, id, n, |n| n.file(snap, now, None)) {
                f.needs.push((id, self.gens[id as usize], s));
                f.grew(&self.gens);
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

    /// Frees a need; its members' entries of it go stale (see `Filed`).
    fn free(&mut self, id: NeedId) {
        if let Some(n) = self.slots[id as usize].take() {
            self.by_key.remove(&n.key);
            self.gens[id as usize] = self.gens[id as usize].wrapping_add(1);
        }
    }

    /// Files an agent's new state: only in the needs it meets when its skills did
    /// not change (O(those)), else afresh in every need (O(needs)).
    pub fn update_agent(&mut self, (snap, key, indexed): AgentView<'_>) {
        let now = (key, mask_of(indexed));
        let mut old = None;
        if let Some(f) = self.agents.get_mut(&snap.id) {
            let was = (f.key, f.mask);
            if f.skills == snap.skills {
                // The common case after a decision under longest-idle: one slot fewer,
                // still routable in the same classes, same key: nothing moves.
                if was == now {
                    return;
                }
                (f.key, f.mask) = now;
                let (slots, gens, changed) = (&mut self.slots, &self.gens, &mut self.changed);
                f.needs.retain(|&(id, gen, s)| {
                    if gens[id as usize] != gen {
                        return false;
                    }
                    if let Some(n) = slots[id as usize].as_mut() {
                        watched(changed, id, n, |n| n.refile(&snap.id, s, was, now));
                    }
                    true
                });
                return;
            }
            old = Some(was);
        }
        let mut needs = Vec::new();
        for (id, n) in self.slots.iter_mut().enumerate() {
            if let Some(n) = n {
                let id = id as NeedId;
                if let Some(s) = watched(&mut self.changed, id, n, |n| n.file(snap, now, old)) {
                    needs.push((id, self.gens[id as usize], s));
                }
            }
        }
        self.agents.insert(
            snap.id.clone(),
            Filed {
                skills: snap.skills.clone(),
                key,
                mask: now.1,
                clean_at: (2 * needs.len()).max(16),
                needs,
            },
        );
    }

    /// Forgets an agent everywhere (O(needs it meets)).
    pub fn remove_agent(&mut self, id: &AgentId) {
        if let Some(f) = self.agents.remove(id) {
            for (n, gen, _) in f.needs {
                if self.gens[n as usize] != gen {
                    continue;
                }
                if let Some(need) = self.slots[n as usize].as_mut() {
                    watched(&mut self.changed, n, need, |need| {
                        need.unfile(id, (f.key, f.mask))
                    });
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

    /// One of the needs noted in `changed` since the router last took them (possibly
    /// repeated, possibly freed since).
    pub fn pop_changed(&mut self) -> Option<NeedId> {
        self.changed.pop()
    }

    /// Whether some agent is in need `id`'s index of class `ci` (false for a freed id).
    pub fn has_agent(&self, id: NeedId, ci: usize) -> bool {
        self.slots
            .get(id as usize)
            .and_then(Option::as_ref)
            .is_some_and(|n| !n.index[ci].is_empty())
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
                let s = score(&snap.skills, &n.key.weighs);
                let listed = self
                    .agents
                    .get(&snap.id)
                    .is_some_and(|f| f.needs.contains(&(id, self.gens[id as usize], s)));
                assert_eq!(listed, ok, "needs: {}'s list of needs", snap.id);
                if ok {
                    assert_eq!(n.members.get(&snap.id), Some(&s), "needs: member score");
                    let f = &self.agents[&snap.id];
                    assert_eq!((f.key, f.mask), (key, mask_of(indexed)), "needs: filed key");
                }
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
