//! Browser calls' settings (`[calls]`): which media the web chat and the agent desktop
//! may call with, how long a call rings, how large a signal may be, and the ICE servers
//! each side is given — fixed STUN/TURN entries, and TURN credentials minted per call
//! by the TURN REST scheme (a shared secret with the TURN server, as coturn's
//! `use-auth-secret`: user name `<expiry>:<user>`, password
//! `base64(HMAC-SHA1(secret, user name))`), so no long-lived TURN password reaches a
//! browser.

use crate::domain::{CallMedia, IceServer};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;

/// `[calls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSettings {
    /// The media browser calls may use: `[]` (off, the default), `["audio"]`,
    /// `["audio", "video"]`.
    pub media: Vec<CallMedia>,
    /// A call nobody answers within this long ends (`no_answer`).
    pub ring_timeout_ms: u64,
    /// Largest session description or ICE candidate relayed, in bytes (the socket's
    /// frame limit applies too).
    pub max_signal_bytes: usize,
    /// Most signals one side may send in one call (offers, answers, candidates); past
    /// it they are refused (`rate_limited`) and the call goes on with what it has.
    pub max_signals_per_call: u32,
    /// ICE servers given to both sides as they are (STUN, or TURN with fixed
    /// credentials).
    pub ice_servers: Vec<IceServer>,
    /// TURN servers whose credentials are minted per call from a shared secret.
    pub turn: Option<TurnRest>,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            media: Vec::new(),
            ring_timeout_ms: 45_000,
            max_signal_bytes: 16 * 1024,
            max_signals_per_call: 500,
            ice_servers: Vec::new(),
            turn: None,
        }
    }
}

/// `[calls.turn]`: the TURN REST scheme.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnRest {
    /// `turn:` / `turns:` URLs of the servers that share `secret`.
    pub urls: Vec<String>,
    /// The secret the TURN server is configured with (`static-auth-secret`).
    pub secret: String,
    /// How long a minted credential is valid, in seconds.
    #[serde(default = "default_ttl_s")]
    pub ttl_s: u64,
}

fn default_ttl_s() -> u64 {
    3600
}

impl CallSettings {
    /// Whether browser calls may use `media`.
    pub fn allows(&self, media: CallMedia) -> bool {
        self.media.contains(&media)
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if !self.media.is_empty() && self.ring_timeout_ms == 0 {
            return Err("calls.ring_timeout_ms must be > 0".into());
        }
        if self.max_signal_bytes < 1024 {
            return Err("calls.max_signal_bytes must be at least 1024 (an SDP offer)".into());
        }
        let scheme_ok = |u: &str, schemes: &[&str]| schemes.iter().any(|s| u.starts_with(s));
        for s in &self.ice_servers {
            if s.urls.is_empty() {
                return Err("calls.ice_servers: every server needs urls".into());
            }
            if let Some(u) = s
                .urls
                .iter()
                .find(|u| !scheme_ok(u, &["stun:", "stuns:", "turn:", "turns:"]))
            {
                return Err(format!(
                    "calls.ice_servers: {u:?} is not a stun:, stuns:, turn: or turns: URL"
                ));
            }
        }
        if let Some(t) = &self.turn {
            if t.urls.is_empty() || t.secret.is_empty() || t.ttl_s == 0 {
                return Err("calls.turn needs urls, a secret and ttl_s > 0".into());
            }
            if let Some(u) = t.urls.iter().find(|u| !scheme_ok(u, &["turn:", "turns:"])) {
                return Err(format!("calls.turn: {u:?} is not a turn: or turns: URL"));
            }
        }
        Ok(())
    }

    /// The ICE servers for `user` (an agent id, or a customer id) at Unix second
    /// `now_s`: the fixed ones, then the TURN servers with a credential valid until
    /// `now_s + ttl_s`.
    pub fn ice_servers_for(&self, user: &str, now_s: u64) -> Vec<IceServer> {
        let mut out = self.ice_servers.clone();
        if let Some(t) = &self.turn {
            let username = format!("{}:{user}", now_s + t.ttl_s);
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(t.secret.as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(username.as_bytes());
            let credential =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            out.push(IceServer {
                urls: t.urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_rest_scheme() {
        let s = CallSettings {
            media: vec![CallMedia::Audio],
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.example.org:3478".into()],
                username: None,
                credential: None,
            }],
            turn: Some(TurnRest {
                urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
                secret: "north".into(),
                ttl_s: 600,
            }),
            ..Default::default()
        };
        assert!(s.validate().is_ok());
        let servers = s.ice_servers_for("alice", 1_700_000_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:stun.example.org:3478"]);
        let turn = &servers[1];
        assert_eq!(turn.username.as_deref(), Some("1700000600:alice"));
        // base64(HMAC-SHA1("north", "1700000600:alice")), computed independently with
        // `printf %s 1700000600:alice | openssl dgst -sha1 -hmac north -binary | base64`.
        assert_eq!(turn.credential.as_deref(), Some(TURN_PASSWORD));
    }

    const TURN_PASSWORD: &str = "gthUwOpcRoLI0MMCziCEBOWYnpo=";

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let bad_url = CallSettings {
            ice_servers: vec![IceServer {
                urls: vec!["http://stun.example.org".into()],
                username: None,
                credential: None,
            }],
            ..Default::default()
        };
        assert!(bad_url.validate().unwrap_err().contains("not a stun:"));
        let no_secret = CallSettings {
            turn: Some(TurnRest {
                urls: vec!["turn:t.example.org".into()],
                secret: String::new(),
                ttl_s: 60,
            }),
            ..Default::default()
        };
        assert!(no_secret.validate().is_err());
        let tiny = CallSettings {
            max_signal_bytes: 10,
            ..Default::default()
        };
        assert!(tiny.validate().is_err());
    }
}
