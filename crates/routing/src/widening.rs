//! Timed widening (a bullseye) and proficiency ranking: the rules that read a
//! conversation's own required skills.
//!
//! Owns the compiled form of a queue's `widening` steps ([`Rings`]), the check that
//! refuses contradictory steps with the exact field ([`WideningError`]), what a ring
//! still requires ([`Rings::relax`]), and how agents are scored on a conversation's
//! skills ([`Ranking`]). It must not hold routing state (see `needs.rs` and
//! `router.rs`), do I/O or read a clock: waits come in as milliseconds.
//!
//! Ring 0 is the conversation's full requirement; ring `k` applies steps `0..k`, in
//! order. A step may only relax (lower a floor, drop a skill), so every agent eligible
//! in ring `k` is eligible in ring `k + 1`: widening is monotone by construction, and
//! the property tests check it.

use domain::{Proficiency, QueueConfig, Skill, SkillFloors, WideningStep};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many widening steps per queue.
pub const MAX_STEPS: usize = 8;

/// A step may open at most this long after the conversation was enqueued (a day).
pub const MAX_AFTER_MS: u64 = 86_400_000;

/// A refused widening configuration: the exact field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct WideningError {
    /// e.g. `widening[1].floor`.
    pub field: String,
    /// What is wrong with it.
    pub why: String,
}

fn refuse(field: String, why: impl Into<String>) -> WideningError {
    WideningError {
        field,
        why: why.into(),
    }
}

/// One compiled step.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    after_ms: u64,
    floor: Option<Proficiency>,
    drop: BTreeSet<Skill>,
    drop_all: bool,
}

/// A queue's widening rings, checked. The default has none: a conversation needs its
/// full requirement for as long as it waits (until the overflow, if any).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rings {
    steps: Vec<Step>,
}

impl Rings {
    /// Checks and compiles `steps`. `overflow_after_ms` is the queue's overflow wait,
    /// the ring after the last step: it must come after every step. Refused, with the
    /// field: more than [`MAX_STEPS`] steps; a step at 0 or beyond [`MAX_AFTER_MS`];
    /// steps out of order or at the same time; a step that relaxes nothing; a floor not
    /// below an earlier floor; a skill dropped twice or after every skill was dropped.
    pub fn compile(
        steps: &[WideningStep],
        overflow_after_ms: Option<u64>,
    ) -> Result<Rings, WideningError> {
        if steps.len() > MAX_STEPS {
            return Err(refuse(
                "widening".into(),
                format!("{} steps; at most {MAX_STEPS}", steps.len()),
            ));
        }
        let mut out: Vec<Step> = Vec::with_capacity(steps.len());
        let mut floor: Option<(Proficiency, usize)> = None;
        let mut dropped: BTreeMap<Skill, usize> = BTreeMap::new();
        let mut all_dropped: Option<usize> = None;
        for (i, s) in steps.iter().enumerate() {
            let at = |f: &str| format!("widening[{i}].{f}");
            if s.after_ms == 0 || s.after_ms > MAX_AFTER_MS {
                return Err(refuse(
                    at("after_ms"),
                    format!("{}; must be 1 to {MAX_AFTER_MS}", s.after_ms),
                ));
            }
            if let Some(prev) = out.last() {
                if s.after_ms <= prev.after_ms {
                    return Err(refuse(
                        at("after_ms"),
                        format!(
                            "{} is not after widening[{}] ({}); steps open in order",
                            s.after_ms,
                            i - 1,
                            prev.after_ms
                        ),
                    ));
                }
            }
            if s.floor.is_none() && s.drop_skills.is_empty() && !s.drop_all_skills {
                return Err(refuse(
                    format!("widening[{i}]"),
                    "relaxes nothing: set floor, drop_skills or drop_all_skills",
                ));
            }
            if let Some(j) = all_dropped {
                return Err(refuse(
                    format!("widening[{i}]"),
                    format!("widening[{j}] already dropped every skill; nothing is left to relax"),
                ));
            }
            if let Some(f) = s.floor {
                if let Some((prev, j)) = floor {
                    if f >= prev {
                        return Err(refuse(
                            at("floor"),
                            format!(
                                "{} is not below widening[{j}].floor {}; a step may only widen",
                                f.get(),
                                prev.get()
                            ),
                        ));
                    }
                }
                floor = Some((f, i));
            }
            let mut drop = BTreeSet::new();
            for skill in &s.drop_skills {
                if let Some(j) = dropped.get(skill) {
                    let by = if *j == i {
                        "listed twice".to_owned()
                    } else {
                        format!("already dropped by widening[{j}]")
                    };
                    return Err(refuse(
                        at("drop_skills"),
                        format!("{}: {by}", skill.as_str()),
                    ));
                }
                dropped.insert(skill.clone(), i);
                drop.insert(skill.clone());
            }
            if s.drop_all_skills {
                all_dropped = Some(i);
            }
            out.push(Step {
                after_ms: s.after_ms,
                floor: s.floor,
                drop,
                drop_all: s.drop_all_skills,
            });
        }
        if let (Some(o), Some(last)) = (overflow_after_ms, out.last()) {
            if o <= last.after_ms {
                return Err(refuse(
                    "overflow.after_ms".into(),
                    format!(
                        "{o} is not after widening[{}] ({}); the overflow queue is the last ring",
                        out.len() - 1,
                        last.after_ms
                    ),
                ));
            }
        }
        Ok(Rings { steps: out })
    }

    /// A queue's rings: its `widening` steps, with its overflow as the last ring.
    pub fn of_queue(config: &QueueConfig) -> Result<Rings, WideningError> {
        Rings::compile(
            &config.widening,
            config.overflow.as_ref().map(|o| o.after_ms),
        )
    }

    /// How many steps (the last ring is `steps()`).
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// The ring a conversation that has waited `waited_ms` is in.
    pub fn ring_at(&self, waited_ms: u64) -> usize {
        self.steps.partition_point(|s| s.after_ms <= waited_ms)
    }

    /// When (ms after enqueue) ring `ring` opens; ring 0 is open from the start.
    pub fn opens_after(&self, ring: usize) -> Option<u64> {
        match ring {
            0 => Some(0),
            r => self.steps.get(r - 1).map(|s| s.after_ms),
        }
    }

    /// What `base` still requires in ring `ring` (steps `0..ring` applied in order).
    pub fn relax(&self, base: &SkillFloors, ring: usize) -> SkillFloors {
        let mut out = base.clone();
        for s in self.steps.iter().take(ring) {
            if s.drop_all {
                out.clear();
                break;
            }
            if let Some(f) = s.floor {
                for min in out.values_mut() {
                    *min = (*min).min(f);
                }
            }
            out.retain(|k, _| !s.drop.contains(k));
        }
        out
    }
}

/// How agents who meet a conversation's requirement are ordered before the strategy:
/// first, for a conversation with a `difficulty`, by how closely the agent's own
/// difficulty fits it (novices first); then by the weighted sum of their proficiencies
/// in the conversation's own skills (higher first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    /// Off: the fit (if on) and then the strategy alone order eligible agents.
    pub by_proficiency: bool,
    /// Weight per skill (a skill not listed weighs 1).
    pub weights: BTreeMap<Skill, u8>,
    /// Novices first: the closest fit on `difficulty` goes first (see [`fit`]).
    pub novices_first: bool,
}

impl Ranking {
    /// A queue's proficiency ranking.
    pub fn of_queue(config: &QueueConfig) -> Ranking {
        Ranking {
            by_proficiency: config.rank_by_proficiency,
            weights: config.skill_weights.clone(),
            novices_first: config.novices_first,
        }
    }
}

impl Default for Ranking {
    fn default() -> Self {
        Ranking {
            by_proficiency: true,
            weights: BTreeMap::new(),
            novices_first: true,
        }
    }
}

/// What agents are scored on for one conversation: see [`score`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Weighs {
    /// The conversation's difficulty, when novices go first.
    pub fit: Option<Proficiency>,
    /// Skills and their weights (none weighs 0).
    pub skills: Vec<(Skill, u32)>,
}

impl Weighs {
    /// Nothing to score on: every eligible agent scores 0.
    pub fn is_empty(&self) -> bool {
        self.fit.is_none() && self.skills.is_empty()
    }
}

impl Ranking {
    /// What an agent is scored on for a conversation needing `base` (empty when
    /// ranking is off or nothing is required). With novices first, `difficulty` is
    /// scored by [`fit`] and not among the skills.
    pub fn weighs(&self, base: &SkillFloors) -> Weighs {
        let fit = if self.novices_first {
            base.get(domain::DIFFICULTY).copied()
        } else {
            None
        };
        if !self.by_proficiency {
            return Weighs {
                fit,
                skills: Vec::new(),
            };
        }
        let skills = base
            .keys()
            .filter(|s| fit.is_none() || s.as_str() != domain::DIFFICULTY)
            .map(|s| {
                (
                    s.clone(),
                    u32::from(self.weights.get(s).copied().unwrap_or(1)),
                )
            })
            .filter(|(_, w)| *w > 0)
            .collect();
        Weighs { fit, skills }
    }
}

/// How closely an agent of difficulty `agent` fits a contact of difficulty `contact`,
/// higher is closer: 10 for the same difficulty, one less per step above it (6 at the
/// farthest); an agent below it (let in by widening) scores its own difficulty (1 to
/// 4), so the most experienced of those goes first and any agent at or above the
/// contact's difficulty goes before them all.
pub fn fit(agent: Proficiency, contact: Proficiency) -> u32 {
    let (a, c) = (u32::from(agent.get()), u32::from(contact.get()));
    if a >= c {
        10 - (a - c)
    } else {
        a
    }
}

/// The fit counts this much more than the whole skill sum (at most 16 skills × 100 ×
/// 5 = 8,000), so it always decides first.
const FIT_SCALE: u32 = 10_000;

/// An agent's score on `weighs`: [`fit`] × 10,000 (when the conversation has a
/// difficulty and novices go first) + Σ weight × proficiency (0 for a skill it lacks;
/// see [`domain::held`]).
pub fn score(skills: &SkillFloors, weighs: &Weighs) -> u32 {
    let fit_part = weighs.fit.map_or(0, |c| {
        let own = skills
            .get(domain::DIFFICULTY)
            .copied()
            .unwrap_or(domain::MAX_DIFFICULTY);
        fit(own, c) * FIT_SCALE
    });
    fit_part
        + weighs
            .skills
            .iter()
            .map(|(s, w)| w * domain::held(skills, s).map_or(0, |p| u32::from(p.get())))
            .sum::<u32>()
}

/// `billing>=4,lang-ja>=1`, or `none`: the same in one word, for `key=value` traces.
pub fn compact(floors: &SkillFloors) -> String {
    if floors.is_empty() {
        return "none".to_owned();
    }
    describe(floors).replace(' ', ",")
}

/// `billing>=4 lang-ja>=1`, or `any agent` for no requirement; for traces.
pub fn describe(floors: &SkillFloors) -> String {
    if floors.is_empty() {
        return "any agent".to_owned();
    }
    let mut out = String::new();
    for (i, (s, p)) in floors.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(s.as_str());
        out.push_str(">=");
        out.push_str(&p.get().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(s: &str) -> Skill {
        Skill::parse(s).unwrap()
    }
    fn p(v: u8) -> Proficiency {
        Proficiency::new(v).unwrap()
    }
    fn step(after_ms: u64) -> WideningStep {
        WideningStep {
            after_ms,
            floor: None,
            drop_skills: Vec::new(),
            drop_all_skills: false,
        }
    }

    #[test]
    fn rings_relax_in_order() {
        let steps = vec![
            WideningStep {
                floor: Some(p(3)),
                ..step(10_000)
            },
            WideningStep {
                drop_skills: vec![skill("billing")],
                ..step(20_000)
            },
            WideningStep {
                drop_all_skills: true,
                ..step(30_000)
            },
        ];
        let r = Rings::compile(&steps, Some(40_000)).unwrap();
        let base: SkillFloors = [(skill("billing"), p(5)), (skill("lang-ja"), p(2))].into();
        assert_eq!(r.ring_at(0), 0);
        assert_eq!(r.ring_at(9_999), 0);
        assert_eq!(r.ring_at(10_000), 1);
        assert_eq!(r.ring_at(29_999), 2);
        assert_eq!(r.ring_at(1_000_000), 3);
        assert_eq!(describe(&r.relax(&base, 0)), "billing>=5 lang-ja>=2");
        assert_eq!(describe(&r.relax(&base, 1)), "billing>=3 lang-ja>=2");
        assert_eq!(describe(&r.relax(&base, 2)), "lang-ja>=2");
        assert_eq!(describe(&r.relax(&base, 3)), "any agent");
        assert_eq!(r.opens_after(2), Some(20_000));
        assert_eq!(r.opens_after(4), None);
    }

    #[test]
    fn contradictory_steps_are_refused_with_the_field() {
        let cases: Vec<(Vec<WideningStep>, Option<u64>, &str)> = vec![
            (vec![step(10)], None, "widening[0]: relaxes nothing"),
            (
                vec![
                    WideningStep {
                        floor: Some(p(2)),
                        ..step(10)
                    },
                    WideningStep {
                        floor: Some(p(3)),
                        ..step(20)
                    },
                ],
                None,
                "widening[1].floor: 3 is not below widening[0].floor 2",
            ),
            (
                vec![
                    WideningStep {
                        floor: Some(p(2)),
                        ..step(20)
                    },
                    WideningStep {
                        floor: Some(p(1)),
                        ..step(20)
                    },
                ],
                None,
                "widening[1].after_ms: 20 is not after widening[0] (20)",
            ),
            (
                vec![WideningStep {
                    drop_skills: vec![skill("a"), skill("a")],
                    ..step(10)
                }],
                None,
                "widening[0].drop_skills: a: listed twice",
            ),
            (
                vec![
                    WideningStep {
                        drop_skills: vec![skill("a")],
                        ..step(10)
                    },
                    WideningStep {
                        drop_skills: vec![skill("a")],
                        ..step(20)
                    },
                ],
                None,
                "widening[1].drop_skills: a: already dropped by widening[0]",
            ),
            (
                vec![
                    WideningStep {
                        drop_all_skills: true,
                        ..step(10)
                    },
                    WideningStep {
                        floor: Some(p(1)),
                        ..step(20)
                    },
                ],
                None,
                "widening[1]: widening[0] already dropped every skill",
            ),
            (
                vec![WideningStep {
                    floor: Some(p(1)),
                    ..step(0)
                }],
                None,
                "widening[0].after_ms: 0; must be",
            ),
            (
                vec![WideningStep {
                    floor: Some(p(1)),
                    ..step(60_000)
                }],
                Some(60_000),
                "overflow.after_ms: 60000 is not after widening[0] (60000)",
            ),
        ];
        for (steps, overflow, want) in cases {
            let e = Rings::compile(&steps, overflow).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e:?} does not start with {want:?}");
        }
        let many: Vec<WideningStep> = (1..=9)
            .map(|i| WideningStep {
                drop_skills: vec![skill(&format!("s{i}"))],
                ..step(i * 10)
            })
            .collect();
        assert!(Rings::compile(&many, None).is_err());
    }

    #[test]
    fn ranking_weighs_the_conversations_skills() {
        let base: SkillFloors = [(skill("billing"), p(2)), (skill("lang-ja"), p(1))].into();
        let mut ranking = Ranking::default();
        ranking.weights.insert(skill("billing"), 3);
        let w = ranking.weighs(&base);
        let agent: SkillFloors = [(skill("billing"), p(4)), (skill("lang-ja"), p(5))].into();
        assert_eq!(score(&agent, &w), 3 * 4 + 5);
        ranking.weights.insert(skill("lang-ja"), 0);
        assert_eq!(score(&agent, &ranking.weighs(&base)), 12);
        ranking.by_proficiency = false;
        assert!(ranking.weighs(&base).is_empty());
    }

    #[test]
    fn novices_first_scores_the_closest_fit_above_the_skills() {
        let d = |v| (domain::difficulty_skill(), p(v));
        let base: SkillFloors = [d(2), (skill("billing"), p(1))].into();
        let ranking = Ranking::default();
        let w = ranking.weighs(&base);
        assert_eq!(w.fit, Some(p(2)));
        assert_eq!(w.skills, vec![(skill("billing"), 1)]);
        let agent = |tier: Option<u8>, billing: u8| -> SkillFloors {
            let mut s: SkillFloors = [(skill("billing"), p(billing))].into();
            if let Some(t) = tier {
                s.insert(domain::difficulty_skill(), p(t));
            }
            s
        };
        // The exact fit beats an expert in billing; an agent with no difficulty of
        // their own is a 5, the farthest fit above.
        let exact = score(&agent(Some(2), 1), &w);
        let above = score(&agent(Some(4), 5), &w);
        let unmarked = score(&agent(None, 5), &w);
        let below = score(&agent(Some(1), 5), &w);
        assert!(
            exact > above && above > unmarked && unmarked > below,
            "{exact} {above} {unmarked} {below}"
        );
        assert_eq!(exact, 10 * FIT_SCALE + 1);
        assert_eq!(below, FIT_SCALE + 5);
        // Below the contact, the more experienced goes first.
        assert!(fit(p(1), p(4)) < fit(p(3), p(4)));
        // Off: difficulty is a skill like any other (higher first).
        let plain = Ranking {
            novices_first: false,
            ..Ranking::default()
        };
        let w = plain.weighs(&base);
        assert_eq!(w.fit, None);
        assert_eq!(w.skills.len(), 2);
        assert!(score(&agent(Some(4), 1), &w) > score(&agent(Some(2), 1), &w));
        assert_eq!(score(&agent(None, 1), &w), 5 + 1);
    }
}
