//! Response-time targets (docs/api.md "Response times"): the checks a queue's
//! `response_times` must pass before it is saved. What a clock is and when it runs is
//! the reports core's `ResponseClock`; the engine starts, stops and escalates it.

use domain::{Channel, ReplyPath, ResponseTargets};
use std::fmt;

/// Shortest target: a clock checked about once a second cannot honour less.
pub const MIN_TARGET_MS: u64 = 1_000;
/// Longest target: 30 days.
pub const MAX_TARGET_MS: u64 = 30 * 24 * 3_600_000;
/// Highest priority boost when a target passes.
pub const MAX_BOOST: i32 = 100;

/// A refused `response_times`: the exact field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// e.g. `response_times.channels.email.first_ms`.
    pub field: String,
    pub why: String,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

impl std::error::Error for TargetError {}

/// Checks a queue's targets: each within [`MIN_TARGET_MS`]..=[`MAX_TARGET_MS`], at
/// least one set, no channel entry for a call (calls have no replies to time), and an
/// overdue boost of 0 to [`MAX_BOOST`].
pub fn check(t: &ResponseTargets) -> Result<(), TargetError> {
    let refuse = |field: String, why: String| Err(TargetError { field, why });
    let target = |field: String, v: Option<u64>| match v {
        Some(ms) if !(MIN_TARGET_MS..=MAX_TARGET_MS).contains(&ms) => Err(TargetError {
            field,
            why: format!("{ms} ms is outside {MIN_TARGET_MS}..={MAX_TARGET_MS} (1 s to 30 days)"),
        }),
        _ => Ok(()),
    };
    target("response_times.first_ms".into(), t.first_ms)?;
    target("response_times.next_ms".into(), t.next_ms)?;
    for (ch, c) in &t.channels {
        let at = |f: &str| format!("response_times.channels.{ch}.{f}");
        if ch.capabilities().replies == ReplyPath::NoText {
            return refuse(
                format!("response_times.channels.{ch}"),
                format!("{ch} carries no replies to time"),
            );
        }
        target(at("first_ms"), c.first_ms)?;
        target(at("next_ms"), c.next_ms)?;
    }
    let any = t.first_ms.is_some()
        || t.next_ms.is_some()
        || t.channels
            .values()
            .any(|c| c.first_ms.is_some() || c.next_ms.is_some());
    if !any {
        return refuse(
            "response_times".into(),
            "no target: set first_ms or next_ms (or a channel's)".into(),
        );
    }
    if !(0..=MAX_BOOST).contains(&t.overdue_boost) {
        return refuse(
            "response_times.overdue_boost".into(),
            format!("{} is outside 0..={MAX_BOOST}", t.overdue_boost),
        );
    }
    Ok(())
}

/// Whether replies on `channel` can be timed at all.
pub fn timed(channel: Channel) -> bool {
    channel.capabilities().replies != ReplyPath::NoText
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ChannelTargets;

    fn targets(toml: &str) -> ResponseTargets {
        toml::from_str(toml).expect("targets")
    }

    #[test]
    fn targets_per_channel_replace_the_queues() {
        let t =
            targets("first_ms = 60000\nnext_ms = 300000\n[channels.email]\nfirst_ms = 14400000\n");
        check(&t).expect("valid");
        assert_eq!(t.overdue_boost, 10, "default boost");
        assert_eq!(t.target(Channel::Sms, true), Some(60_000));
        assert_eq!(t.target(Channel::Sms, false), Some(300_000));
        assert_eq!(t.target(Channel::Email, true), Some(14_400_000));
        assert_eq!(
            t.target(Channel::Email, false),
            None,
            "replaced, not merged"
        );
        assert_eq!(
            t.target(Channel::Voice, true),
            None,
            "calls are never timed"
        );
        assert!(!timed(Channel::Voice) && timed(Channel::Chat));
    }

    #[test]
    fn bad_targets_are_refused_with_their_field() {
        let refused = |t: ResponseTargets| check(&t).expect_err("refused").field;
        let base = targets("first_ms = 60000");
        assert_eq!(
            refused(ResponseTargets {
                first_ms: Some(999),
                ..base.clone()
            }),
            "response_times.first_ms"
        );
        assert_eq!(
            refused(ResponseTargets {
                next_ms: Some(MAX_TARGET_MS + 1),
                ..base.clone()
            }),
            "response_times.next_ms"
        );
        let mut email = base.clone();
        email.channels.insert(
            Channel::Email,
            ChannelTargets {
                first_ms: None,
                next_ms: Some(0),
            },
        );
        assert_eq!(refused(email), "response_times.channels.email.next_ms");
        let mut voice = base.clone();
        voice.channels.insert(
            Channel::Voice,
            ChannelTargets {
                first_ms: Some(60_000),
                next_ms: None,
            },
        );
        assert_eq!(refused(voice), "response_times.channels.voice");
        assert_eq!(
            refused(ResponseTargets {
                first_ms: None,
                ..base.clone()
            }),
            "response_times"
        );
        assert_eq!(
            refused(ResponseTargets {
                overdue_boost: 101,
                ..base.clone()
            }),
            "response_times.overdue_boost"
        );
        assert!(toml::from_str::<ResponseTargets>("first_ms = 1000\nfirst = 3").is_err());
    }
}
