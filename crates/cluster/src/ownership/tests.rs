//! The ownership loop simulated: nodes with drifting monotonic clocks and skewed wall
//! clocks run rounds against the store's rules ([`LeaseTable`]) through a network with
//! random delays, while nodes crash, pause, are cut off from the store, join and leave
//! gracefully. At no millisecond may two running nodes act on one key; once the faults
//! stop, every key ends with the member placement names.

use super::*;
use crate::lease::LeaseTable;
use proptest::prelude::*;

const SKEW: u64 = 500;
const KEYS: usize = 24;

fn keys() -> Vec<String> {
    (0..KEYS)
        .map(|i| format!("shard/{i}"))
        .chain(["singleton/hub".to_owned(), "queue/support".to_owned()])
        .collect()
}

fn node(name: &str, incarnation: u64) -> NodeId {
    NodeId {
        name: name.into(),
        incarnation,
    }
}

/// A request in flight to the store, or its answer back.
#[derive(Debug, Clone)]
enum Leg {
    /// Read every row (arrives at the store).
    Read,
    /// Rows back at the node.
    Rows { rows: BTreeMap<String, Lease> },
    /// The round's writes (arrive at the store); `wall` is the node's wall clock when
    /// it sent them.
    Writes { round: Round, sent: u64, wall: u64 },
    /// The writes' outcomes back at the node.
    Outcomes {
        granted: Vec<(String, u64)>,
        renewed: Vec<(String, u64)>,
        lost: Vec<String>,
        sent: u64,
    },
}

struct Sim {
    own: Ownership,
    mono_offset: u64,
    rate_ppm: u64,
    wall_offset: u64,
    /// The leg in flight and when it arrives (real ms).
    leg: Option<(u64, Leg)>,
    /// Next round due (local monotonic ms).
    next_round: u64,
    /// Wake early at this wall time.
    wake_at: Option<u64>,
    /// Running during [start, end) of real time (crash = end; never started = start
    /// past the run).
    alive: (u64, u64),
    /// Paused during [from, to).
    pause: (u64, u64),
    /// Cut off from the store during [from, to): legs arrive only after it.
    cut: (u64, u64),
    /// Leaves gracefully from this real time on.
    leave_at: u64,
    left: bool,
}

impl Sim {
    fn mono(&self, real: u64) -> u64 {
        self.mono_offset + real * self.rate_ppm / 1_000_000
    }
    fn wall(&self, real: u64) -> u64 {
        real + SKEW + self.wall_offset - SKEW / 2
    }
    fn running(&self, real: u64) -> bool {
        (self.alive.0..self.alive.1).contains(&real)
            && !(self.pause.0..self.pause.1).contains(&real)
            && !self.left
    }
    fn arrives(&self, real: u64, delay: u64) -> u64 {
        if (self.cut.0..self.cut.1).contains(&real) {
            self.cut.1 + delay
        } else {
            real + delay
        }
    }
}

/// What the store answered a round: (granted, renewal sent, lost).
type Outcomes = (Vec<(String, u64)>, Vec<(String, u64)>, Vec<String>);

/// Applies a round's writes at the store, in the order the driver sends them:
/// releases, acquisitions, then the renewal.
fn apply(
    table: &mut LeaseTable,
    me: &NodeId,
    round: &Round,
    wall: u64,
    timing: &LeaseTiming,
) -> Outcomes {
    for (key, epoch) in &round.release {
        table.release(key, me, *epoch);
    }
    let granted = round
        .acquire
        .iter()
        .filter_map(|k| {
            table
                .acquire(k, me, wall, timing.ttl_ms, SKEW)
                .ok()
                .map(|l| (k.clone(), l.epoch))
        })
        .collect();
    let mut lost = Vec::new();
    for (key, epoch) in &round.renew {
        if table.renew(key, me, *epoch, wall, timing.ttl_ms).is_err() {
            lost.push(key.clone());
        }
    }
    (granted, round.renew.clone(), lost)
}

#[derive(Debug, Clone)]
struct Faults {
    crash: Vec<u64>,
    pauses: Vec<(u64, u64)>,
    cuts: Vec<(u64, u64)>,
    walls: Vec<u64>,
    rates: Vec<u64>,
    join_at: u64,
    leave_at: u64,
}

fn faults() -> impl Strategy<Value = Faults> {
    (
        proptest::collection::vec(prop_oneof![Just(u64::MAX), 5_000u64..25_000], 4),
        proptest::collection::vec((0u64..25_000, 0u64..9_000), 4),
        proptest::collection::vec((0u64..25_000, 0u64..9_000), 4),
        proptest::collection::vec(prop_oneof![Just(0), Just(SKEW), 0u64..=SKEW], 4),
        proptest::collection::vec(999_000u64..=1_001_000, 4),
        0u64..25_000,
        prop_oneof![Just(u64::MAX), 3_000u64..25_000],
    )
        .prop_map(
            |(crash, pauses, cuts, walls, rates, join_at, leave_at)| Faults {
                crash,
                pauses,
                cuts,
                walls,
                rates,
                join_at,
                leave_at,
            },
        )
}

/// Faults (crashes, pauses, cuts, slow legs, the join and the leave) happen in the
/// first 25 s; the run goes on quietly until `END`.
const FAULTS_END: u64 = 25_000;
const END: u64 = 45_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn never_two_owners_and_placement_once_quiet(
        seed in 1u64..u64::MAX,
        f in faults(),
        short in 0u64..40,
        long in 0u64..1_500,
    ) {
        let timing = LeaseTiming::default();
        let keys = keys();
        // A sticky key: whoever asks first, kept until lost.
        let sticky = vec!["singleton/active-engine".to_owned()];
        let mut rng = crate::Rng(seed);
        // Most legs are quick; while the faults last, one in eight is slow (a
        // retransmission, a GC pause) — a fault too: with legs that slow, a node can
        // miss its deadline at any time, so nothing would ever settle.
        let mut delay = move |real: u64| {
            if real < FAULTS_END && rng.below(8) == 0 {
                rng.below(long + 1)
            } else {
                rng.below(short + 1)
            }
        };
        let mut table = LeaseTable::default();
        let mut nodes: Vec<Sim> = (0..4)
            .map(|i| Sim {
                own: Ownership::new(node(&format!("n{i}"), 1), timing, SKEW),
                mono_offset: 7_000 * i as u64,
                rate_ppm: f.rates[i],
                wall_offset: f.walls[i],
                leg: None,
                next_round: 0,
                wake_at: None,
                // n3 joins later; the others crash (or not).
                alive: if i == 3 { (f.join_at, u64::MAX) } else { (0, f.crash[i]) },
                pause: (f.pauses[i].0, f.pauses[i].0 + f.pauses[i].1),
                cut: (f.cuts[i].0, f.cuts[i].0 + f.cuts[i].1),
                // n1 may leave gracefully.
                leave_at: if i == 1 { f.leave_at } else { u64::MAX },
                left: false,
            })
            .collect();
        // (key → epoch) of the last owner seen, to check epochs only grow.
        let mut last_epoch: BTreeMap<String, u64> = BTreeMap::new();
        for real in 0..END {
            for n in nodes.iter_mut() {
                // The store acts on what arrives, whatever the node is doing.
                if let Some((at, Leg::Read)) = n.leg.clone() {
                    if at == real {
                        let rows: BTreeMap<String, Lease> =
                            table.rows().map(|(k, l)| (k.clone(), l.clone())).collect();
                        let back = n.arrives(real, delay(real));
                        n.leg = Some((back, Leg::Rows { rows }));
                    }
                }
                if let Some((at, Leg::Writes { round, sent, wall })) = n.leg.clone() {
                    if at == real {
                        let me = n.own.me().clone();
                        let (granted, renewed, lost) = apply(&mut table, &me, &round, wall, &timing);
                        let back = n.arrives(real, delay(real));
                        n.leg = Some((back, Leg::Outcomes { granted, renewed, lost, sent }));
                    }
                }
                if !n.running(real) {
                    continue;
                }
                let mono = n.mono(real);
                let wall = n.wall(real);
                let stopping = real >= n.leave_at;
                match n.leg.clone() {
                    Some((at, Leg::Rows { rows, .. })) if at <= real => {
                        let round = n.own.plan(&keys, &sticky, &rows, wall, mono, intent(stopping));
                        n.wake_at = round.wake_at;
                        let at = n.arrives(real, 1 + delay(real));
                        n.leg = Some((at, Leg::Writes { round, sent: mono, wall }));
                    }
                    Some((at, Leg::Outcomes { granted, renewed, lost, sent })) if at <= real => {
                        n.leg = None;
                        for (k, e) in granted {
                            n.own.granted(&k, e, sent);
                        }
                        n.own.renewed(&renewed, &lost, sent);
                        if stopping {
                            n.left = true;
                        }
                    }
                    None => {
                        let due = mono >= n.next_round
                            || n.wake_at.is_some_and(|w| wall >= w)
                            || n.own.next_deadline().is_some_and(|d| mono >= d)
                            || stopping;
                        if due {
                            n.next_round = mono + timing.renew_every_ms;
                            n.wake_at = None;
                            let at = n.arrives(real, 1 + delay(real));
                            n.leg = Some((at, Leg::Read));
                        }
                    }
                    _ => {}
                }
            }
            // At most one running node acts on each key.
            let mut owners: BTreeMap<&String, Vec<(usize, u64)>> = BTreeMap::new();
            for (i, n) in nodes.iter().enumerate() {
                if !n.running(real) {
                    continue;
                }
                for k in keys.iter().chain(&sticky) {
                    if let Some(e) = n.own.owns(k, n.mono(real)) {
                        owners.entry(k).or_default().push((i, e));
                    }
                }
            }
            for (k, o) in &owners {
                prop_assert!(o.len() <= 1, "two owners of {} at {}: {:?}", k, real, o);
                let e = o[0].1;
                let last = last_epoch.entry((*k).clone()).or_insert(0);
                prop_assert!(e >= *last, "epoch of {} went back at {}", k, real);
                *last = e;
            }
        }
        // Quiet for the last 20 s: every key is owned, by the member placement names.
        let live: Vec<NodeId> = nodes
            .iter()
            .filter(|n| n.running(END - 1))
            .map(|n| n.own.me().clone())
            .collect();
        prop_assume!(!live.is_empty());
        for k in &keys {
            let want = placement::owner(k, &live).unwrap();
            let holders: Vec<&NodeId> = nodes
                .iter()
                .filter(|n| n.running(END - 1) && n.own.owns(k, n.mono(END - 1)).is_some())
                .map(|n| n.own.me())
                .collect();
            prop_assert_eq!(holders, vec![want], "{} at the end", k);
        }
        let sticky_holders = nodes
            .iter()
            .filter(|n| n.running(END - 1) && n.own.owns(&sticky[0], n.mono(END - 1)).is_some())
            .count();
        prop_assert_eq!(sticky_holders, 1, "the sticky key at the end");
    }
}

/// Every row of the table, as a node reads them.
fn rows(t: &LeaseTable) -> BTreeMap<String, Lease> {
    t.rows().map(|(k, l)| (k.clone(), l.clone())).collect()
}

/// Serving, or (`stopping`) the graceful stop.
fn intent(stopping: bool) -> Intent {
    if stopping {
        Intent::Stop
    } else {
        Intent::Serve
    }
}

/// One round of `o` applied at once (no delays): plan at `now` (both clocks), write,
/// learn the outcomes. The changes it reported, and its wake-up time.
fn step(
    o: &mut Ownership,
    t: &mut LeaseTable,
    keys: (&[String], &[String]),
    now: u64,
    stopping: bool,
) -> (Vec<Change>, Option<u64>) {
    step_as(o, t, keys, now, intent(stopping))
}

/// [`step`] with any intent.
fn step_as(
    o: &mut Ownership,
    t: &mut LeaseTable,
    (keys, sticky): (&[String], &[String]),
    now: u64,
    intent: Intent,
) -> (Vec<Change>, Option<u64>) {
    let round = o.plan(keys, sticky, &rows(t), now, now, intent);
    let me = o.me().clone();
    let mut changes = round.changes.clone();
    let (granted, renewed, lost) = apply(t, &me, &round, now, &LeaseTiming::default());
    for (k, e) in granted {
        changes.extend(o.granted(&k, e, now));
    }
    changes.extend(o.renewed(&renewed, &lost, now));
    (changes, round.wake_at)
}

#[test]
fn a_joining_member_gets_its_keys_handed_over_and_a_leaving_one_gives_all_up() {
    let timing = LeaseTiming::default();
    let keys = keys();
    let mut table = LeaseTable::default();
    let (a, b) = (node("a", 1), node("b", 1));
    let mut oa = Ownership::new(a.clone(), timing, SKEW);
    let mut ob = Ownership::new(b.clone(), timing, SKEW);
    let step = |o: &mut Ownership, t: &mut LeaseTable, now: u64, stopping: bool| {
        step(o, t, (&keys, &[]), now, stopping).0
    };
    // a alone: joins (its membership is a change too), then takes every key.
    assert_eq!(
        step(&mut oa, &mut table, 1_000, false),
        vec![Change::Gained {
            key: membership::key("a"),
            epoch: 1
        }]
    );
    assert!(oa.joined(1_000));
    let gained = step(&mut oa, &mut table, 1_001, false);
    assert_eq!(gained.len(), keys.len());
    assert_eq!(oa.owned(1_001).len(), keys.len());
    // b joins: a hands over b's keys on its next round; b takes them on its own.
    step(&mut ob, &mut table, 2_000, false);
    let handed = step(&mut oa, &mut table, 2_001, false);
    let lost: Vec<&String> = handed
        .iter()
        .filter_map(|c| match c {
            Change::Lost { key, why } => {
                assert_eq!(*why, Why::HandedOver);
                Some(key)
            }
            Change::Gained { .. } => None,
        })
        .collect();
    assert!(!lost.is_empty() && lost.len() < keys.len(), "{handed:?}");
    let taken = step(&mut ob, &mut table, 2_002, false);
    assert_eq!(
        taken.len(),
        lost.len(),
        "b takes exactly what a gave up at once"
    );
    for k in &keys {
        let owners = [oa.owns(k, 2_002), ob.owns(k, 2_002)];
        assert_eq!(owners.iter().flatten().count(), 1, "{k}");
    }
    // b leaves gracefully: it gives up everything; a takes it all on its next round,
    // without waiting for anything to lapse.
    step(&mut ob, &mut table, 3_000, true);
    assert!(ob.owned(3_000).is_empty() && !ob.joined(3_000));
    step(&mut oa, &mut table, 3_001, false);
    assert_eq!(oa.owned(3_001).len(), keys.len());
}

#[test]
fn a_member_standing_aside_gives_all_up_at_once_and_rejoins_under_a_new_epoch() {
    let timing = LeaseTiming::default();
    let keys = keys();
    let mut table = LeaseTable::default();
    let (a, b) = (node("a", 1), node("b", 1));
    let mut oa = Ownership::new(a.clone(), timing, SKEW);
    let mut ob = Ownership::new(b.clone(), timing, SKEW);
    for t in [1_000, 1_001, 1_002] {
        step(&mut oa, &mut table, (&keys, &[]), t, false);
        step(&mut ob, &mut table, (&keys, &[]), t, false);
    }
    let b_keys = ob.owned(1_002).len();
    assert!(b_keys > 0 && b_keys < keys.len());
    let epoch = table.row("node/b").unwrap().epoch;
    // b stands aside: every key and its membership given up, each said why.
    let (changes, _) = step_as(&mut ob, &mut table, (&keys, &[]), 2_000, Intent::Aside);
    assert_eq!(changes.len(), b_keys + 1, "{changes:?}");
    assert!(changes.iter().all(|c| matches!(
        c,
        Change::Lost {
            why: Why::Aside,
            ..
        }
    )));
    assert!(ob.owned(2_000).is_empty() && !ob.joined(2_000));
    // a takes them on its next round, long before b's rows would have lapsed.
    step(&mut oa, &mut table, (&keys, &[]), 2_001, false);
    assert_eq!(oa.owned(2_001).len(), keys.len());
    // While aside, b asks for nothing, its membership included.
    let round = ob.plan(&keys, &[], &rows(&table), 3_000, 3_000, Intent::Aside);
    assert!(
        round.acquire.is_empty() && round.renew.is_empty(),
        "{round:?}"
    );
    // Told to serve again, it joins under the next epoch and takes its share back.
    let (joined, _) = step(&mut ob, &mut table, (&keys, &[]), 4_000, false);
    assert_eq!(
        joined,
        vec![Change::Gained {
            key: membership::key("b"),
            epoch: epoch + 1
        }]
    );
    step(&mut ob, &mut table, (&keys, &[]), 4_001, false);
    step(&mut oa, &mut table, (&keys, &[]), 4_002, false);
    step(&mut ob, &mut table, (&keys, &[]), 4_003, false);
    assert_eq!(ob.owned(4_003).len(), b_keys);
    for k in &keys {
        let owners = [oa.owns(k, 4_003), ob.owns(k, 4_003)];
        assert_eq!(owners.iter().flatten().count(), 1, "{k}");
    }
}

#[test]
fn a_dead_members_keys_move_once_its_rows_lapse_and_not_before() {
    let timing = LeaseTiming::default();
    let keys = keys();
    let mut table = LeaseTable::default();
    let (a, b) = (node("a", 1), node("b", 1));
    let mut oa = Ownership::new(a.clone(), timing, SKEW);
    let mut ob = Ownership::new(b.clone(), timing, SKEW);
    let step =
        |o: &mut Ownership, t: &mut LeaseTable, now: u64| step(o, t, (&keys, &[]), now, false).1;
    for t in [1_000, 1_001, 1_002, 1_003] {
        step(&mut oa, &mut table, t);
        step(&mut ob, &mut table, t);
    }
    let b_keys = ob.owned(1_003).len();
    assert!(b_keys > 0);
    // b dies now: its rows expire when its last renewal said; a may take its keys once
    // past that by the skew, and says when.
    let b_expiry = table.row("node/b").unwrap().expires_at;
    let wake = step(&mut oa, &mut table, 2_000).expect("a wake-up time");
    assert_eq!(wake, b_expiry + SKEW + 1);
    step(&mut oa, &mut table, wake - 1);
    assert_eq!(
        oa.owned(wake - 1).len(),
        keys.len() - b_keys,
        "not before the lapse"
    );
    // Its keys lapse with its membership, or (granted a round after it joined, never
    // renewed) a moment later: each wake-up is the next lapse.
    let mut at = wake;
    for _ in 0..3 {
        match step(&mut oa, &mut table, at) {
            Some(next) if oa.owned(at).len() < keys.len() => at = next,
            _ => break,
        }
    }
    assert_eq!(oa.owned(at).len(), keys.len(), "all of b's keys");
    assert!(at <= wake + 10, "taken as they lapse: at {at}, wake {wake}");
}

#[test]
fn a_node_past_its_deadline_stops_acting_before_it_hears_anything() {
    let timing = LeaseTiming::default();
    let keys = keys();
    let mut table = LeaseTable::default();
    let mut o = Ownership::new(node("a", 1), timing, SKEW);
    for now in [0, 1] {
        step(&mut o, &mut table, (&keys, &[]), now, false);
    }
    let valid = timing.local_validity_ms();
    assert_eq!(o.owned(valid - 1).len(), keys.len());
    assert!(o.owned(valid + 1).is_empty(), "every key, at the deadline");
    assert!(!o.joined(valid + 1));
    // The next round drops them all and asks to join again.
    let round = o.plan(
        &keys,
        &[],
        &rows(&table),
        valid + 2,
        valid + 2,
        Intent::Serve,
    );
    assert_eq!(round.changes.len(), keys.len() + 1);
    assert!(round.changes.iter().all(|c| matches!(
        c,
        Change::Lost {
            why: Why::Deadline,
            ..
        }
    )));
    assert_eq!(round.acquire, vec![o.member_key().to_owned()]);
    // It joins anew: its old membership released first, then taken under a new epoch
    // (not renewed under the one whose keys it let go).
    let before = table.row(o.member_key()).unwrap().epoch;
    assert_eq!(round.release, vec![(o.member_key().to_owned(), before)]);
    let (granted, _, _) = apply(&mut table, &node("a", 1), &round, valid + 2, &timing);
    assert_eq!(granted, vec![(o.member_key().to_owned(), before + 1)]);
}

#[test]
fn a_sticky_key_stays_with_whoever_took_it_first() {
    let timing = LeaseTiming::default();
    let sticky = vec!["singleton/active-engine".to_owned()];
    let mut table = LeaseTable::default();
    let step = |o: &mut Ownership, t: &mut LeaseTable, now: u64| {
        step(o, t, (&[], &sticky), now, false);
    };
    // Whichever name would win the placement, the first to ask keeps it.
    let names = ["a", "b", "c", "d"];
    let first = names
        .iter()
        .min_by_key(|n| crate::placement::weight(&sticky[0], &node(n, 1)))
        .unwrap();
    let mut owners: Vec<Ownership> = std::iter::once(*first)
        .chain(names.iter().copied().filter(|n| n != first))
        .map(|n| Ownership::new(node(n, 1), timing, SKEW))
        .collect();
    for now in [1_000, 1_001, 1_002, 1_003] {
        for o in owners.iter_mut() {
            step(o, &mut table, now);
        }
    }
    let holders: Vec<&str> = owners
        .iter()
        .filter(|o| o.owns(&sticky[0], 1_003).is_some())
        .map(|o| o.me().name.as_str())
        .collect();
    assert_eq!(holders, vec![*first]);
}
