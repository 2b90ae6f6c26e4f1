//! The scenario file: its schema (serde, unknown fields refused), the embedded presets,
//! the time distributions, and the arrival-rate schedule.
//!
//! This module is pure data and arithmetic: no sockets, no clock. The schema is
//! documented field by field in loadtest/README.md.

use anyhow::{bail, ensure, Context, Result};
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The presets, by name (files in `loadtest/scenarios/`).
pub const PRESETS: [(&str, &str); 4] = [
    ("steady", include_str!("../../scenarios/steady.toml")),
    (
        "monday-spike",
        include_str!("../../scenarios/monday-spike.toml"),
    ),
    (
        "logout-storm",
        include_str!("../../scenarios/logout-storm.toml"),
    ),
    (
        "channel-mix",
        include_str!("../../scenarios/channel-mix.toml"),
    ),
];

/// A whole scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Nominal length of the load, seconds; phase and storm times refer to it.
    /// `--duration` overrides it (and scales those times when shorter).
    pub duration_s: f64,
    /// Multiplies every drawn time (handle, wrap-up, think, patience, disconnects):
    /// 0.1 plays conversations ten times faster at the same arrival rate.
    #[serde(default = "one")]
    pub time_scale: f64,
    pub agents: Agents,
    pub arrivals: Arrivals,
    pub conversation: Conversation,
    #[serde(default)]
    pub channels: Channels,
}

fn one() -> f64 {
    1.0
}

fn general() -> Vec<String> {
    vec!["general".to_owned()]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agents {
    pub count: u32,
    /// Queues every agent serves (the engine's default queue without demo data is
    /// `general`; with demo data, `support`).
    #[serde(default = "general")]
    pub queues: Vec<String>,
    /// Skills `{name: 1..5}` given to every agent.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    pub capacity: Capacity,
    /// Time from assignment to `wrap_up` (at least until the K replies are sent).
    pub handle_time: Dist,
    /// After-contact work: `wrap_up` → `resolve`, seconds.
    #[serde(default)]
    pub wrap_up_s: f64,
    /// Chance that an agent rejects an offer instead of accepting it.
    #[serde(default)]
    pub reject_probability: f64,
    /// Each agent drops its socket now and then and reconnects (session resumed).
    #[serde(default)]
    pub disconnect: Option<Disconnect>,
    /// Many agents drop their sockets at once.
    #[serde(default)]
    pub storms: Vec<Storm>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    pub chat: u16,
    pub messaging: u16,
    pub email: u16,
    pub voice: u16,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    /// Mean time between an agent's disconnects, seconds (exponential).
    pub every_s: f64,
    /// How long the socket stays down, seconds (well under the engine's 60 s grace).
    pub downtime_s: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storm {
    /// When, seconds into the load (scaled like phases).
    pub at_s: f64,
    /// Share of the agents (the first ones) that drop.
    pub fraction: f64,
    pub downtime_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Poisson arrival rate, customers per second, outside every phase.
    pub rate_per_s: f64,
    /// Windows where the rate is multiplied.
    #[serde(default)]
    pub phases: Vec<RatePhase>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatePhase {
    pub at_s: f64,
    pub duration_s: f64,
    pub multiplier: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// K: customer messages after the opening one; the agent answers each.
    pub messages: u32,
    /// Customer's pause before each message (after the assignment or the last reply).
    pub think_time: Dist,
    /// A web-chat customer not answered within this sends `leave` (abandons).
    pub patience: Dist,
}

/// Arrival weights per channel (need not sum to 1). Non-chat channels arrive through
/// `POST /api/v1/inbound`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default)]
    pub chat: f64,
    #[serde(default)]
    pub sms: f64,
    #[serde(default)]
    pub email: f64,
    #[serde(default)]
    pub line: f64,
    #[serde(default)]
    pub messenger: f64,
    /// How agents answer REST-channel customers: `note` (default; works without any
    /// connector) or `message` (needs the connector enabled, e.g. pointed at a recorder).
    #[serde(default)]
    pub rest_reply: RestReply,
}

impl Default for Channels {
    fn default() -> Channels {
        Channels {
            chat: 1.0,
            sms: 0.0,
            email: 0.0,
            line: 0.0,
            messenger: 0.0,
            rest_reply: RestReply::Note,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestReply {
    #[default]
    Note,
    Message,
}

/// A customer's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ch {
    Chat,
    Sms,
    Email,
    Line,
    Messenger,
}

impl Ch {
    pub const ALL: [Ch; 5] = [Ch::Chat, Ch::Sms, Ch::Email, Ch::Line, Ch::Messenger];

    pub fn name(self) -> &'static str {
        match self {
            Ch::Chat => "chat",
            Ch::Sms => "sms",
            Ch::Email => "email",
            Ch::Line => "line",
            Ch::Messenger => "messenger",
        }
    }
}

impl Channels {
    pub fn weights(&self) -> [f64; 5] {
        [self.chat, self.sms, self.email, self.line, self.messenger]
    }
}

/// A distribution of durations, seconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    Exponential { mean_s: f64 },
    Lognormal { median_s: f64, sigma: f64 },
    Fixed { s: f64 },
}

impl Dist {
    fn check(&self, what: &str) -> Result<()> {
        let ok = match *self {
            Dist::Exponential { mean_s } => mean_s > 0.0 && mean_s.is_finite(),
            Dist::Lognormal { median_s, sigma } => {
                median_s > 0.0 && median_s.is_finite() && sigma >= 0.0 && sigma.is_finite()
            }
            Dist::Fixed { s } => s >= 0.0 && s.is_finite(),
        };
        ensure!(ok, "{what}: bad distribution {self:?}");
        Ok(())
    }

    /// One draw, seconds, times `scale`.
    pub fn sample(&self, rng: &mut impl Rng, scale: f64) -> Duration {
        let s = match *self {
            Dist::Exponential { mean_s } => {
                Exp::new(1.0 / mean_s).map_or(mean_s, |d| d.sample(rng))
            }
            Dist::Lognormal { median_s, sigma } => {
                LogNormal::new(median_s.ln(), sigma).map_or(median_s, |d| d.sample(rng))
            }
            Dist::Fixed { s } => s,
        };
        Duration::from_secs_f64((s * scale).clamp(0.0, 86_400.0))
    }
}

impl Scenario {
    /// A preset name or a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<Scenario> {
        let text = match PRESETS.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, t)) => (*t).to_owned(),
            None => std::fs::read_to_string(name_or_path).with_context(|| {
                format!(
                    "--scenario {name_or_path:?} is neither a preset ({}) nor a readable file",
                    PRESETS.map(|(n, _)| n).join(", ")
                )
            })?,
        };
        Scenario::parse(&text).with_context(|| format!("scenario {name_or_path}"))
    }

    pub fn parse(text: &str) -> Result<Scenario> {
        let s: Scenario = toml::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(self.duration_s > 0.0, "duration_s must be positive");
        ensure!(
            self.time_scale > 0.0 && self.time_scale.is_finite(),
            "time_scale must be positive"
        );
        ensure!(self.agents.count >= 1, "agents.count must be at least 1");
        ensure!(!self.agents.queues.is_empty(), "agents.queues is empty");
        ensure!(
            (0.0..=1.0).contains(&self.agents.reject_probability),
            "agents.reject_probability must be in 0..=1"
        );
        ensure!(self.agents.wrap_up_s >= 0.0, "agents.wrap_up_s must be ≥ 0");
        if let Some(d) = self.agents.disconnect {
            ensure!(
                d.every_s > 0.0 && d.downtime_s >= 0.0,
                "agents.disconnect: every_s > 0, downtime_s ≥ 0"
            );
        }
        for s in &self.agents.storms {
            ensure!(
                (0.0..=1.0).contains(&s.fraction) && s.at_s >= 0.0 && s.downtime_s >= 0.0,
                "agents.storms: fraction in 0..=1, at_s and downtime_s ≥ 0"
            );
        }
        self.agents.handle_time.check("agents.handle_time")?;
        self.conversation
            .think_time
            .check("conversation.think_time")?;
        self.conversation.patience.check("conversation.patience")?;
        ensure!(
            self.arrivals.rate_per_s > 0.0 && self.arrivals.rate_per_s.is_finite(),
            "arrivals.rate_per_s must be positive"
        );
        for p in &self.arrivals.phases {
            ensure!(
                p.at_s >= 0.0 && p.duration_s >= 0.0 && p.multiplier >= 0.0,
                "arrivals.phases: at_s, duration_s, multiplier must be ≥ 0"
            );
        }
        let w = self.channels.weights();
        if w.iter().any(|x| *x < 0.0 || !x.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
            bail!("channels: weights must be ≥ 0 and not all 0");
        }
        Ok(())
    }

    /// Fits the scenario to a run of `duration`: when it is shorter than `duration_s`,
    /// phase and storm times (start and length) shrink by the same factor, so a 30 s run
    /// of a 15-minute spike preset still spikes in its middle third.
    pub fn fit_to(&mut self, duration: Duration) {
        let d = duration.as_secs_f64();
        if d < self.duration_s {
            let f = d / self.duration_s;
            for p in &mut self.arrivals.phases {
                p.at_s *= f;
                p.duration_s *= f;
            }
            for s in &mut self.agents.storms {
                s.at_s *= f;
            }
        }
        self.duration_s = d;
    }

    /// Arrival rate at `t_s` seconds into the load.
    pub fn rate_at(&self, t_s: f64) -> f64 {
        let m: f64 = self
            .arrivals
            .phases
            .iter()
            .filter(|p| t_s >= p.at_s && t_s < p.at_s + p.duration_s)
            .map(|p| p.multiplier)
            .product();
        self.arrivals.rate_per_s * m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn presets_parse() {
        for (name, _) in PRESETS {
            let s = Scenario::load(name).unwrap();
            assert_eq!(s.name, name);
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let base = PRESETS[0].1;
        assert!(Scenario::parse(&base.replace("wrap_up_s", "wrapup_s")).is_err());
        assert!(Scenario::parse(&base.replace("median_s", "mean_s")).is_err());
        assert!(Scenario::parse(&base.replace("lognormal", "gaussian")).is_err());
    }

    #[test]
    fn spike_is_scaled_to_a_short_run() {
        let mut s = Scenario::load("monday-spike").unwrap();
        assert_eq!(s.rate_at(100.0), 4.0);
        assert_eq!(s.rate_at(400.0), 12.0);
        s.fit_to(Duration::from_secs(30));
        assert_eq!(s.rate_at(5.0), 4.0);
        assert_eq!(s.rate_at(15.0), 12.0);
        assert_eq!(s.rate_at(25.0), 4.0);
    }

    #[test]
    fn distributions() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let fixed = Dist::Fixed { s: 2.0 };
        assert_eq!(fixed.sample(&mut rng, 0.5), Duration::from_secs(1));
        let e = Dist::Exponential { mean_s: 2.0 };
        let mean: f64 = (0..20_000)
            .map(|_| e.sample(&mut rng, 1.0).as_secs_f64())
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - 2.0).abs() < 0.1, "{mean}");
        let l = Dist::Lognormal {
            median_s: 3.0,
            sigma: 0.0,
        };
        assert!((l.sample(&mut rng, 1.0).as_secs_f64() - 3.0).abs() < 1e-9);
    }
}
