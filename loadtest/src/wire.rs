//! The slice of Switchboard's documented wire protocol (docs/protocol.md, docs/api.md)
//! that the harness speaks, written from the documentation alone: the harness does not
//! depend on the engine crate.
//!
//! Incoming frames are parsed leniently (unknown fields and unknown `type`s are
//! ignored) so the harness keeps working when the engine adds fields or messages.
//! Outgoing frames carry exactly the documented fields, because the engine rejects
//! unknown ones.
//!
//! Also here: the [`Stamp`] written into every message text, which lets the receiving
//! end correlate a message with its sender and send time.

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- server -> agent

/// A frame on the agent socket (`/ws/agent`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentIn {
    /// First frame; a resumed session lists what the agent still holds and is offered.
    Welcome {
        #[serde(default)]
        conversations: Vec<ConversationView>,
        #[serde(default)]
        offers: Vec<OfferView>,
    },
    Status {
        status: String,
        #[serde(default)]
        reason: Option<String>,
    },
    Offer(OfferView),
    OfferRevoked {
        offer_id: String,
        conversation_id: String,
        outcome: String,
    },
    ConversationAssigned {
        conversation: ConversationView,
    },
    Event {
        conversation_id: String,
        event: TimelineEvent,
    },
    Ack {
        #[serde(default)]
        client_msg_id: Option<String>,
        #[serde(default)]
        duplicate: bool,
    },
    ConversationUpdated {
        conversation_id: String,
        state: String,
        held: bool,
    },
    Error(WireError),
    /// Any other message (`customer_typing`, `history`, `pong`, future additions).
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OfferView {
    pub offer_id: String,
    pub conversation_id: String,
    /// `chat`, `sms`, `email`…
    #[serde(default)]
    pub channel: Option<String>,
    /// The customer's latest message (the engine truncates it; the stamp is short).
    #[serde(default)]
    pub preview: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConversationView {
    pub id: String,
    /// Recent timeline events of the customer, oldest first.
    #[serde(default)]
    pub recent: Vec<TimelineEvent>,
}

/// A timeline event; only the fields the harness reads.
#[derive(Debug, Clone, Deserialize)]
pub struct TimelineEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WireError {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
}

// ---------------------------------------------------------------- agent -> server

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentOut<'a> {
    SetStatus {
        status: &'a str,
    },
    Accept {
        offer_id: &'a str,
    },
    Message {
        conversation_id: &'a str,
        client_msg_id: String,
        text: String,
    },
    Resolve {
        conversation_id: &'a str,
    },
    Reject {
        offer_id: &'a str,
    },
    WrapUp {
        conversation_id: &'a str,
    },
    Note {
        conversation_id: &'a str,
        client_msg_id: String,
        text: String,
    },
}

// ---------------------------------------------------------------- server -> customer

/// A frame on the customer web-chat socket (`/ws/chat`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatIn {
    Welcome {},
    Ack {
        client_msg_id: String,
        #[serde(default)]
        duplicate: bool,
    },
    Event {
        event: TimelineEvent,
    },
    Conversation {
        id: String,
        state: String,
    },
    Error(WireError),
    /// `agent_typing`, `pong`, future additions.
    #[serde(other)]
    Other,
}

// ---------------------------------------------------------------- customer -> server

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatOut {
    Message { client_msg_id: String, text: String },
    Leave {},
}

/// Serialises an outgoing frame (cannot fail for these types).
pub fn to_text<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(msg).expect("outgoing frames always serialise")
}

// ---------------------------------------------------------------- REST

#[derive(Debug, Serialize)]
pub struct LoginRequest<'a> {
    pub agent_id: &'a str,
    pub password: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct LoginResponse {
    pub token: String,
}

#[derive(Debug, Serialize)]
pub struct Capacity {
    pub voice: u16,
    pub chat: u16,
    pub email: u16,
    pub messaging: u16,
}

/// Body of `PUT /api/v1/agents/{id}`.
#[derive(Debug, Serialize)]
pub struct AgentUpsert<'a> {
    pub display_name: String,
    pub password: &'a str,
    pub role: &'a str,
    pub queues: Vec<String>,
    pub capacity: Capacity,
}

// ---------------------------------------------------------------- message stamps

/// What a stamped message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A customer's opening message (opens the conversation; measured to the offer).
    Open,
    /// A customer's message during the load phase (measured to the agent's `event`).
    Msg,
    /// An agent's reply (measured to the customer's `event`).
    Reply,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Open => 'o',
            Kind::Msg => 'm',
            Kind::Reply => 'r',
        }
    }

    fn from_letter(s: &str) -> Option<Kind> {
        match s {
            "o" => Some(Kind::Open),
            "m" => Some(Kind::Msg),
            "r" => Some(Kind::Reply),
            _ => None,
        }
    }
}

/// The correlation token at the start of every message text the harness sends:
/// `lt:<run>:<kind>:<customer_index>:<seq>:<sent_ns>`, optionally followed by a space
/// and padding. `run` (8 hex digits) tells this run's traffic from a previous run's
/// still held by the engine; `sent_ns` is [`crate::clock::now_ns`] at the send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run: u32,
    pub kind: Kind,
    pub customer: u32,
    pub seq: u64,
    pub sent_ns: u64,
}

impl Stamp {
    /// The message text: the stamp, padded with `x` to at least `min_bytes` bytes.
    pub fn text(&self, min_bytes: usize) -> String {
        let mut s = format!(
            "lt:{:08x}:{}:{}:{}:{}",
            self.run,
            self.kind.letter(),
            self.customer,
            self.seq,
            self.sent_ns
        );
        if min_bytes > s.len() + 1 {
            s.push(' ');
            let pad = min_bytes - s.len();
            s.extend(std::iter::repeat('x').take(pad));
        }
        s
    }

    /// Reads the stamp at the start of `text`, if there is one.
    pub fn parse(text: &str) -> Option<Stamp> {
        let word = text.split(' ').next()?;
        let mut it = word.split(':');
        if it.next()? != "lt" {
            return None;
        }
        let run = u32::from_str_radix(it.next()?, 16).ok()?;
        let kind = Kind::from_letter(it.next()?)?;
        let customer = it.next()?.parse().ok()?;
        let seq = it.next()?.parse().ok()?;
        let sent_ns = it.next()?.parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(Stamp {
            run,
            kind,
            customer,
            seq,
            sent_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trip_and_padding() {
        let s = Stamp {
            run: 0xdead_beef,
            kind: Kind::Reply,
            customer: 42,
            seq: 7,
            sent_ns: 123_456_789,
        };
        assert_eq!(s.text(0), "lt:deadbeef:r:42:7:123456789");
        assert_eq!(Stamp::parse(&s.text(0)), Some(s));
        let padded = s.text(100);
        assert_eq!(padded.len(), 100);
        assert_eq!(Stamp::parse(&padded), Some(s));
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("lt:zz:m:1:1:1"), None);
        assert_eq!(Stamp::parse("lt:00000001:m:1:1:1:9"), None);
    }

    #[test]
    fn parses_documented_frames() {
        let offer: AgentIn = serde_json::from_str(
            r#"{"type":"offer","offer_id":"o1","conversation_id":"c1",
                "customer":{"id":"x","display_name":null,"priority":0,"attributes":{},"identities":[]},
                "channel":"chat","queue":"general","priority":0,"waited_ms":3,
                "expires_at":1,"timeout_ms":20000,"preview":"lt:00000001:o:3:0:99"}"#,
        )
        .unwrap();
        match offer {
            AgentIn::Offer(o) => assert_eq!(o.preview.as_deref(), Some("lt:00000001:o:3:0:99")),
            other => panic!("{other:?}"),
        }
        let ev: AgentIn = serde_json::from_str(
            r#"{"type":"event","conversation_id":"c1","event":{"id":"e","customer_id":"x",
                "conversation_id":"c1","at":1,"type":"message_in","channel":"chat",
                "address":"v-1","text":"hi","client_msg_id":"m"}}"#,
        )
        .unwrap();
        assert!(matches!(ev, AgentIn::Event { event, .. } if event.kind == "message_in"));
        let other: AgentIn = serde_json::from_str(r#"{"type":"pong","nonce":"n"}"#).unwrap();
        assert!(matches!(other, AgentIn::Other));
        let err: ChatIn =
            serde_json::from_str(r#"{"type":"error","code":"rate_limited","message":"slow"}"#)
                .unwrap();
        assert!(matches!(err, ChatIn::Error(e) if e.code == "rate_limited"));
        let conv: ChatIn = serde_json::from_str(
            r#"{"type":"conversation","id":"c","state":"assigned","agent_name":"A"}"#,
        )
        .unwrap();
        assert!(matches!(conv, ChatIn::Conversation { state, .. } if state == "assigned"));
        assert_eq!(to_text(&ChatOut::Leave {}), r#"{"type":"leave"}"#);
        assert_eq!(
            to_text(&AgentOut::SetStatus {
                status: "available"
            }),
            r#"{"type":"set_status","status":"available"}"#
        );
    }
}
