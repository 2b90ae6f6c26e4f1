//! Benchmark of the pure routing core (`switchboard_routing::QueueRouter::decide`).
//!
//! Owns only measurement: it builds a router with 5,000 agents (chat capacity 3, all
//! available, distinct idle_since) and 10,000 waiting chat conversations (priorities
//! 0..3), then, for each strategy, measures (1) throughput: `decide()` until nothing can
//! be placed, refilling agents (`upsert_agent`) and conversations (`enqueue`) between
//! batches, for at least 100,000 decisions; (2) latency: the same loop with an
//! `Instant` around each `decide()` (successful decisions only), reported as
//! percentiles. Each run starts with one unrecorded warm-up batch. A second table
//! repeats this with adversarial conversations (sticky waits that never end, transfers
//! to an absent agent, tried sets covering the front of the agent index). Two more
//! put the per-contact rules to work (docs/api.md "Per-contact skills"): every
//! agent has skills, most conversations need one or two, the proficiency ranking is
//! on, and two widening rings (a lower floor at 30 s, no skills at 60 s) hold a third
//! of the conversations each; *typical* draws from a few dozen requirement sets,
//! *wide* from over a thousand (more than the needs table holds, so some conversations
//! are routed by the scan fallback).
//!
//! It must not test behaviour (the unit and property tests do) and uses only std and
//! the crate. Refills and `offer_closed` calls happen outside the timed regions.
//!
//! Run: `cargo bench -p switchboard-routing --bench routing` (builds only the domain
//! and routing crates). To price one rule at a time, `ROUTING_BENCH_TABLES=typical`
//! (a comma-separated subset of plain, adversarial, typical, wide) picks tables;
//! `ROUTING_BENCH_RULES=no-ranking` or `no-rings` turns a rule off in the skill tables,
//! and `novices` adds novice routing to them (docs/api.md "Novices"): 80% of agents
//! get a difficulty 1..5 (the rest take anything) and 70% of conversations need one.

use domain::{
    AgentId, ChannelClass, ConversationId, Millis, Proficiency, RoutingStrategy, Skill,
    SkillFloors, WideningStep,
};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use switchboard_routing::widening::{Ranking, Rings};
use switchboard_routing::{strategy_name, AgentSnapshot, QueueRouter, WaitingEntry};
use uuid::Uuid;

const AGENTS: usize = 5_000;
const CHAT_CAPACITY: u16 = 3;
const WAITING: usize = 10_000;
const MIN_DECISIONS: usize = 100_000;
const NOW: Millis = Millis(1_700_000_000_000);

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Plain chats: no sticky, no required, nothing tried.
    Plain,
    /// 1% sticky for an agent who never frees up (blocked, skipped by every decision),
    /// 5% transfers to an absent agent, 10% with 4 tried agents taken from the front
    /// of the longest-idle order.
    Adversarial,
    /// Agents hold 3 of 6 skills (proficiency 1..5) and a language; 80% of
    /// conversations need one skill (floor 1..3), half of those a language too.
    SkillsTypical,
    /// Agents hold 4 of 24 skills; 90% of conversations need two (floors 1..4).
    SkillsWide,
}

impl Scenario {
    fn skills(self) -> Option<(u64, u64)> {
        match self {
            Scenario::SkillsTypical => Some((6, 3)),
            Scenario::SkillsWide => Some((24, 4)),
            _ => None,
        }
    }
}

fn skill(i: u64) -> Skill {
    Skill::parse(&format!("skill-{i}")).unwrap()
}

fn language(i: u64) -> Skill {
    Skill::parse(["lang-ja", "lang-en"][i as usize % 2]).unwrap()
}

fn p(v: u64) -> Proficiency {
    Proficiency::new(v as u8).unwrap()
}

struct Setup {
    ids: Vec<AgentId>,
    rng: Rng,
    round: i64,
    seq: u64,
    scenario: Scenario,
    /// Per agent, its skills (skill scenarios only).
    skills: Vec<SkillFloors>,
    /// `ROUTING_BENCH_RULES=novices`: conversations carry a difficulty.
    novices: bool,
}

impl Setup {
    fn new(scenario: Scenario) -> Self {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let novices = scenario.skills().is_some()
            && std::env::var("ROUTING_BENCH_RULES").is_ok_and(|r| r == "novices");
        let skills = (0..AGENTS)
            .map(|_| {
                let mut out = SkillFloors::new();
                if let Some((vocabulary, each)) = scenario.skills() {
                    while out.len() < each as usize {
                        out.insert(skill(rng.below(vocabulary)), p(1 + rng.below(5)));
                    }
                    out.insert(language(rng.below(2)), p(3));
                    if novices && rng.below(10) < 8 {
                        out.insert(domain::difficulty_skill(), p(1 + rng.below(5)));
                    }
                }
                out
            })
            .collect();
        Setup {
            ids: (0..AGENTS)
                .map(|i| AgentId::parse(&format!("agent-{i:05}")).unwrap())
                .collect(),
            rng,
            round: 0,
            seq: 0,
            scenario,
            skills,
            novices,
        }
    }

    /// Every agent fully free again, with fresh distinct idle_since values (a
    /// permutation of the ids, so index order differs from id order).
    fn refill_agents(&mut self, r: &mut QueueRouter) {
        self.round += 1;
        for (i, id) in self.ids.iter().enumerate() {
            let idle = ((i * 7_919) % AGENTS) as i64;
            r.upsert_agent(AgentSnapshot {
                id: id.clone(),
                available: true,
                free: [1, CHAT_CAPACITY, 0, 0],
                idle_since: Millis(NOW.0 - 10_000_000 + self.round * AGENTS as i64 + idle),
                occupancy_permille: self.rng.below(1_000) as u32,
                skills: self.skills[i].clone(),
            });
        }
    }

    /// Untimed, between batches: the agents accept their offers, then agents and
    /// conversations are refilled as needed.
    fn settle(&mut self, r: &mut QueueRouter, batch: &mut Vec<(ConversationId, AgentId)>) {
        for (c, a) in batch.iter() {
            r.offer_closed(c, a, true);
        }
        if r.free_agents(ChannelClass::Chat) == 0 {
            self.refill_agents(r);
        }
        if batch.is_empty() || r.waiting_len() < WAITING / 10 {
            self.refill_conversations(r);
        }
        batch.clear();
    }

    fn refill_conversations(&mut self, r: &mut QueueRouter) {
        // Blocked leftovers would pile up across refills; drop them (as overflow would).
        for c in r.waiting_older_than(Millis(i64::MAX)) {
            r.remove(&c);
        }
        for _ in 0..WAITING {
            self.seq += 1;
            let mut w = WaitingEntry {
                conversation: ConversationId(Uuid::from_u128(u128::from(self.seq))),
                class: ChannelClass::Chat,
                priority: self.rng.below(4) as i32,
                enqueued_at: Millis(NOW.0 - 1_000_000 + self.seq as i64),
                seq: self.seq,
                preferred_agent: None,
                sticky_until: Millis(0),
                required_agent: None,
                tried: BTreeSet::new(),
                requirements: Default::default(),
            };
            if let Some((vocabulary, _)) = self.scenario.skills() {
                // A third in each ring: waited 0-30 s, 30-60 s, 60-90 s.
                w.enqueued_at = Millis(NOW.0 - self.rng.below(90_000) as i64);
                let roll = self.rng.below(10);
                if self.scenario == Scenario::SkillsTypical && roll < 8 {
                    w.requirements
                        .insert(skill(self.rng.below(vocabulary)), p(1 + self.rng.below(3)));
                    if roll < 4 {
                        w.requirements.insert(language(self.rng.below(2)), p(1));
                    }
                } else if self.scenario == Scenario::SkillsWide && roll < 9 {
                    while w.requirements.len() < 2 {
                        w.requirements
                            .insert(skill(self.rng.below(vocabulary)), p(1 + self.rng.below(4)));
                    }
                }
                if self.novices && self.rng.below(10) < 7 {
                    w.requirements
                        .insert(domain::difficulty_skill(), p(1 + self.rng.below(5)));
                }
            }
            if self.scenario == Scenario::Adversarial {
                let roll = self.rng.below(100);
                if roll == 0 {
                    w.preferred_agent = Some(AgentId::parse("never-free").unwrap());
                    w.sticky_until = Millis(i64::MAX);
                    w.priority = 3;
                } else if roll <= 5 {
                    w.required_agent = Some(AgentId::parse("on-leave").unwrap());
                    w.priority = 3;
                } else if roll <= 15 {
                    // Agents whose idle_since is smallest sit at the front of the index.
                    for _ in 0..4 {
                        let rank = self.rng.below(50) as usize;
                        let i = (0..AGENTS).find(|i| (i * 7_919) % AGENTS == rank).unwrap();
                        w.tried.insert(self.ids[i].clone());
                    }
                }
            }
            r.enqueue(w).expect("room");
        }
    }
}

struct Run {
    decisions: usize,
    busy: Duration,
    latencies_ns: Vec<u64>,
}

/// Decides until at least `MIN_DECISIONS` decisions were made. With `per_call`, times
/// every `decide()` (latency); otherwise times whole batches (throughput).
fn run(strategy: RoutingStrategy, scenario: Scenario, per_call: bool) -> Run {
    let mut setup = Setup::new(scenario);
    let mut r = QueueRouter::new(strategy, usize::MAX);
    if scenario.skills().is_some() {
        let step = |after_ms, floor, drop_all_skills| WideningStep {
            after_ms,
            floor,
            drop_skills: Vec::new(),
            drop_all_skills,
        };
        let steps = [step(30_000, Some(p(1)), false), step(60_000, None, true)];
        let rules = std::env::var("ROUTING_BENCH_RULES").unwrap_or_default();
        let rings = if rules == "no-rings" {
            Rings::default()
        } else {
            Rings::compile(&steps, None).expect("valid rings")
        };
        let ranking = Ranking {
            by_proficiency: rules != "no-ranking",
            ..Ranking::default()
        };
        r.set_rules(rings, ranking);
    }
    setup.refill_agents(&mut r);
    setup.refill_conversations(&mut r);
    let mut out = Run {
        decisions: 0,
        busy: Duration::ZERO,
        latencies_ns: Vec::with_capacity(MIN_DECISIONS + WAITING),
    };
    // Only (conversation, agent) outlive a decision, as in the queue actor, which
    // consumes each decision's trace at once: dropping 10,000 traces in one burst would
    // make the allocator's deferred consolidation land inside a later timed call.
    let mut batch: Vec<(ConversationId, AgentId)> = Vec::with_capacity(2 * WAITING);
    // Warm-up (unrecorded): one batch, so the hash maps reach their high-water capacity
    // and the measurement shows the steady state, not the one-off growth rehashes.
    while let Some(d) = r.decide(NOW) {
        batch.push((d.conversation, d.agent));
    }
    setup.settle(&mut r, &mut batch);
    while out.decisions < MIN_DECISIONS {
        if per_call {
            loop {
                let t = Instant::now();
                let d = r.decide(NOW);
                let ns = t.elapsed().as_nanos() as u64;
                let Some(d) = d else { break };
                out.latencies_ns.push(ns);
                out.busy += Duration::from_nanos(ns);
                batch.push((d.conversation, d.agent));
            }
        } else {
            // The trace is dropped inside the timed loop: part of a decision's cost.
            let t = Instant::now();
            while let Some(d) = r.decide(NOW) {
                batch.push((d.conversation, d.agent));
            }
            out.busy += t.elapsed();
        }
        out.decisions += batch.len();
        setup.settle(&mut r, &mut batch);
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn table(scenario: Scenario, title: &str) {
    let name = match scenario {
        Scenario::Plain => "plain",
        Scenario::Adversarial => "adversarial",
        Scenario::SkillsTypical => "typical",
        Scenario::SkillsWide => "wide",
    };
    if std::env::var("ROUTING_BENCH_TABLES").is_ok_and(|t| !t.split(',').any(|x| x == name)) {
        return;
    }
    println!("\n{title}");
    println!(
        "{:<15} {:>10} {:>10} {:>13} | {:>8} {:>8} {:>8} {:>9} {:>9}",
        "strategy",
        "decisions",
        "busy_ms",
        "decisions/s",
        "p50_ns",
        "p90_ns",
        "p99_ns",
        "p99.9_ns",
        "max_ns"
    );
    println!("{}", "-".repeat(103));
    for strategy in [
        RoutingStrategy::LongestIdle,
        RoutingStrategy::LeastOccupied,
        RoutingStrategy::RoundRobin,
    ] {
        let thr = run(strategy, scenario, false);
        let mut lat = run(strategy, scenario, true);
        lat.latencies_ns.sort_unstable();
        let l = &lat.latencies_ns;
        println!(
            "{:<15} {:>10} {:>10.1} {:>13.0} | {:>8} {:>8} {:>8} {:>9} {:>9}",
            strategy_name(strategy),
            thr.decisions,
            thr.busy.as_secs_f64() * 1e3,
            thr.decisions as f64 / thr.busy.as_secs_f64(),
            percentile(l, 50.0),
            percentile(l, 90.0),
            percentile(l, 99.0),
            percentile(l, 99.9),
            l.last().copied().unwrap_or(0),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, so keep a
    // quick path for non-bench invocations.
    if !std::env::args().any(|a| a == "--bench") {
        println!("routing bench: run with `cargo bench -p switchboard-routing --bench routing`");
        return;
    }
    println!(
        "QueueRouter::decide: {AGENTS} agents (chat capacity {CHAT_CAPACITY}, voice 1, distinct idle_since), \
         {WAITING} waiting chat conversations (priority 0..3), >= {MIN_DECISIONS} decisions per row"
    );
    println!("throughput: batches of decide() until none placeable, refills untimed; latency: Instant around each successful decide()");
    table(Scenario::Plain, "plain chats");
    table(
        Scenario::Adversarial,
        "adversarial: 1% sticky-blocked + 5% transfers to an absent agent (all priority 3), \
         10% with 4 tried agents from the index front",
    );
    table(
        Scenario::SkillsTypical,
        "skills, typical: agents 3 of 6 skills + a language; 80% need a skill (half a \
         language too); ranking on; rings at 30 s (floor 1) and 60 s (no skills)",
    );
    table(
        Scenario::SkillsWide,
        "skills, wide: agents 4 of 24 skills; 90% need two (floors 1..4, >1,000 sets); \
         ranking on; same rings",
    );
}
