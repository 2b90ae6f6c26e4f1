//! Signed login tokens: the company's website or app tells the engine who a visitor
//! is, with a JWT (RFC 7519) signed HS256 with `channels.login_secret`.
//!
//! Used by the web chat (`/ws/chat?login=<jwt>`) and by Messenger Account Linking
//! (the `authorization_code`). The `jsonwebtoken` crate decodes and verifies, with a
//! validation that allows HS256 only. Verification is strict: exactly three base64url
//! parts without padding, header `alg` exactly `HS256` (`none`, `HS512`, anything else
//! is refused before the signature is looked at), a `crit` header refused, a
//! constant-time HMAC-SHA256 check, `sub` required, `exp` required and in the future by
//! the engine's clock (checked here, not by the crate, which would read the wall
//! clock). `nbf`, `aud` and `iss` are not part of the contract and not checked.
//!
//! Claims: `sub` (the company's customer reference), optional `email`, `phone_number`
//! (E.164), `name`, and `exp` (seconds since the epoch). A token proves these
//! identities (see `proven_identities`, in the engine): `chat:acct:{sub}` (the account, kept as a
//! chat-channel identity with address `acct:{sub}`, which no visitor address can take
//! since those are `v-…`), `email:{email}`, `sms:{phone}` and `voice:{phone}`.
//!
//! This module only verifies and parses; which customer the identities lead to is
//! `crate::actors::stitching`'s job.

use crate::domain::Millis;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::sync::LazyLock;

/// Longest token accepted, bytes.
const MAX_TOKEN: usize = 4096;

pub use switchboard_engine::login::{account_key, proven_identities, LoginClaims};

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("login tokens are not enabled (channels.login_secret is empty)")]
    Disabled,
    #[error("malformed login token: {0}")]
    Malformed(&'static str),
    #[error("login token algorithm must be HS256")]
    Algorithm,
    #[error("login token signature does not verify")]
    Signature,
    #[error("login token expired")]
    Expired,
    #[error("login token claims: {0}")]
    Claims(String),
}

/// HS256 only, and no claim checked by the crate: `exp` against the engine's clock and a
/// non-empty `sub` are checked in [`verify`]; [`LoginClaims`] requires both.
static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.leeway = 0;
    v.required_spec_claims.clear();
    v
});

/// Verifies `token` with `secret` at `now` and returns its claims.
pub fn verify(secret: &str, token: &str, now: Millis) -> Result<LoginClaims, LoginError> {
    // An empty secret (login tokens off) is no key for the crate either.
    let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|_| LoginError::Disabled)?;
    if token.len() > MAX_TOKEN {
        return Err(LoginError::Malformed("too long"));
    }
    if token.split('.').count() != 3 {
        return Err(LoginError::Malformed("expected header.payload.signature"));
    }
    // The header alone first, so that its errors are told apart from the payload's.
    jsonwebtoken::decode_header(token).map_err(|e| header_error(token, &e))?;
    let claims = jsonwebtoken::decode::<LoginClaims>(token, &key, &VALIDATION)
        .map_err(|e| match e.into_kind() {
            ErrorKind::InvalidAlgorithm => LoginError::Algorithm,
            ErrorKind::InvalidSignature => LoginError::Signature,
            ErrorKind::Base64(_) => LoginError::Malformed("signature or payload is not base64url"),
            ErrorKind::Json(e) => LoginError::Claims(e.to_string()),
            _ => LoginError::Malformed("header is not a JWT header"),
        })?
        .claims;
    if claims.exp.saturating_mul(1000) <= now.0 {
        return Err(LoginError::Expired);
    }
    if claims.sub.trim().is_empty() {
        return Err(LoginError::Claims("sub is empty".into()));
    }
    Ok(claims)
}

/// Why the header did not decode. An `alg` the crate has no name for (`none`) is an
/// algorithm refusal, like `HS512`; anything else is a malformed token.
fn header_error(token: &str, e: &JwtError) -> LoginError {
    #[derive(Deserialize)]
    struct Alg {
        alg: String,
    }
    match e.kind() {
        ErrorKind::Base64(_) => LoginError::Malformed("header is not base64url"),
        ErrorKind::Json(_) => {
            let alg = token
                .split('.')
                .next()
                .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
                .and_then(|h| serde_json::from_slice::<Alg>(&h).ok());
            match alg {
                Some(a) if a.alg != "HS256" => LoginError::Algorithm,
                _ => LoginError::Malformed("header is not JSON with alg"),
            }
        }
        _ => LoginError::Malformed("header is not a JWT header"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    const SECRET: &str = "login-secret";
    /// Made with Python's `hmac`/`base64`/`json`, independently of this module:
    /// header `{"alg":"HS256","typ":"JWT"}`, payload `{"sub":"crm-42","email":
    /// "Hanako@Example.JP","phone_number":"+81 90-1234-5678","name":"Hanako",
    /// "exp":4102444800}`, secret `login-secret`.
    const PY_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjcm0tNDIiLCJlbWFpbCI6IkhhbmFrb0BFeGFtcGxlLkpQIiwicGhvbmVfbnVtYmVyIjoiKzgxIDkwLTEyMzQtNTY3OCIsIm5hbWUiOiJIYW5ha28iLCJleHAiOjQxMDI0NDQ4MDB9.TGll3qRv0i0vuj-g9T8nnp6MrohjqioFF9-Y-gnLutw";
    const NOW: Millis = Millis(1_700_000_000_000);

    fn sign(header: &str, payload: &str, secret: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(header);
        let p = URL_SAFE_NO_PAD.encode(payload);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{h}.{p}").as_bytes());
        let s = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{h}.{p}.{s}")
    }

    #[test]
    fn accepts_a_token_made_elsewhere() {
        let c = verify(SECRET, PY_TOKEN, NOW).unwrap();
        assert_eq!(c.sub, "crm-42");
        assert_eq!(c.exp, 4_102_444_800);
        let keys = proven_identities(&c).unwrap();
        let shown: Vec<String> = keys
            .iter()
            .map(|k| format!("{}:{}", k.channel, k.address))
            .collect();
        assert_eq!(
            shown,
            [
                "chat:acct:crm-42",
                "email:hanako@example.jp",
                "sms:+819012345678",
                "voice:+819012345678"
            ]
        );
        assert_eq!(
            verify("other-secret", PY_TOKEN, NOW),
            Err(LoginError::Signature)
        );
        assert_eq!(verify("", PY_TOKEN, NOW), Err(LoginError::Disabled));
    }

    #[test]
    fn refuses_a_tampered_payload() {
        let parts: Vec<&str> = PY_TOKEN.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"crm-1","exp":4102444800}"#);
        let t = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(verify(SECRET, &t, NOW), Err(LoginError::Signature));
        // One flipped character of the signature.
        let mut bad = PY_TOKEN.to_owned();
        let last = bad.pop().unwrap();
        bad.push(if last == 'w' { 'x' } else { 'w' });
        assert!(verify(SECRET, &bad, NOW).is_err());
    }

    #[test]
    fn refuses_other_algorithms() {
        let payload = r#"{"sub":"crm-42","exp":4102444800}"#;
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        );
        assert_eq!(verify(SECRET, &none, NOW), Err(LoginError::Algorithm));
        let hs512 = sign(r#"{"alg":"HS512"}"#, payload, SECRET);
        assert_eq!(verify(SECRET, &hs512, NOW), Err(LoginError::Algorithm));
        let ok = sign(r#"{"alg":"HS256"}"#, payload, SECRET);
        assert!(verify(SECRET, &ok, NOW).is_ok());
    }

    #[test]
    fn refuses_expired_malformed_and_subjectless() {
        let expired = sign(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"a","exp":1699999999}"#,
            SECRET,
        );
        assert_eq!(verify(SECRET, &expired, NOW), Err(LoginError::Expired));
        let no_exp = sign(r#"{"alg":"HS256"}"#, r#"{"sub":"a"}"#, SECRET);
        assert!(matches!(
            verify(SECRET, &no_exp, NOW),
            Err(LoginError::Claims(_))
        ));
        let no_sub = sign(r#"{"alg":"HS256"}"#, r#"{"exp":4102444800}"#, SECRET);
        assert!(matches!(
            verify(SECRET, &no_sub, NOW),
            Err(LoginError::Claims(_))
        ));
        let empty_sub = sign(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":" ","exp":4102444800}"#,
            SECRET,
        );
        assert!(verify(SECRET, &empty_sub, NOW).is_err());
        for t in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert!(verify(SECRET, t, NOW).is_err(), "{t}");
        }
        // Padding is not base64url-without-padding.
        let padded = format!("{PY_TOKEN}=");
        assert!(verify(SECRET, &padded, NOW).is_err());
    }

    #[test]
    fn expiry_is_the_engine_clock_and_other_claims_are_not_checked() {
        // In the past by the wall clock, in the future by the engine's: valid.
        let t = sign(
            r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
            r#"{"sub":"a","exp":1700000001,"nbf":4102444800,"aud":"elsewhere","iss":"x"}"#,
            SECRET,
        );
        assert_eq!(verify(SECRET, &t, NOW).map(|c| c.exp), Ok(1_700_000_001));
        // Expired from the second `exp` names, with no leeway.
        assert_eq!(
            verify(SECRET, &t, Millis(1_700_000_001_000)),
            Err(LoginError::Expired)
        );
        assert!(verify(SECRET, &t, Millis(1_700_000_000_999)).is_ok());
    }

    #[test]
    fn refuses_unknown_headers_and_algorithms_by_kind() {
        let payload = r#"{"sub":"crm-42","exp":4102444800}"#;
        for alg in ["HS384", "RS256", "ES256", "EdDSA", "hs256", "foo"] {
            let t = sign(&format!(r#"{{"alg":"{alg}"}}"#), payload, SECRET);
            assert_eq!(verify(SECRET, &t, NOW), Err(LoginError::Algorithm), "{alg}");
        }
        // A critical header extension we do not implement (RFC 7515 4.1.11).
        let crit = sign(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, payload, SECRET);
        assert!(matches!(
            verify(SECRET, &crit, NOW),
            Err(LoginError::Malformed(_))
        ));
        for header in [r#"{"typ":"JWT"}"#, "[1]", "not json"] {
            let t = sign(header, payload, SECRET);
            assert!(
                matches!(verify(SECRET, &t, NOW), Err(LoginError::Malformed(_))),
                "{header}"
            );
        }
        let bad_payload = sign(r#"{"alg":"HS256"}"#, "[]", SECRET);
        assert!(matches!(
            verify(SECRET, &bad_payload, NOW),
            Err(LoginError::Claims(_))
        ));
    }
}
