//! Entry points for fuzzing every parser of untrusted input: websocket frames (agent
//! and web-chat protocol), the webhook bodies (Twilio SMS and voice forms, LINE and
//! Messenger JSON), the email MIME parser and the SMTP server's path and DATA reading.
//!
//! Each takes raw bytes, must never panic, and returns whether the input was accepted;
//! each calls the same code the live handler calls (after its signature check). The
//! cargo-fuzz targets in `fuzz/` call these, and the property tests below run the same
//! entry points on every `cargo test` with bounded case counts (see docs/testing.md).
//! Not part of the engine's API; nothing here holds state or does I/O.

use crate::channels::twilio_voice::xml_escape;
use crate::ws::frames::decode;
use crate::ws::protocol::{AgentClientMsg, ChatClientMsg, ErrorCode};

/// The frame limit used here (the engine's default `limits.max_ws_message_bytes`).
const MAX_FRAME: usize = 64 * 1024;

/// Decodes `data` as a websocket text frame of protocol `T`: either a message, which
/// re-encodes and decodes to the same JSON, or one of the typed decode errors.
fn ws_frame<T>(data: &[u8]) -> bool
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match decode::<T>(text, MAX_FRAME) {
        Ok(msg) => {
            let json = serde_json::to_value(&msg).expect("a decoded message serialises");
            let again =
                decode::<T>(&json.to_string(), usize::MAX).expect("a re-encoded message decodes");
            assert_eq!(
                serde_json::to_value(&again).expect("serialises"),
                json,
                "decode is stable"
            );
            true
        }
        Err(e) => {
            assert!(
                matches!(
                    e.code,
                    ErrorCode::BadJson | ErrorCode::UnknownType | ErrorCode::TooLarge
                ),
                "decode errors are typed: {e:?}"
            );
            false
        }
    }
}

/// An agent websocket frame.
pub fn ws_agent_frame(data: &[u8]) -> bool {
    ws_frame::<AgentClientMsg>(data)
}

/// A web-chat websocket frame.
pub fn ws_chat_frame(data: &[u8]) -> bool {
    ws_frame::<ChatClientMsg>(data)
}

/// A Twilio SMS webhook form body.
pub fn twilio_sms_form(data: &[u8]) -> bool {
    crate::channels::twilio_sms::fuzz_body(data)
}

/// A Twilio voice webhook form body: the fields a call needs, and the caller id as it
/// is put into TwiML (XML-escaped: no markup can pass through).
pub fn twilio_voice_form(data: &[u8]) -> bool {
    let Ok(params) = crate::channels::webhook_form(data) else {
        return false;
    };
    for (_, v) in &params {
        let escaped = xml_escape(v);
        assert!(
            !escaped.contains('<') && !escaped.contains('>') && !escaped.contains('"'),
            "escaped: {escaped}"
        );
    }
    params.iter().any(|(k, _)| k == "CallSid")
}

/// A LINE webhook body.
pub fn line_body(data: &[u8]) -> bool {
    crate::channels::line::fuzz_body(data)
}

/// A Messenger webhook body (its messaging events, whose verdict counts, and its Page
/// feed changes).
pub fn messenger_body(data: &[u8]) -> bool {
    let _ = crate::channels::facebook_comments::fuzz_body(data);
    crate::channels::messenger::fuzz_body(data)
}

/// A WhatsApp Cloud API webhook body.
pub fn whatsapp_body(data: &[u8]) -> bool {
    crate::channels::whatsapp::fuzz_body(data)
}

/// An X Account Activity webhook body.
pub fn x_body(data: &[u8]) -> bool {
    let _ = crate::channels::x_mentions::fuzz_body(data);
    crate::channels::x::fuzz_body(data)
}

/// A raw email (the DATA of one message) through the MIME parser.
pub fn email(data: &[u8]) -> bool {
    crate::channels::email::parse_message(data, 4096).is_ok()
}

/// SMTP input: a `MAIL FROM:` path, and a DATA stream with a small limit.
pub fn smtp(data: &[u8]) -> bool {
    crate::channels::email::smtp::fuzz_input(data, 512)
}

/// Cases per property test: `default` (what CI runs), or `PROPTEST_CASES` for a longer
/// session (docs/testing.md). The explicit count in a test's config would otherwise
/// override proptest's own reading of that variable.
#[cfg(test)]
pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    //! The same entry points as the fuzz targets, as bounded property tests (CI).
    use super::*;
    use proptest::prelude::*;

    /// JSON-shaped text: mostly valid protocol messages with mutated fields, so the
    /// decoder's deeper paths are reached, not only "not JSON".
    fn frame_like() -> impl Strategy<Value = String> {
        let types = prop_oneof![
            Just("set_status"),
            Just("accept"),
            Just("reject"),
            Just("message"),
            Just("note"),
            Just("transfer"),
            Just("wrap_up"),
            Just("resolve"),
            Just("typing"),
            Just("history"),
            Just("ping"),
            Just("identify"),
            Just("leave"),
            Just("escalate_video"),
            Just("fly"),
        ];
        let values = prop_oneof![
            Just("null".to_owned()),
            Just("\"available\"".to_owned()),
            Just("\"00000000-0000-0000-0000-000000000001\"".to_owned()),
            Just("12".to_owned()),
            Just("[]".to_owned()),
            Just("{}".to_owned()),
            "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        let keys = prop_oneof![
            Just("status"),
            Just("offer_id"),
            Just("conversation_id"),
            Just("client_msg_id"),
            Just("text"),
            Just("channel"),
            Just("queue"),
            Just("agent"),
            Just("customer_id"),
            Just("limit"),
            Just("nonce"),
            Just("name"),
            Just("email"),
            Just("phone"),
            Just("x"),
        ];
        (types, proptest::collection::vec((keys, values), 0..5)).prop_map(|(t, kv)| {
            let mut s = format!("{{\"type\":\"{t}\"");
            for (k, v) in kv {
                s.push_str(&format!(",\"{k}\":{v}"));
            }
            s.push('}');
            s
        })
    }

    fn form_like() -> impl Strategy<Value = Vec<u8>> {
        let keys = prop_oneof![
            Just("MessageSid"),
            Just("SmsSid"),
            Just("From"),
            Just("To"),
            Just("Body"),
            Just("NumMedia"),
            Just("MediaUrl0"),
            Just("MediaContentType0"),
            Just("CallSid"),
            Just("Digits"),
            Just("X"),
        ];
        let values = prop_oneof![
            Just("STOP".to_owned()),
            Just("+819012345678".to_owned()),
            Just("3".to_owned()),
            Just("99999999999999999999".to_owned()),
            Just("image/png".to_owned()),
            "\\PC{0,16}",
        ];
        proptest::collection::vec((keys, values), 0..8).prop_map(|kv| {
            serde_urlencoded::to_string(kv)
                .unwrap_or_default()
                .into_bytes()
        })
    }

    fn line_like() -> impl Strategy<Value = Vec<u8>> {
        let kinds = prop_oneof![
            Just("text"),
            Just("sticker"),
            Just("file"),
            Just("location"),
            Just("image"),
            Just("x")
        ];
        let ev = (prop_oneof![Just("message"), Just("follow"), Just("unfollow"), Just("beacon")], kinds, "\\PC{0,8}", proptest::option::of(0u64..u64::MAX))
            .prop_map(|(t, k, text, size)| serde_json::json!({
                "type": t,
                "source": {"type": "user", "userId": "U1"},
                "replyToken": "r",
                "message": {"id": "1", "type": k, "text": text, "keywords": [text], "fileSize": size},
            }));
        proptest::collection::vec(ev, 0..4).prop_map(|events| {
            serde_json::json!({"events": events})
                .to_string()
                .into_bytes()
        })
    }

    fn messenger_like() -> impl Strategy<Value = Vec<u8>> {
        let ev = ("\\PC{0,8}", proptest::bool::ANY, proptest::bool::ANY).prop_map(|(text, echo, postback)| {
            if postback {
                serde_json::json!({"sender": {"id": "P1"}, "postback": {"title": text, "mid": "m"}})
            } else {
                serde_json::json!({"sender": {"id": "P1"}, "message": {"mid": "m", "text": text, "is_echo": echo,
                    "attachments": [{"type": "image", "payload": {"url": text}}]}})
            }
        });
        (
            prop_oneof![Just("page"), Just("instagram"), Just("user")],
            proptest::collection::vec(ev, 0..4),
        )
            .prop_map(|(o, events)| {
                serde_json::json!({"object": o, "entry": [{"messaging": events}]})
                    .to_string()
                    .into_bytes()
            })
    }

    fn whatsapp_like() -> impl Strategy<Value = Vec<u8>> {
        let kinds = prop_oneof![
            Just("text"),
            Just("image"),
            Just("document"),
            Just("location"),
            Just("contacts"),
            Just("interactive"),
            Just("button"),
            Just("reaction"),
        ];
        let msg = (kinds, "\\PC{0,8}").prop_map(|(kind, text)| {
            serde_json::json!({"from": text, "id": "w1", "timestamp": text, "type": kind,
                "text": {"body": text}, "image": {"id": text}, "document": {"id": "d", "filename": text},
                "location": {"latitude": 1.5, "longitude": -2.0, "name": text},
                "contacts": [{"name": {"formatted_name": text}, "phones": [{"phone": text}]}],
                "interactive": {"type": "list_reply", "list_reply": {"id": text}},
                "button": {"payload": text}})
        });
        let status = "\\PC{0,40}".prop_map(|data| {
            serde_json::json!({"id": "w2", "status": "failed", "biz_opaque_callback_data": data,
                "errors": [{"code": 131047}]})
        });
        (
            prop_oneof![Just("whatsapp_business_account"), Just("page")],
            proptest::collection::vec(msg, 0..4),
            proptest::collection::vec(status, 0..2),
        )
            .prop_map(|(o, messages, statuses)| {
                serde_json::json!({"object": o, "entry": [{"changes": [{"field": "messages",
                    "value": {"messages": messages, "statuses": statuses}}]}]})
                .to_string()
                .into_bytes()
            })
    }

    fn x_like() -> impl Strategy<Value = Vec<u8>> {
        let ev = (
            prop_oneof![Just("message_create"), Just("other")],
            prop_oneof![Just("1"), Just("2")],
            "\\PC{0,8}",
            prop_oneof![Just("photo"), Just("video"), Just("animated_gif"), Just("")],
        )
            .prop_map(|(kind, sender, text, media)| {
                serde_json::json!({"type": kind, "id": text, "created_timestamp": text,
                    "message_create": {"sender_id": sender, "message_data": {"text": text,
                        "attachment": {"type": "media", "media": {"type": media, "media_url_https": text}}}}})
            });
        proptest::collection::vec(ev, 0..4).prop_map(|events| {
            serde_json::json!({"for_user_id": "1", "direct_message_events": events,
                "users": {"2": {"name": "n"}}})
            .to_string()
            .into_bytes()
        })
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..512)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

        #[test]
        fn ws_frames_never_panic(raw in bytes(), like in frame_like()) {
            ws_agent_frame(&raw);
            ws_chat_frame(&raw);
            ws_agent_frame(like.as_bytes());
            ws_chat_frame(like.as_bytes());
        }

        #[test]
        fn webhook_forms_never_panic(raw in bytes(), like in form_like()) {
            twilio_sms_form(&raw);
            twilio_voice_form(&raw);
            twilio_sms_form(&like);
            twilio_voice_form(&like);
        }

        #[test]
        fn webhook_json_never_panics(raw in bytes(), line in line_like(), fb in messenger_like(), wa in whatsapp_like(), x in x_like()) {
            line_body(&raw);
            messenger_body(&raw);
            whatsapp_body(&raw);
            x_body(&raw);
            prop_assert!(line_body(&line), "a well-formed LINE payload is accepted");
            messenger_body(&fb);
            whatsapp_body(&wa);
            prop_assert!(x_body(&x), "a well-formed X payload is accepted");
        }

        #[test]
        fn smtp_input_never_panics_and_keeps_its_limit(raw in bytes(), lines in proptest::collection::vec("[.]?\\PC{0,80}", 0..20)) {
            smtp(&raw);
            let mut data = lines.join("\r\n").into_bytes();
            data.extend_from_slice(b"\r\n.\r\n");
            smtp(&data);
            email(&raw);
        }
    }

    #[test]
    fn entry_points_accept_real_inputs() {
        assert!(ws_agent_frame(
            br#"{"type":"set_status","status":"available"}"#
        ));
        assert!(ws_chat_frame(
            br#"{"type":"message","client_msg_id":"1","text":"hi"}"#
        ));
        assert!(!ws_chat_frame(br#"{"type":"fly"}"#));
        assert!(twilio_sms_form(
            b"MessageSid=SM1&From=%2B819012345678&Body=hi&NumMedia=0"
        ));
        assert!(!twilio_sms_form(b"From=%2B819012345678"));
        assert!(twilio_voice_form(b"CallSid=CA1&From=%2B81"));
        assert!(line_body(br#"{"events":[]}"#));
        assert!(messenger_body(br#"{"object":"page","entry":[]}"#));
        assert!(!messenger_body(br#"{"object":"user","entry":[]}"#));
        assert!(messenger_body(br#"{"object":"instagram","entry":[]}"#));
        assert!(whatsapp_body(
            br#"{"object":"whatsapp_business_account","entry":[]}"#
        ));
        assert!(!whatsapp_body(br#"{"object":"page","entry":[]}"#));
        assert!(x_body(br#"{"for_user_id":"1","direct_message_events":[]}"#));
        assert!(!x_body(br#"{"direct_message_events":[]}"#));
        assert!(email(b"From: a@b.c\r\nSubject: x\r\n\r\nhello\r\n"));
        assert!(smtp(b"FROM:<a@b.c>"));
    }
}
