//! Browser calls (WebRTC) in a conversation: the media a call carries, who acts in it,
//! why it ended, the signalling the engine relays between the two browsers (session
//! descriptions and ICE candidates, checked for shape and size, never interpreted),
//! and the ICE servers each side is given. The engine is the signalling server only;
//! the media goes peer to peer (or through TURN). Also what a phone call's recording
//! is ([`RecordingStatus`], [`recording_id_valid`]).

use serde::{Deserialize, Serialize};

/// What a browser call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallMedia {
    Audio,
    Video,
}

impl CallMedia {
    pub fn as_str(self) -> &'static str {
        match self {
            CallMedia::Audio => "audio",
            CallMedia::Video => "video",
        }
    }
}

/// Who started, answered or ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallParty {
    Customer,
    Agent,
    /// The engine: a ring time-out, the conversation closing.
    System,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEndReason {
    /// Hung up (or, by the caller, given up before an answer).
    Hangup,
    /// The called side refused it before answering.
    Declined,
    /// The agent was already on another call.
    Busy,
    /// Nobody answered within `calls.ring_timeout_ms`.
    NoAnswer,
    /// The socket of a side in the call closed (a page reload, a lost connection).
    Disconnected,
    /// The conversation left the agent (resolved, transferred, the customer left).
    Closed,
}

impl CallEndReason {
    /// The reason as the wire and the metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            CallEndReason::Hangup => "hangup",
            CallEndReason::Declined => "declined",
            CallEndReason::Busy => "busy",
            CallEndReason::NoAnswer => "no_answer",
            CallEndReason::Disconnected => "disconnected",
            CallEndReason::Closed => "closed",
        }
    }
}

/// One WebRTC signalling message, relayed to the other side as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallSignal {
    /// The caller's session description.
    Offer { sdp: String },
    /// The called side's session description.
    Answer { sdp: String },
    /// An ICE candidate (`RTCIceCandidate.candidate`), never the end-of-candidates null.
    Candidate {
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
}

/// Longest `sdp_mid` accepted, in bytes.
const MAX_MID_BYTES: usize = 64;

impl CallSignal {
    /// Refuses a signal no browser sends: a session description that is not SDP, a
    /// candidate that is not one, anything over `max_bytes` (the SDP or candidate).
    pub fn check(&self, max_bytes: usize) -> Result<(), String> {
        let fits = |what: &str, s: &str| {
            if s.len() > max_bytes {
                Err(format!("the {what} is over {max_bytes} bytes"))
            } else {
                Ok(())
            }
        };
        match self {
            CallSignal::Offer { sdp } | CallSignal::Answer { sdp } => {
                fits("session description", sdp)?;
                if !sdp.starts_with("v=0") {
                    return Err("a session description is SDP starting with \"v=0\"".into());
                }
            }
            CallSignal::Candidate {
                candidate, sdp_mid, ..
            } => {
                fits("candidate", candidate)?;
                if !candidate.starts_with("candidate:") {
                    return Err("an ICE candidate starts with \"candidate:\"".into());
                }
                if candidate.contains(['\r', '\n']) {
                    return Err("an ICE candidate is one line".into());
                }
                if sdp_mid.as_ref().is_some_and(|m| m.len() > MAX_MID_BYTES) {
                    return Err(format!("sdp_mid is over {MAX_MID_BYTES} bytes"));
                }
            }
        }
        Ok(())
    }
}

/// An ICE server as `RTCPeerConnection` takes it (`RTCIceServer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A call ringing: what the caller's socket is answered (`call_ringing`) and what the
/// called side's sockets are told (`call_incoming`), with that side's ICE servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRing {
    pub conversation_id: crate::ConversationId,
    pub call_id: String,
    pub media: CallMedia,
    pub ice_servers: Vec<IceServer>,
}

/// A call named (`call_answered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRef {
    pub conversation_id: crate::ConversationId,
    pub call_id: String,
}

/// A signal from the other side of a call (`call_signal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRelay {
    pub conversation_id: crate::ConversationId,
    pub call_id: String,
    pub signal: CallSignal,
}

/// A call's end (`call_ended`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEnd {
    pub conversation_id: crate::ConversationId,
    pub call_id: String,
    pub reason: CallEndReason,
    pub by: CallParty,
    /// Talk time: from the answer to the end (0 when never answered).
    pub duration_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_ids_are_checked() {
        assert!(recording_id_valid("RE0123456789abcdef0123456789ABCDEF"));
        assert!(!recording_id_valid("RE0123456789abcdef0123456789abcde"));
        assert!(!recording_id_valid("CA0123456789abcdef0123456789abcdef"));
        assert!(!recording_id_valid("RE0123456789abcdef0123456789abcd/."));
        assert_eq!(
            RecordingStatus::parse("absent"),
            Some(RecordingStatus::Absent)
        );
        assert_eq!(RecordingStatus::parse("in-progress"), None);
    }

    #[test]
    fn signals_are_checked_for_shape_and_size() {
        let offer = CallSignal::Offer {
            sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into(),
        };
        assert!(offer.check(1024).is_ok());
        assert!(offer.check(8).unwrap_err().contains("over 8 bytes"));
        let not_sdp = CallSignal::Answer {
            sdp: "hello".into(),
        };
        assert!(not_sdp.check(1024).is_err());
        let cand = |c: &str| CallSignal::Candidate {
            candidate: c.into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        };
        assert!(
            cand("candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host")
                .check(1024)
                .is_ok()
        );
        assert!(cand("").check(1024).is_err());
        assert!(cand("candidate:1\r\na=evil").check(1024).is_err());
        let wire =
            r#"{"kind":"candidate","candidate":"candidate:1","sdp_mid":"0","sdp_mline_index":0}"#;
        let parsed: CallSignal = serde_json::from_str(wire).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), wire);
        assert!(
            serde_json::from_str::<CallSignal>(r#"{"kind":"offer","sdp":"v=0","x":1}"#).is_err()
        );
        assert!(serde_json::from_str::<CallSignal>(r#"{"kind":"bye"}"#).is_err());
        let reason = serde_json::to_value(CallEndReason::NoAnswer).unwrap();
        assert_eq!(reason, CallEndReason::NoAnswer.as_str());
    }
}

/// Where a phone call's recording stands, as the telephony platform reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// The recording is stored at the platform and can be played.
    Completed,
    /// Nothing was recorded (the call had no audio to record).
    Absent,
    /// The platform could not store the recording.
    Failed,
}

impl RecordingStatus {
    /// The platform's word (`completed`, `absent`, `failed`), else `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "completed" => Some(Self::Completed),
            "absent" => Some(Self::Absent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Absent => "absent",
            Self::Failed => "failed",
        }
    }
}

/// Whether `id` is a recording id as the platform writes it (`RE` and 32 hex digits):
/// the only form the engine puts into a provider URL.
pub fn recording_id_valid(id: &str) -> bool {
    id.len() == 34 && id.starts_with("RE") && id.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}
