//! Channels a customer can reach us on, and the capacity class each one uses.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A customer-facing channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Chat,
    Sms,
    Email,
    Voice,
    Line,
    Messenger,
    Video,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Chat,
        Channel::Sms,
        Channel::Email,
        Channel::Voice,
        Channel::Line,
        Channel::Messenger,
        Channel::Video,
    ];

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ParseError::new("channel", format!("unknown channel {s:?}")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Voice => "voice",
            Channel::Line => "line",
            Channel::Messenger => "messenger",
            Channel::Video => "video",
        }
    }

    /// Which per-agent capacity pool a conversation on this channel uses.
    pub fn class(self) -> ChannelClass {
        match self {
            Channel::Voice | Channel::Video => ChannelClass::Voice,
            Channel::Chat => ChannelClass::Chat,
            Channel::Email => ChannelClass::Email,
            Channel::Sms | Channel::Line | Channel::Messenger => ChannelClass::Messaging,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capacity pool. Voice (and video) is exclusive: an agent on a call takes nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelClass {
    Voice,
    Chat,
    Email,
    Messaging,
}

impl ChannelClass {
    pub const ALL: [ChannelClass; 4] = [
        ChannelClass::Voice,
        ChannelClass::Chat,
        ChannelClass::Email,
        ChannelClass::Messaging,
    ];
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelClass::Voice => "voice",
            ChannelClass::Chat => "chat",
            ChannelClass::Email => "email",
            ChannelClass::Messaging => "messaging",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parse_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(c));
        }
        assert!(Channel::parse("fax").is_err());
        assert_eq!(Channel::Video.class(), ChannelClass::Voice);
        assert_eq!(Channel::Line.class(), ChannelClass::Messaging);
    }
}
