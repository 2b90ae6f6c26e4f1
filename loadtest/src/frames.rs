//! What the harness adds to the wire types. The frames and REST bodies themselves are
//! the protocol crate's (`switchboard-protocol`, the types the engine speaks), so the
//! harness cannot drift from the engine; this module owns only the client-side
//! leniency and the few reads the harness makes of a frame:
//!
//! - [`read`] parses a server frame and skips one whose `type` this build does not know
//!   (`Ok(None)`): the engine may add messages, and clients ignore unknown types
//!   (docs/protocol.md). Unknown fields need nothing here: the protocol's server ->
//!   client types never deny them. A frame of a known type that does not parse is
//!   still an error, which the harness reports; that includes a value inside it this
//!   build does not know (a newer timeline event `type`, conversation state or error
//!   code), since the domain's enums are closed. Harness and engine built from the
//!   same commit always agree.
//! - [`to_text`] writes an outgoing frame; [`set_status`] and [`resolve`] build the
//!   two frames every agent task sends, with their optional fields left out.
//! - [`text_of`] and [`code_name`]: where a timeline event's (stamped) text is, and an
//!   error code's wire name for the error tallies.

use protocol::{
    AgentClientMsg, ConversationId, ErrorCode, EventKind, RequestedStatus, TimelineEvent,
};
use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Parses server frame `text` as `T` (an internally tagged message enum):
/// `Ok(None)` when its `type` is not one of `T`'s.
pub fn read<T: DeserializeOwned>(text: &str) -> Result<Option<T>, serde_json::Error> {
    match serde_json::from_str::<T>(text) {
        Ok(msg) => Ok(Some(msg)),
        Err(e) => match serde_json::from_str::<Tag>(text) {
            Ok(Tag { kind }) if !knows::<T>(&kind) => Ok(None),
            _ => Err(e),
        },
    }
}

/// Serialises an outgoing frame or body (cannot fail for the protocol's types).
pub fn to_text<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(msg).expect("outgoing frames always serialise")
}

/// `set_status` with no reason.
pub fn set_status(status: RequestedStatus) -> AgentClientMsg {
    AgentClientMsg::SetStatus {
        status,
        reason: None,
    }
}

/// `resolve` with no disposition.
pub fn resolve(conversation_id: ConversationId) -> AgentClientMsg {
    AgentClientMsg::Resolve {
        conversation_id,
        disposition: None,
    }
}

/// The text of a customer message, an agent's reply or a note: the events that carry
/// the harness's stamps.
pub fn text_of(event: &TimelineEvent) -> Option<&str> {
    match &event.kind {
        EventKind::MessageIn { text, .. }
        | EventKind::MessageOut { text, .. }
        | EventKind::Note { text, .. } => Some(text),
        _ => None,
    }
}

/// An error code as the wire spells it (`rate_limited`).
pub fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{code:?}"),
    }
}

/// Just the tag of a frame.
#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "type")]
    kind: String,
}

/// Whether `T` has a variant tagged `tag`. Deserialises `{"type": tag}` alone through
/// an error type that records serde's `unknown_variant` call: an unknown tag fails
/// there, a known one gets past the tag (then fails on a missing field, or succeeds).
/// No error text is matched.
fn knows<T: DeserializeOwned>(tag: &str) -> bool {
    let alone = de::value::MapDeserializer::<_, Probe>::new(std::iter::once(("type", tag)));
    !matches!(T::deserialize(alone), Err(Probe::UnknownVariant))
}

/// The error of [`knows`]'s trial deserialisation.
#[derive(Debug)]
enum Probe {
    UnknownVariant,
    Other,
}

impl de::Error for Probe {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Probe::Other
    }
    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Probe::UnknownVariant
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Probe {}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AgentServerMsg, ChatClientMsg, ChatServerMsg, ConversationState};

    const CONV: &str = "6f3c8a52-3c4e-4c5e-9a43-54f1f0f1a001";

    #[test]
    fn reads_documented_frames_leniently() {
        let offer = format!(
            r#"{{"type":"offer","offer_id":"7a1e0b6c-1d2e-4f30-8a4b-5c6d7e8f9a0b",
                "conversation_id":"{CONV}",
                "customer":{{"id":"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9","display_name":null,
                  "priority":0,"attributes":{{}},"identities":[]}},
                "channel":"chat","queue":"general","priority":0,"waited_ms":3,
                "expires_at":1,"timeout_ms":20000,"preview":"lt:00000001:o:3:0:99",
                "added_later":{{"x":1}}}}"#
        );
        match read::<AgentServerMsg>(&offer).unwrap() {
            Some(AgentServerMsg::Offer(o)) => {
                assert_eq!(o.preview.as_deref(), Some("lt:00000001:o:3:0:99"))
            }
            other => panic!("{other:?}"),
        }
        let event = format!(
            r#"{{"type":"event","conversation_id":"{CONV}","event":{{
                "id":"01890a5d-ac96-774b-bcce-b302099a8057",
                "customer_id":"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
                "conversation_id":"{CONV}","at":1,"type":"message_in","channel":"chat",
                "address":"v-1","text":"hi","client_msg_id":"m"}}}}"#
        );
        match read::<AgentServerMsg>(&event).unwrap() {
            Some(AgentServerMsg::Event { event, .. }) => assert_eq!(text_of(&event), Some("hi")),
            other => panic!("{other:?}"),
        }
        // A type this build does not know is skipped; so is a known one it does not read.
        assert!(read::<AgentServerMsg>(r#"{"type":"sparkle","n":1}"#)
            .unwrap()
            .is_none());
        assert!(matches!(
            read::<AgentServerMsg>(r#"{"type":"pong","nonce":"n"}"#),
            Ok(Some(AgentServerMsg::Pong { .. }))
        ));
        // A known type that does not parse, or no type at all, is an error.
        assert!(read::<AgentServerMsg>(r#"{"type":"offer_revoked"}"#).is_err());
        assert!(read::<AgentServerMsg>(r#"{"offer":1}"#).is_err());
        assert!(read::<AgentServerMsg>("not json").is_err());

        match read::<ChatServerMsg>(r#"{"type":"error","code":"rate_limited","message":"slow"}"#)
            .unwrap()
        {
            Some(ChatServerMsg::Error(e)) => assert_eq!(code_name(e.code), "rate_limited"),
            other => panic!("{other:?}"),
        }
        let conv = format!(
            r#"{{"type":"conversation","id":"{CONV}","state":"assigned","agent_name":"A"}}"#
        );
        assert!(matches!(
            read::<ChatServerMsg>(&conv).unwrap(),
            Some(ChatServerMsg::Conversation(c)) if c.state == ConversationState::Assigned
        ));
        assert!(read::<ChatServerMsg>(r#"{"type":"confetti"}"#)
            .unwrap()
            .is_none());
    }

    /// The frames the harness writes are byte for byte what it wrote with its own copy
    /// of the types.
    #[test]
    fn writes_the_same_frames_as_before() {
        assert_eq!(to_text(&ChatClientMsg::Leave {}), r#"{"type":"leave"}"#);
        assert_eq!(
            to_text(&ChatClientMsg::Message {
                client_msg_id: "c1".into(),
                text: "hi".into(),
                queue: None,
                ivr_path: Vec::new(),
                files: Vec::new(),
            }),
            r#"{"type":"message","client_msg_id":"c1","text":"hi"}"#
        );
        assert_eq!(
            to_text(&set_status(RequestedStatus::Available)),
            r#"{"type":"set_status","status":"available"}"#
        );
        let id = ConversationId::parse(CONV).unwrap();
        assert_eq!(
            to_text(&resolve(id)),
            format!(r#"{{"type":"resolve","conversation_id":"{CONV}"}}"#)
        );
        assert_eq!(
            to_text(&AgentClientMsg::Message {
                conversation_id: id,
                client_msg_id: "c2".into(),
                text: "t".into(),
                channel: None,
                template: None,
                files: Vec::new(),
            }),
            format!(
                r#"{{"type":"message","conversation_id":"{CONV}","client_msg_id":"c2","text":"t"}}"#
            )
        );
        assert_eq!(
            to_text(&AgentClientMsg::WrapUp {
                conversation_id: id
            }),
            format!(r#"{{"type":"wrap_up","conversation_id":"{CONV}"}}"#)
        );
    }
}
