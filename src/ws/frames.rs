//! Frame handling shared by every session: size limit, JSON decode into a tagged enum
//! with typed errors, per-connection rate limit, heartbeat constants, and the closes
//! every session makes (application code, idle timeout).

use super::protocol::{ErrorCode, WireError};
use actix::{Actor, ActorContext};
use actix_web_actors::ws;
use serde::de::DeserializeOwned;
use std::time::Instant;

/// Closes the socket with an application close code (4xxx) and reason, and stops its
/// session actor.
pub fn close_with<A>(ctx: &mut ws::WebsocketContext<A>, code: u16, reason: &'static str)
where
    A: Actor<Context = ws::WebsocketContext<A>>,
{
    ctx.close(Some(ws::CloseReason {
        code: ws::CloseCode::Other(code),
        description: Some(reason.into()),
    }));
    ctx.stop();
}

/// Closes a socket silent for longer than `timing.client_timeout_ms` (1001, "idle
/// timeout"), counted in `switchboard_ws_refused_total{reason="idle"}`.
pub fn close_idle<A>(ctx: &mut ws::WebsocketContext<A>)
where
    A: Actor<Context = ws::WebsocketContext<A>>,
{
    crate::metrics::ws_refused("idle");
    ctx.close(Some(ws::CloseReason {
        code: ws::CloseCode::Away,
        description: Some("idle timeout".into()),
    }));
    ctx.stop();
}

/// Decodes one text frame into `T`, or a typed error (`too_large`, `bad_json`,
/// `unknown_type`).
pub fn decode<T: DeserializeOwned>(text: &str, max_bytes: usize) -> Result<T, WireError> {
    if text.len() > max_bytes {
        return Err(WireError {
            code: ErrorCode::TooLarge,
            message: format!("message is {} bytes; the limit is {max_bytes}", text.len()),
            reference: None,
            event_id: None,
        });
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| WireError {
        code: ErrorCode::BadJson,
        message: format!("not JSON: {e}"),
        reference: None,
        event_id: None,
    })?;
    if !value.get("type").is_some_and(|t| t.is_string()) {
        return Err(WireError {
            code: ErrorCode::BadJson,
            message: "a message is a JSON object with a string \"type\"".into(),
            reference: None,
            event_id: None,
        });
    }
    // Only the frame's own `type` unknown is `unknown_type`; an unknown value inside a
    // known frame (a media, a signal kind) is a malformed frame.
    let unknown = format!(
        "unknown variant `{}`",
        value["type"].as_str().unwrap_or_default()
    );
    serde_json::from_value(value).map_err(|e| {
        let m = e.to_string();
        let code = if m.starts_with(&unknown) {
            ErrorCode::UnknownType
        } else {
            ErrorCode::BadJson
        };
        WireError {
            code,
            message: m,
            reference: None,
            event_id: None,
        }
    })
}

/// Token bucket: `rate` messages per second, bursts up to `rate`.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
    /// Consecutive refusals; a persistent flood closes the socket.
    pub refused_in_row: u32,
    /// Refusals in a row after which the socket is closed (`security.ws_rate_limit_close_after`).
    pub close_after: u32,
}

impl RateLimit {
    pub fn new(per_second: u32) -> Self {
        let rate = per_second.max(1) as f64;
        Self {
            rate,
            tokens: rate,
            last: Instant::now(),
            refused_in_row: 0,
            close_after: MAX_REFUSED_IN_ROW,
        }
    }

    /// The same limit, closing the socket after `n` refusals in a row.
    pub fn close_after(mut self, n: u32) -> Self {
        self.close_after = n.max(1);
        self
    }

    /// Per-connection limit from the settings (rate and persistent-excess close).
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self::new(s.limits.ws_messages_per_second).close_after(s.security.ws_rate_limit_close_after)
    }

    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused_in_row = 0;
            true
        } else {
            self.refused_in_row += 1;
            false
        }
    }
}

pub fn rate_limited() -> WireError {
    WireError {
        code: ErrorCode::RateLimited,
        message: "too many messages; slow down".into(),
        reference: None,
        event_id: None,
    }
}

/// Default refusals in a row after which the socket is closed (policy violation).
pub const MAX_REFUSED_IN_ROW: u32 = 100;

/// What a session does with one incoming websocket item.
pub enum Screened {
    /// A text frame within the rate limit: decode it.
    Text(bytestring::ByteString),
    /// Answer a ping.
    Pong(actix_web::web::Bytes),
    Ignore,
    /// Answer with an `error` message; the socket stays open.
    Error(WireError),
    /// Close with this reason and stop the session.
    Close(Option<ws::CloseReason>),
}

/// Screens one item the same way for every socket: control frames are answered,
/// non-text frames get `bad_json`, oversize or malformed frames close with 1009, and a
/// text frame must pass the rate limit (a persistent flood closes with 1008).
pub fn screen(item: Result<ws::Message, ws::ProtocolError>, rate: &mut RateLimit) -> Screened {
    let text = match item {
        Ok(ws::Message::Text(t)) => t,
        Ok(ws::Message::Ping(p)) => return Screened::Pong(p),
        Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => return Screened::Ignore,
        Ok(ws::Message::Close(r)) => return Screened::Close(r),
        Ok(ws::Message::Binary(_)) | Ok(ws::Message::Continuation(_)) => {
            return Screened::Error(WireError {
                code: ErrorCode::BadJson,
                message: "send JSON text frames".into(),
                reference: None,
                event_id: None,
            })
        }
        Err(e) => {
            tracing::debug!(error = %e, "websocket protocol error");
            return Screened::Close(Some(ws::CloseReason {
                code: ws::CloseCode::Size,
                description: Some("frame too large or malformed".into()),
            }));
        }
    };
    if rate.allow() {
        Screened::Text(text)
    } else if rate.refused_in_row >= rate.close_after {
        crate::metrics::ws_refused("rate_limit");
        Screened::Close(Some(ws::CloseReason {
            code: ws::CloseCode::Policy,
            description: Some("rate limit".into()),
        }))
    } else {
        Screened::Error(rate_limited())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::protocol::AgentClientMsg;

    #[test]
    fn typed_decode_errors() {
        let e = decode::<AgentClientMsg>("{not json", 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        let e = decode::<AgentClientMsg>(r#"{"type":"fly"}"#, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        let e = decode::<AgentClientMsg>(r#"{"type":"accept"}"#, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        // An unknown field of a known type (docs/protocol.md): bad_json, not unknown_type.
        let e = decode::<AgentClientMsg>(r#"{"type":"ping","colour":1}"#, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        // An unknown value inside a known type: bad_json too.
        let e = decode::<AgentClientMsg>(
            r#"{"type":"call_start","conversation_id":"0193a1e0-0000-7000-8000-000000000001","media":"hologram"}"#,
            1000,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson, "{}", e.message);
        let e = decode::<AgentClientMsg>(&"x".repeat(2000), 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        let e = decode::<AgentClientMsg>("[1]", 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        assert!(decode::<AgentClientMsg>(r#"{"type":"ping"}"#, 1000).is_ok());
    }

    #[test]
    fn rate_limit_refuses_bursts() {
        let mut r = RateLimit::new(3);
        assert!(r.allow() && r.allow() && r.allow());
        assert!(!r.allow());
        assert_eq!(r.refused_in_row, 1);
    }
}
