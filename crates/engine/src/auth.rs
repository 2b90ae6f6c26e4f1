//! Authentication primitives: argon2 password hashes and HMAC-SHA256 signed tokens for
//! agents (login) and web-chat visitors.
//!
//! A token is `base64url(json claims) . base64url(hmac)`. The signing key lives in the
//! store (`settings/token_key`), generated on first start, so tokens survive restarts.
//! This module never logs tokens or passwords.

use crate::domain::{Millis, Role};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Claims {
    /// A logged-in staff member.
    Staff {
        sub: String,
        role: Role,
        exp: Millis,
        /// The agent's token generation at issue time; the token is revoked once the
        /// generation moves on (the server's `security::revocation`).
        #[serde(default)]
        gen: u64,
    },
    /// A web-chat visitor bound to one customer and chat address.
    Visitor {
        customer: String,
        address: String,
        exp: Millis,
    },
}

impl Claims {
    pub fn exp(&self) -> Millis {
        match self {
            Claims::Staff { exp, .. } | Claims::Visitor { exp, .. } => *exp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

/// Signs and verifies tokens with one secret key.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn random_key() -> [u8; 32] {
        rand::random()
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("hmac takes any key size");
        mac.update(payload);
        mac
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialise");
        let sig = self.mac(&payload).finalize().into_bytes();
        format!("{}.{}", B64.encode(&payload), B64.encode(sig))
    }

    /// Seals `payload` for one `purpose` (a short label such as `oidc-state`): the same
    /// `base64url(payload) . base64url(hmac)` shape as a token, but the MAC covers the
    /// purpose too, so a sealed value is never accepted as a token or for another
    /// purpose. Integrity only: the payload is readable by whoever holds the value.
    pub fn seal(&self, purpose: &str, payload: &[u8]) -> String {
        let sig = self.purpose_mac(purpose, payload).finalize().into_bytes();
        format!("{}.{}", B64.encode(payload), B64.encode(sig))
    }

    /// The payload of a value [`TokenSigner::seal`] made for `purpose` with this key;
    /// `None` when it is malformed, longer than `max_len`, or made otherwise.
    pub fn open(&self, purpose: &str, sealed: &str, max_len: usize) -> Option<Vec<u8>> {
        if sealed.len() > max_len {
            return None;
        }
        let (p, s) = sealed.split_once('.')?;
        let payload = B64.decode(p).ok()?;
        let sig = B64.decode(s).ok()?;
        self.purpose_mac(purpose, &payload)
            .verify_slice(&sig)
            .ok()?;
        Some(payload)
    }

    fn purpose_mac(&self, purpose: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("hmac takes any key size");
        mac.update(b"sealed\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }

    pub fn verify(&self, token: &str, now: Millis) -> Result<Claims, TokenError> {
        if token.len() > 2048 {
            return Err(TokenError::Malformed);
        }
        let (p, s) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = B64.decode(p).map_err(|_| TokenError::Malformed)?;
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        self.mac(&payload)
            .verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp() <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Password hashing and checking off the async threads, with bounded concurrency:
/// argon2id takes ~19 MiB per computation, so a burst of logins queues for a permit
/// instead of allocating without bound.
///
/// A login for an account that does not exist is checked against a dummy hash (made
/// once, with the same argon2 parameters, through the same pool: [`Passwords::verify_unknown`]),
/// so the time a login takes does not tell which account ids exist.
#[derive(Clone)]
pub struct Passwords {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// The PHC hash of a random password no one knows, made on first need (or by
    /// [`Passwords::prepare`] at start).
    dummy: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Password checks run so far, real and dummy: observable state for tests and
    /// admin views (it shows that every refused login did the same work).
    verifications: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The hashing thread failed (panicked or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashFailed;

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        Passwords {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            dummy: Default::default(),
            verifications: Default::default(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashFailed> {
        let _permit = self.permits.acquire().await.map_err(|_| HashFailed)?;
        tokio::task::spawn_blocking(f).await.map_err(|_| HashFailed)
    }

    pub async fn hash(&self, password: String) -> Result<String, HashFailed> {
        self.run(move || hash_password(&password)).await
    }

    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashFailed> {
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.run(move || verify_password(&password, &phc)).await
    }

    /// Makes the dummy hash now (start-up), so the first unknown-account login does not
    /// take longer than the others.
    pub async fn prepare(&self) -> Result<(), HashFailed> {
        self.dummy().await.map(drop)
    }

    async fn dummy(&self) -> Result<&String, HashFailed> {
        self.dummy
            .get_or_try_init(|| {
                let secret: [u8; 32] = rand::random();
                self.hash(B64.encode(secret))
            })
            .await
    }

    /// The same work as [`Passwords::verify`] for a login whose account does not exist;
    /// always `false`.
    pub async fn verify_unknown(&self, password: String) -> Result<bool, HashFailed> {
        let phc = self.dummy().await?.clone();
        self.verify(password, phc).await.map(|_| false)
    }

    /// Password checks run so far (real and dummy).
    pub fn verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// argon2id hash in PHC format. Slow by design: call from a blocking thread.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default params cannot fail")
        .to_string()
}

/// Constant-time check of `password` against a PHC hash. Call from a blocking thread.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_reject_tampering_and_expiry() {
        let s = TokenSigner::new([7; 32]);
        let c = Claims::Staff {
            sub: "alice".into(),
            role: Role::Agent,
            exp: Millis(1000),
            gen: 0,
        };
        let t = s.sign(&c);
        assert_eq!(s.verify(&t, Millis(10)), Ok(c));
        assert_eq!(s.verify(&t, Millis(1000)), Err(TokenError::Expired));
        let other = TokenSigner::new([8; 32]);
        assert_eq!(other.verify(&t, Millis(10)), Err(TokenError::BadSignature));
        let mut bad = t.clone();
        bad.insert(3, 'x');
        assert!(s.verify(&bad, Millis(10)).is_err());
        assert_eq!(s.verify("nodot", Millis(0)), Err(TokenError::Malformed));
    }

    #[test]
    fn sealed_values_open_only_for_their_purpose_and_key() {
        let s = TokenSigner::new([7; 32]);
        let v = s.seal("oidc-state", b"{\"a\":1}");
        assert_eq!(
            s.open("oidc-state", &v, 1024).as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(s.open("other", &v, 1024), None, "another purpose");
        assert_eq!(s.open("oidc-state", &v, 4), None, "over the length bound");
        assert_eq!(TokenSigner::new([8; 32]).open("oidc-state", &v, 1024), None);
        let mut bad = v.clone();
        bad.insert(1, 'x');
        assert_eq!(s.open("oidc-state", &bad, 1024), None);
        // A sealed value is not a token, and a token does not open as a sealed value.
        let c = Claims::Staff {
            sub: "alice".into(),
            role: Role::Admin,
            exp: Millis(1000),
            gen: 0,
        };
        let sealed_claims = s.seal("oidc-state", &serde_json::to_vec(&c).unwrap());
        assert_eq!(
            s.verify(&sealed_claims, Millis(0)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(s.open("oidc-state", &s.sign(&c), 1024), None);
    }

    #[tokio::test]
    async fn unknown_accounts_cost_one_verification_and_never_pass() {
        let p = Passwords::new(1);
        p.prepare().await.unwrap();
        assert_eq!(p.verifications(), 0);
        assert!(!p.verify_unknown(String::new()).await.unwrap());
        assert_eq!(p.verifications(), 1);
        let h = p.hash("x".into()).await.unwrap();
        assert!(p.verify("x".into(), h).await.unwrap());
        assert_eq!(p.verifications(), 2);
    }

    #[test]
    fn passwords() {
        let h = hash_password("secret");
        assert!(verify_password("secret", &h));
        assert!(!verify_password("Secret", &h));
        assert!(!verify_password("secret", "not-a-hash"));
    }
}
