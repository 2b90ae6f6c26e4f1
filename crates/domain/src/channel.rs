//! Channels a customer can reach us on, and what each one can do: its row of the
//! capability table ([`Channel::capabilities`]) — capacity class, how replies travel,
//! quick replies, surveys answered by reply, notifications, the FAQ bot, how its
//! addresses are normalised, and whether its conversations park. Code asks the table,
//! never "is it SMS or LINE?", so a new channel is one enum variant plus one row, and
//! the compiler asks for the row.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A customer-facing channel. `EnumIter` lets a test check that [`Channel::ALL`] lists
/// every variant, so a new channel cannot escape the tests that walk `ALL`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
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
        self.capabilities().class
    }

    /// The channel's row of the capability table. An exhaustive match: a new channel
    /// does not compile until it has a row.
    pub const fn capabilities(self) -> Capabilities {
        use AddressKind::{Email, Opaque, Phone};
        use ReplyPath::{Connector, NoText, Socket};
        use SurveyPath::{ByLink, ByReply, InChat, NotOffered};
        // One parameter per column of the table: the rows below read as the table.
        #[allow(clippy::too_many_arguments)]
        const fn row(
            class: ChannelClass,
            replies: ReplyPath,
            quick_replies: bool,
            survey: SurveyPath,
            notifications: bool,
            bot: bool,
            address: AddressKind,
            parks: bool,
        ) -> Capabilities {
            Capabilities {
                class,
                replies,
                quick_replies,
                survey,
                notifications,
                bot,
                address,
                parks,
            }
        }
        use ChannelClass as C;
        match self {
            // Columns: class, replies, quick replies, survey, notifications, bot, address,
            // parks.
            Channel::Chat => row(C::Chat, Socket, false, InChat, false, true, Opaque, false),
            Channel::Sms => row(
                C::Messaging,
                Connector,
                false,
                ByReply,
                true,
                true,
                Phone,
                true,
            ),
            Channel::Email => row(C::Email, Connector, false, ByLink, true, false, Email, true),
            Channel::Voice => row(
                C::Voice,
                NoText,
                false,
                NotOffered,
                false,
                false,
                Phone,
                false,
            ),
            Channel::Line => row(
                C::Messaging,
                Connector,
                true,
                ByReply,
                true,
                true,
                Opaque,
                true,
            ),
            Channel::Messenger => row(
                C::Messaging,
                Connector,
                true,
                ByReply,
                true,
                true,
                Opaque,
                true,
            ),
            // Video sessions run beside the web chat, whose sockets carry the text.
            Channel::Video => row(C::Voice, Socket, false, InChat, false, false, Opaque, false),
        }
    }
}

/// The channels whose row satisfies `pred`, comma-separated (for error messages that
/// list what is allowed).
pub fn channels_where(pred: impl Fn(Capabilities) -> bool) -> String {
    Channel::ALL
        .into_iter()
        .filter(|c| pred(c.capabilities()))
        .map(Channel::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a channel can do; one row per channel in [`Channel::capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The per-agent capacity pool its conversations use.
    pub class: ChannelClass,
    /// How an agent's text reply reaches the customer.
    pub replies: ReplyPath,
    /// A message can carry quick-reply buttons.
    pub quick_replies: bool,
    /// How a satisfaction survey is asked and answered.
    pub survey: SurveyPath,
    /// Proactive notifications can be sent on it.
    pub notifications: bool,
    /// The FAQ bot may answer on it.
    pub bot: bool,
    /// How its addresses are normalised into an identity.
    pub address: AddressKind,
    /// Asynchronous: the customer writes when they like and is not waiting on a line,
    /// so an agent may park the conversation (freeing the slot) until they write again,
    /// and the engine parks it after `parking.auto_park_after_ms` of their silence.
    pub parks: bool,
}

/// How an agent's text reply reaches the customer on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyPath {
    /// Over the customer's open web-chat sockets.
    Socket,
    /// Through the channel's provider connector, after commit.
    Connector,
    /// The channel carries no text (a call).
    NoText,
}

/// How a satisfaction survey is asked and answered on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyPath {
    /// A `survey` frame on the web-chat socket, answered with `survey_answer`.
    InChat,
    /// A message; the customer replies with a number.
    ByReply,
    /// A message with a one-time link to the survey page.
    ByLink,
    /// No survey on this channel.
    NotOffered,
}

/// How a channel's addresses are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// E.164: `+` and 6 to 15 digits; spaces, dashes and parentheses dropped.
    Phone,
    /// Lowercased, with one `@` between a non-empty local part and domain.
    Email,
    /// The provider's or visitor's id, kept as given (trimmed).
    Opaque,
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

    /// The table says what the engine did before it existed (notification, bot and
    /// survey channels were lists in three modules).
    /// `ALL` is hand-written (a const array); it must name every variant, in order.
    #[test]
    fn all_lists_every_channel() {
        use strum::IntoEnumIterator;
        assert_eq!(Channel::iter().collect::<Vec<_>>(), Channel::ALL.to_vec());
    }

    #[test]
    fn capability_table() {
        assert_eq!(
            channels_where(|k| k.notifications),
            "sms, email, line, messenger"
        );
        assert_eq!(channels_where(|k| k.bot), "chat, sms, line, messenger");
        assert_eq!(
            channels_where(|k| k.survey == SurveyPath::ByReply),
            "sms, line, messenger"
        );
        assert_eq!(channels_where(|k| k.quick_replies), "line, messenger");
        assert_eq!(channels_where(|k| k.parks), "sms, email, line, messenger");
        assert_eq!(
            channels_where(|k| k.replies == ReplyPath::Connector),
            "sms, email, line, messenger"
        );
        assert_eq!(
            channels_where(|k| k.address == AddressKind::Phone),
            "sms, voice"
        );
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(c));
        }
    }
}
