//! Service-level routing: a queue's `service_rules` turned on and off by its live
//! estimated wait and service level, with hysteresis.
//!
//! Owns the check that refuses a bad rule with the exact field ([`check`]), the
//! effective clearing thresholds, and the on/off state machine ([`ServiceState`]).
//! It must not read figures itself, hold routing state, do I/O or read a clock: the
//! live hub observes the figures and tells the queue what turned, and the queue acts
//! (overflow, priority boost).
//!
//! A rule turns on when any trigger it has holds (estimated wait above, service level
//! below) and off only when every trigger it has is past its clearing threshold,
//! which is strictly on the safe side of the trigger: between the two the rule keeps
//! its state, so a queue hovering at the threshold does not flap. A figure that is not
//! known (no contact answered yet this interval, no handle time yet) neither turns a
//! rule on nor clears it.

use domain::{QueueName, ServiceRule};
use std::fmt::Write as _;

/// At most this many rules per queue.
pub const MAX_RULES: usize = 8;

/// The largest priority boost.
pub const MAX_BOOST: i32 = 100;

/// A refused rule: the exact field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct RuleError {
    /// e.g. `service_rules[0].clear_ewt_below_s`.
    pub field: String,
    /// What is wrong with it.
    pub why: String,
}

/// Checks queue `queue`'s rules: at most [`MAX_RULES`]; each with a trigger and an
/// action; thresholds in range; a clearing threshold strictly on the safe side of its
/// trigger; no overflow to the queue itself; a boost of 1 to [`MAX_BOOST`].
/// (Whether the overflow queue exists is the caller's to check.)
pub fn check(rules: &[ServiceRule], queue: &QueueName) -> Result<(), RuleError> {
    let refuse = |field: String, why: String| Err(RuleError { field, why });
    if rules.len() > MAX_RULES {
        return refuse(
            "service_rules".into(),
            format!("{} rules; at most {MAX_RULES}", rules.len()),
        );
    }
    for (i, r) in rules.iter().enumerate() {
        let at = |f: &str| format!("service_rules[{i}].{f}");
        if r.ewt_above_s.is_none() && r.service_level_below_pct.is_none() {
            return refuse(
                format!("service_rules[{i}]"),
                "no trigger: set ewt_above_s or service_level_below_pct".into(),
            );
        }
        if r.overflow_to.is_none() && r.boost_priority.is_none() {
            return refuse(
                format!("service_rules[{i}]"),
                "no action: set overflow_to or boost_priority".into(),
            );
        }
        match (r.ewt_above_s, r.clear_ewt_below_s) {
            (Some(0), _) => return refuse(at("ewt_above_s"), "must be at least 1".into()),
            (Some(above), Some(below)) if below >= above => {
                return refuse(
                    at("clear_ewt_below_s"),
                    format!("{below} is not below ewt_above_s {above}; the rule would flap"),
                )
            }
            (None, Some(_)) => {
                return refuse(at("clear_ewt_below_s"), "set only with ewt_above_s".into())
            }
            _ => {}
        }
        match (r.service_level_below_pct, r.clear_service_level_above_pct) {
            (Some(b), _) if b == 0 || b > 100 => {
                return refuse(
                    at("service_level_below_pct"),
                    format!("{b}; must be 1 to 100"),
                )
            }
            (Some(below), Some(above)) if above <= below || above > 100 => {
                return refuse(
                    at("clear_service_level_above_pct"),
                    format!(
                        "{above}; must be above service_level_below_pct {below} and at most 100"
                    ),
                )
            }
            (None, Some(_)) => {
                return refuse(
                    at("clear_service_level_above_pct"),
                    "set only with service_level_below_pct".into(),
                )
            }
            _ => {}
        }
        if r.overflow_to.as_ref() == Some(queue) {
            return refuse(at("overflow_to"), "is this queue".into());
        }
        if let Some(b) = r.boost_priority {
            if !(1..=MAX_BOOST).contains(&b) {
                return refuse(
                    at("boost_priority"),
                    format!("{b}; must be 1 to {MAX_BOOST}"),
                );
            }
        }
    }
    Ok(())
}

/// The way queue `from`'s conversations, moved to `to`, could come back to `from`:
/// `moves(q)` are the queues queue `q` may move conversations to (its overflow and its
/// service rules' `overflow_to`). `Some(path)`, from `from` round to `from`, when they
/// can: while the rules stayed on, conversations would go round for ever.
pub fn overflow_cycle(
    from: &QueueName,
    to: &QueueName,
    moves: impl Fn(&QueueName) -> Vec<QueueName>,
) -> Option<Vec<QueueName>> {
    let mut seen = std::collections::BTreeSet::new();
    // Depth first, each entry the path so far.
    let mut stack = vec![vec![from.clone(), to.clone()]];
    while let Some(path) = stack.pop() {
        let last = path.last().expect("a path is never empty");
        if last == from {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in moves(last) {
            let mut longer = path.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    None
}

/// The live figures a rule is judged on. `None`: not known now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Estimated wait for a new contact, seconds.
    pub ewt_s: Option<f64>,
    /// Service level this interval, 0..=1.
    pub service_level: Option<f64>,
}

/// A rule that turned on or off, and the figures that turned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Index in the queue's `service_rules`.
    pub rule: usize,
    pub on: bool,
    /// e.g. `ewt 75 s > 60 s`, or `ewt 20 s < 45 s, service level 95% > 85%`.
    pub why: String,
}

/// Which of a queue's rules are on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceState {
    on: Vec<bool>,
}

impl ServiceState {
    /// Whether rule `i` is on.
    pub fn is_on(&self, i: usize) -> bool {
        self.on.get(i).copied().unwrap_or(false)
    }

    /// The rules on now.
    pub fn on(&self) -> Vec<usize> {
        (0..self.on.len()).filter(|i| self.on[*i]).collect()
    }

    /// Judges `rules` on `figures`; returns the rules that turned, in order.
    pub fn observe(&mut self, rules: &[ServiceRule], figures: Figures) -> Vec<Turn> {
        self.on.resize(rules.len(), false);
        let mut turns = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if !self.on[i] {
                if let Some(why) = triggered(r, figures) {
                    self.on[i] = true;
                    turns.push(Turn {
                        rule: i,
                        on: true,
                        why,
                    });
                }
            } else if let Some(why) = cleared(r, figures) {
                self.on[i] = false;
                turns.push(Turn {
                    rule: i,
                    on: false,
                    why,
                });
            }
        }
        turns
    }
}

/// The clearing wait of `r` (seconds), if it has a wait trigger.
pub fn clear_ewt_below_s(r: &ServiceRule) -> Option<u32> {
    r.ewt_above_s
        .map(|above| r.clear_ewt_below_s.unwrap_or(above * 3 / 4))
}

/// The clearing service level of `r` (percent), if it has a service-level trigger.
pub fn clear_service_level_above_pct(r: &ServiceRule) -> Option<u8> {
    r.service_level_below_pct.map(|below| {
        r.clear_service_level_above_pct
            .unwrap_or((below + 5).min(100))
    })
}

/// Why `r` turns on now (the first trigger that holds), if it does.
fn triggered(r: &ServiceRule, f: Figures) -> Option<String> {
    if let (Some(above), Some(ewt)) = (r.ewt_above_s, f.ewt_s) {
        if ewt > f64::from(above) {
            return Some(format!("ewt {ewt:.0} s > {above} s"));
        }
    }
    if let (Some(below), Some(sl)) = (r.service_level_below_pct, f.service_level) {
        if sl * 100.0 < f64::from(below) {
            return Some(format!("service level {:.0}% < {below}%", sl * 100.0));
        }
    }
    None
}

/// Why `r` turns off now (every trigger it has is past its clearing threshold), if it
/// does.
fn cleared(r: &ServiceRule, f: Figures) -> Option<String> {
    let mut why = String::new();
    if let Some(below) = clear_ewt_below_s(r) {
        let ewt = f.ewt_s.filter(|e| *e < f64::from(below))?;
        let _ = write!(why, "ewt {ewt:.0} s < {below} s");
    }
    if let Some(above) = clear_service_level_above_pct(r) {
        let sl = f.service_level.filter(|s| s * 100.0 > f64::from(above))?;
        if !why.is_empty() {
            why.push_str(", ");
        }
        let _ = write!(why, "service level {:.0}% > {above}%", sl * 100.0);
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueueName {
        QueueName::parse(s).unwrap()
    }

    fn rule() -> ServiceRule {
        ServiceRule {
            ewt_above_s: None,
            clear_ewt_below_s: None,
            service_level_below_pct: None,
            clear_service_level_above_pct: None,
            overflow_to: Some(q("general")),
            boost_priority: None,
        }
    }

    fn figures(ewt_s: Option<f64>, service_level: Option<f64>) -> Figures {
        Figures {
            ewt_s,
            service_level,
        }
    }

    #[test]
    fn a_rule_turns_on_past_its_trigger_and_off_only_past_its_clearing_threshold() {
        let rules = vec![ServiceRule {
            ewt_above_s: Some(60),
            service_level_below_pct: Some(80),
            ..rule()
        }];
        let mut s = ServiceState::default();
        // Nothing known: nothing turns.
        assert!(s.observe(&rules, figures(None, None)).is_empty());
        assert!(s.observe(&rules, figures(Some(60.0), Some(0.8))).is_empty());
        let t = s.observe(&rules, figures(Some(75.0), Some(0.9)));
        assert_eq!(t.len(), 1);
        assert!(t[0].on);
        assert_eq!(t[0].why, "ewt 75 s > 60 s");
        assert!(s.is_on(0));
        // Between trigger and clearing (wait 45..60 s, level 80..85%): stays on.
        assert!(s
            .observe(&rules, figures(Some(50.0), Some(0.99)))
            .is_empty());
        assert!(s
            .observe(&rules, figures(Some(10.0), Some(0.84)))
            .is_empty());
        // A figure unknown: neither clears.
        assert!(s.observe(&rules, figures(Some(10.0), None)).is_empty());
        let t = s.observe(&rules, figures(Some(40.0), Some(0.86)));
        assert_eq!(t.len(), 1);
        assert!(!t[0].on);
        assert_eq!(t[0].why, "ewt 40 s < 45 s, service level 86% > 85%");
        assert_eq!(s.on(), Vec::<usize>::new());
        // The level alone triggers too.
        let t = s.observe(&rules, figures(None, Some(0.5)));
        assert_eq!(t[0].why, "service level 50% < 80%");
    }

    #[test]
    fn explicit_clearing_thresholds_apply() {
        let rules = vec![ServiceRule {
            ewt_above_s: Some(100),
            clear_ewt_below_s: Some(20),
            ..rule()
        }];
        let mut s = ServiceState::default();
        assert_eq!(s.observe(&rules, figures(Some(101.0), None)).len(), 1);
        assert!(s.observe(&rules, figures(Some(21.0), None)).is_empty());
        assert_eq!(s.observe(&rules, figures(Some(19.0), None)).len(), 1);
        assert!(!s.is_on(0));
    }

    #[test]
    fn overflows_that_lead_back_are_found() {
        let moves = |q: &QueueName| -> Vec<QueueName> {
            match q.as_str() {
                "a" => vec![q_("b")],
                "b" => vec![q_("c"), q_("d")],
                "d" => vec![q_("sales")],
                _ => vec![],
            }
        };
        fn q_(s: &str) -> QueueName {
            QueueName::parse(s).unwrap()
        }
        let path = overflow_cycle(&q("sales"), &q("a"), moves).expect("a cycle");
        let names: Vec<&str> = path.iter().map(|q| q.as_str()).collect();
        assert_eq!(names, ["sales", "a", "b", "d", "sales"]);
        assert_eq!(overflow_cycle(&q("sales"), &q("c"), moves), None);
        assert_eq!(overflow_cycle(&q("other"), &q("a"), moves), None);
    }

    #[test]
    fn bad_rules_are_refused_with_the_field() {
        let me = q("sales");
        let cases: Vec<(ServiceRule, &str)> = vec![
            (rule(), "service_rules[0]: no trigger"),
            (
                ServiceRule {
                    ewt_above_s: Some(60),
                    overflow_to: None,
                    ..rule()
                },
                "service_rules[0]: no action",
            ),
            (
                ServiceRule {
                    ewt_above_s: Some(60),
                    clear_ewt_below_s: Some(60),
                    ..rule()
                },
                "service_rules[0].clear_ewt_below_s: 60 is not below ewt_above_s 60",
            ),
            (
                ServiceRule {
                    ewt_above_s: Some(0),
                    ..rule()
                },
                "service_rules[0].ewt_above_s: must be at least 1",
            ),
            (
                ServiceRule {
                    service_level_below_pct: Some(80),
                    clear_service_level_above_pct: Some(80),
                    ..rule()
                },
                "service_rules[0].clear_service_level_above_pct: 80; must be above",
            ),
            (
                ServiceRule {
                    service_level_below_pct: Some(101),
                    ..rule()
                },
                "service_rules[0].service_level_below_pct: 101; must be 1 to 100",
            ),
            (
                ServiceRule {
                    service_level_below_pct: Some(80),
                    clear_ewt_below_s: Some(5),
                    ..rule()
                },
                "service_rules[0].clear_ewt_below_s: set only with ewt_above_s",
            ),
            (
                ServiceRule {
                    ewt_above_s: Some(60),
                    overflow_to: Some(q("sales")),
                    ..rule()
                },
                "service_rules[0].overflow_to: is this queue",
            ),
            (
                ServiceRule {
                    ewt_above_s: Some(60),
                    boost_priority: Some(0),
                    ..rule()
                },
                "service_rules[0].boost_priority: 0; must be 1 to 100",
            ),
        ];
        for (r, want) in cases {
            let e = check(&[r], &me).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e:?} does not start with {want:?}");
        }
        let ok = ServiceRule {
            ewt_above_s: Some(60),
            ..rule()
        };
        assert!(check(std::slice::from_ref(&ok), &me).is_ok());
        assert!(check(&vec![ok; MAX_RULES + 1], &me).is_err());
    }
}
