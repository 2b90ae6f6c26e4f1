//! The claims of a verified customer login token and the identities they prove.
//!
//! Tokens are verified by the server (`channels::login`); the engine only sees the
//! claims, and stitching (`crate::actors::stitching`) decides which customer the
//! identities lead to. The account is kept as a chat-channel identity with address
//! `acct:{sub}`, which no visitor address can take since those are `v-…`.

use crate::domain::{Channel, IdentityKey, ParseError};
use serde::Deserialize;

/// The claims of a verified login token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LoginClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
}

/// The identities a token proves, the account key (`chat:acct:{sub}`) first.
pub fn proven_identities(c: &LoginClaims) -> Result<Vec<IdentityKey>, ParseError> {
    let mut keys = vec![account_key(&c.sub)?];
    if let Some(e) = c.email.as_deref().filter(|s| !s.trim().is_empty()) {
        keys.push(IdentityKey::parse(Channel::Email, e)?);
    }
    if let Some(p) = c.phone_number.as_deref().filter(|s| !s.trim().is_empty()) {
        keys.push(IdentityKey::parse(Channel::Sms, p)?);
        keys.push(IdentityKey::parse(Channel::Voice, p)?);
    }
    Ok(keys)
}

/// The identity of the company's account `sub`: channel chat, address `acct:{sub}`.
pub fn account_key(sub: &str) -> Result<IdentityKey, ParseError> {
    IdentityKey::parse(Channel::Chat, &format!("acct:{}", sub.trim()))
}
