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
    Whatsapp,
    Instagram,
    /// X (Twitter) direct messages.
    X,
    /// Public comments (and visitor posts) on the company's Facebook Page: answered in
    /// public, or moved to Messenger by a private reply.
    FacebookComments,
    /// Public posts on X that mention or answer the company's account: answered in
    /// public, or moved to a direct message.
    XMentions,
}

impl Channel {
    pub const ALL: [Channel; 12] = [
        Channel::Chat,
        Channel::Sms,
        Channel::Email,
        Channel::Voice,
        Channel::Line,
        Channel::Messenger,
        Channel::Video,
        Channel::Whatsapp,
        Channel::Instagram,
        Channel::X,
        Channel::FacebookComments,
        Channel::XMentions,
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
            Channel::Whatsapp => "whatsapp",
            Channel::Instagram => "instagram",
            Channel::X => "x",
            Channel::FacebookComments => "facebook_comments",
            Channel::XMentions => "x_mentions",
        }
    }

    /// The private channel a public conversation on this channel moves to (Messenger
    /// for Page comments, direct messages for X mentions); `None` for a private one.
    pub const fn private_channel(self) -> Option<Channel> {
        match self {
            Channel::FacebookComments => Some(Channel::Messenger),
            Channel::XMentions => Some(Channel::X),
            _ => None,
        }
    }

    /// Which per-agent capacity pool a conversation on this channel uses.
    pub fn class(self) -> ChannelClass {
        self.capabilities().class
    }

    /// The channel's row of the capability table. An exhaustive match: a new channel
    /// does not compile until it has a row.
    pub const fn capabilities(self) -> Capabilities {
        use AddressKind::{Email, Opaque, Phone, XAccount};
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
            // Notifications are proactive: outside the 24-hour window WhatsApp takes
            // only the approved template the rule names (`whatsapp_template`).
            Channel::Whatsapp => row(
                C::Messaging,
                Connector,
                true,
                ByReply,
                true,
                true,
                Phone,
                true,
            ),
            // Instagram direct messages: Messenger's rules, without notifications
            // (nothing may be sent outside the 24-hour window but a tagged reply).
            Channel::Instagram => row(
                C::Messaging,
                Connector,
                true,
                ByReply,
                false,
                true,
                Opaque,
                true,
            ),
            // Direct messages carry no buttons; proactive messages are not offered.
            Channel::X => row(
                C::Messaging,
                Connector,
                false,
                ByReply,
                false,
                true,
                XAccount,
                true,
            ),
            // Public replies: no buttons, no survey, no notification and no bot in
            // front of everyone; the agent answers or moves the customer to private.
            Channel::FacebookComments => row(
                C::Messaging,
                Connector,
                false,
                NotOffered,
                false,
                false,
                Opaque,
                true,
            ),
            Channel::XMentions => row(
                C::Messaging,
                Connector,
                false,
                NotOffered,
                false,
                false,
                XAccount,
                true,
            ),
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

/// A provider's customer-service window (Meta's 24-hour rule): how long after the
/// customer's last message on the channel an agent may still write to them, and how.
/// A connector states it (`Sender::window`); the customer actor applies it before an
/// agent's reply is committed, so a late reply is refused with its reason instead of
/// failing at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyWindow {
    /// Free-form replies within this long of the customer's last message.
    pub free_ms: u64,
    /// After `free_ms` and up to this long, a reply still goes out marked as a human
    /// agent's (Messenger's `HUMAN_AGENT` tag); `None`: not at all.
    pub tagged_ms: Option<u64>,
    /// Approved template messages may be sent at any time (WhatsApp).
    pub templates: bool,
}

/// How a reply goes out with respect to its channel's [`ReplyWindow`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SendAs {
    /// An ordinary reply (inside the window, or a channel without one).
    #[default]
    Reply,
    /// After the free window: marked as a human agent's reply.
    HumanAgent,
    /// An approved template message.
    Template(TemplateMessage),
    /// Meta's private reply to a public comment (or visitor post): the first private
    /// message to a commenter who has not written on Messenger, addressed by the
    /// comment's id, once per comment and within [`PRIVATE_REPLY_MS`] of it.
    PrivateReply { comment_id: String },
}

/// How long after a public comment Meta takes a private reply to it.
pub const PRIVATE_REPLY_MS: u64 = 7 * 24 * 60 * 60 * 1000;

impl SendAs {
    pub fn is_reply(&self) -> bool {
        *self == SendAs::Reply
    }
}

/// An approved template message to send: the template's name and language at the
/// provider, and its body parameters in order (`{{1}}`, `{{2}}`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateMessage {
    pub name: String,
    pub language: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
}

/// A template approved at the provider, as the operator configured it: its body with
/// `{{1}}`, `{{2}}`... placeholders, so the engine can check a send's parameters and
/// record the text the customer will read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedTemplate {
    pub name: String,
    pub language: String,
    pub body: String,
}

/// Largest number of body parameters a template takes.
pub const MAX_TEMPLATE_PARAMETERS: usize = 20;
/// Longest template parameter, characters.
pub const MAX_TEMPLATE_PARAMETER_CHARS: usize = 1024;

impl ApprovedTemplate {
    /// How many parameters the body takes: its highest `{{n}}`.
    pub fn parameter_count(&self) -> usize {
        let mut max = 0;
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("{{") {
            rest = &rest[i + 2..];
            if let Some(j) = rest.find("}}") {
                if let Ok(n) = rest[..j].trim().parse::<usize>() {
                    max = max.max(n);
                }
            }
        }
        max
    }

    /// The body with `{{n}}` replaced by the n-th parameter.
    pub fn render(&self, parameters: &[String]) -> String {
        let mut out = self.body.clone();
        for (i, p) in parameters.iter().enumerate().rev() {
            out = out.replace(&format!("{{{{{}}}}}", i + 1), p);
        }
        out
    }

    /// Checks `msg` against the approved templates and answers the text it renders.
    pub fn resolve(
        approved: &[ApprovedTemplate],
        msg: &TemplateMessage,
    ) -> Result<String, ParseError> {
        let t = approved
            .iter()
            .find(|t| t.name == msg.name && t.language == msg.language)
            .ok_or_else(|| {
                ParseError::new(
                    "template",
                    format!(
                        "no approved template {:?} in language {:?}",
                        msg.name, msg.language
                    ),
                )
            })?;
        let want = t.parameter_count();
        if msg.parameters.len() != want {
            return Err(ParseError::new(
                "template.parameters",
                format!(
                    "template {:?} takes {want} parameters, not {}",
                    t.name,
                    msg.parameters.len()
                ),
            ));
        }
        if let Some(p) = msg
            .parameters
            .iter()
            .find(|p| p.trim().is_empty() || p.chars().count() > MAX_TEMPLATE_PARAMETER_CHARS)
        {
            return Err(ParseError::new(
                "template.parameters",
                format!(
                    "a parameter is empty or over {MAX_TEMPLATE_PARAMETER_CHARS} characters ({} characters)",
                    p.chars().count()
                ),
            ));
        }
        Ok(t.render(&msg.parameters))
    }
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
    /// An X account's user id (kept as given): the same account on direct messages
    /// and on public mentions.
    XAccount,
}

impl AddressKind {
    /// For an address space several channels share (a phone number across SMS, voice
    /// and WhatsApp; an X account across direct messages and mentions), the evidence
    /// recorded when a new channel's identity is linked to the customer another
    /// channel already knows by the same address. `None`: one channel's own space.
    pub const fn shared_evidence(self) -> Option<&'static str> {
        match self {
            AddressKind::Phone => Some("same_phone_number"),
            AddressKind::XAccount => Some("same_x_account"),
            AddressKind::Email | AddressKind::Opaque => None,
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
            "sms, email, line, messenger, whatsapp"
        );
        assert_eq!(
            channels_where(|k| k.bot),
            "chat, sms, line, messenger, whatsapp, instagram, x"
        );
        assert_eq!(
            channels_where(|k| k.survey == SurveyPath::ByReply),
            "sms, line, messenger, whatsapp, instagram, x"
        );
        assert_eq!(
            channels_where(|k| k.quick_replies),
            "line, messenger, whatsapp, instagram"
        );
        assert_eq!(
            channels_where(|k| k.parks),
            "sms, email, line, messenger, whatsapp, instagram, x, facebook_comments, x_mentions"
        );
        assert_eq!(
            channels_where(|k| k.replies == ReplyPath::Connector),
            "sms, email, line, messenger, whatsapp, instagram, x, facebook_comments, x_mentions"
        );
        assert_eq!(
            channels_where(|k| k.address == AddressKind::Phone),
            "sms, voice, whatsapp"
        );
        assert_eq!(
            channels_where(|k| k.address == AddressKind::XAccount),
            "x, x_mentions"
        );
        let public: Vec<_> = Channel::ALL
            .into_iter()
            .filter_map(|c| Some((c, c.private_channel()?)))
            .collect();
        assert_eq!(
            public,
            [
                (Channel::FacebookComments, Channel::Messenger),
                (Channel::XMentions, Channel::X)
            ]
        );
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(c));
        }
    }

    #[test]
    fn templates_are_checked_and_rendered() {
        let approved = [ApprovedTemplate {
            name: "order_update".into(),
            language: "ja".into(),
            body: "{{1}}様、ご注文{{2}}は発送済みです。{{1}}様".into(),
        }];
        let msg = |name: &str, lang: &str, p: &[&str]| TemplateMessage {
            name: name.into(),
            language: lang.into(),
            parameters: p.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(approved[0].parameter_count(), 2);
        assert_eq!(
            ApprovedTemplate::resolve(&approved, &msg("order_update", "ja", &["山田", "A-1"])),
            Ok("山田様、ご注文A-1は発送済みです。山田様".to_owned())
        );
        let field = |m| ApprovedTemplate::resolve(&approved, &m).unwrap_err().field;
        assert_eq!(field(msg("order_update", "en", &["a", "b"])), "template");
        assert_eq!(field(msg("nope", "ja", &["a", "b"])), "template");
        assert_eq!(
            field(msg("order_update", "ja", &["a"])),
            "template.parameters"
        );
        assert_eq!(
            field(msg("order_update", "ja", &["a", " "])),
            "template.parameters"
        );
        let long = "x".repeat(MAX_TEMPLATE_PARAMETER_CHARS + 1);
        assert_eq!(
            field(msg("order_update", "ja", &["a", &long])),
            "template.parameters"
        );
    }
}
