//! The identity provider as the engine talks to it: its discovery document (fetched
//! from `{issuer}/.well-known/openid-configuration`, its `issuer` checked to be the
//! configured one exactly, cached `metadata_ttl_ms`), its JWKS (cached the same; an ID
//! token signed by a key the cache lacks fetches it again at most once per
//! `jwks_min_refresh_ms`: key rotation without a restart), the authorization URL
//! (code flow, PKCE S256, state, nonce), the token request, and the ID token's checks
//! (OpenID Connect Core 3.1.3.7): signature by a published key with an accepted
//! algorithm, `iss`, `aud` (and `azp` when several audiences), `exp` and `iat` within
//! `clock_skew_ms` on the engine's clock, and `nonce`. Every request has a deadline,
//! follows no redirect, and reads at most `max_response_bytes`; after a failed
//! discovery or JWKS fetch the provider is left alone for `retry_failed_ms`.

use super::{check_url, Identity, OidcSettings, Pending, Refusal};
use crate::domain::{AgentId, Millis};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The discovery document's fields the engine uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

struct Cached<T> {
    value: Arc<T>,
    at: Instant,
}

/// One configured provider, shared by every request of this node.
pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<Cached<Metadata>>>,
    jwks: tokio::sync::Mutex<Option<Cached<JwkSet>>>,
    /// When a discovery or JWKS fetch last failed (`retry_failed_ms`).
    failed_at: std::sync::Mutex<Option<Instant>>,
}

/// The ID token's claims the checks read; the rest are kept for the agent and group
/// claims.
#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: f64,
    iat: f64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn list(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// What the ID token must say, besides its signature.
struct Expected<'a> {
    issuer: &'a str,
    client_id: &'a str,
    nonce: &'a str,
    now: Millis,
    skew_ms: u64,
}

/// The claim checks of OpenID Connect Core 3.1.3.7 after the signature (items 2–3 and
/// 9–11), in that order.
fn check_claims(c: &IdClaims, e: &Expected<'_>) -> Result<(), Refusal> {
    if c.iss != e.issuer {
        return Err(Refusal::Issuer);
    }
    let aud = c.aud.list();
    if !aud.contains(&e.client_id) {
        return Err(Refusal::Audience);
    }
    if (aud.len() > 1 || c.azp.is_some()) && c.azp.as_deref() != Some(e.client_id) {
        return Err(Refusal::Audience);
    }
    let now = e.now.0 as f64;
    let skew = e.skew_ms as f64;
    if c.exp * 1000.0 + skew <= now {
        return Err(Refusal::Expired);
    }
    if c.iat * 1000.0 > now + skew {
        return Err(Refusal::Future);
    }
    if c.nonce.as_deref() != Some(e.nonce) {
        return Err(Refusal::Nonce);
    }
    Ok(())
}

/// Whether a JWKS key can check `alg`'s signatures (by its type, and by its own `alg`
/// and `use` when it states them).
fn fits(key: &jsonwebtoken::jwk::Jwk, alg: Algorithm) -> bool {
    use Algorithm::*;
    let family = matches!(
        (&key.algorithm, alg),
        (
            AlgorithmParameters::RSA(_),
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512
        ) | (AlgorithmParameters::EllipticCurve(_), ES256 | ES384)
            | (AlgorithmParameters::OctetKeyPair(_), EdDSA)
    );
    let stated_alg = key
        .common
        .key_algorithm
        .is_none_or(|k| format!("{k:?}") == format!("{alg:?}"));
    let for_signing = !matches!(key.common.public_key_use, Some(PublicKeyUse::Encryption));
    family && stated_alg && for_signing
}

/// The key of `set` that signed a token with `kid` and `alg`: the one with that id, or
/// without an id the only key that fits.
fn select(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let key = match kid {
        Some(kid) => set
            .keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid) && fits(k, alg))?,
        None => {
            let mut fitting = set.keys.iter().filter(|k| fits(k, alg));
            let only = fitting.next()?;
            if fitting.next().is_some() {
                return None;
            }
            only
        }
    };
    DecodingKey::from_jwk(key).ok()
}

impl Provider {
    pub fn new(settings: OidcSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("switchboard-oidc")
            .build()
            .expect("the OIDC HTTP client builds");
        Provider {
            settings,
            http,
            metadata: Default::default(),
            jwks: Default::default(),
            failed_at: Default::default(),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Reads a JSON body of at most `max_response_bytes`.
    async fn json<T: DeserializeOwned>(&self, mut resp: reqwest::Response) -> Result<T, String> {
        let max = self.settings.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(format!("response over {max} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > max {
                return Err(format!("response over {max} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("not the expected JSON: {e}"))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Refusal> {
        let backoff = Duration::from_millis(self.settings.retry_failed_ms);
        let failed = *self.failed_at.lock().expect("not poisoned");
        if failed.is_some_and(|at| at.elapsed() < backoff) {
            return Err(Refusal::ProviderUnavailable);
        }
        let unavailable = |e: String| {
            tracing::warn!(url, error = %e, "identity provider request failed");
            *self.failed_at.lock().expect("not poisoned") = Some(Instant::now());
            Refusal::ProviderUnavailable
        };
        let resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("status {}", resp.status())));
        }
        self.json(resp).await.map_err(unavailable)
    }

    /// The discovery document, from the cache while it is fresh.
    pub async fn metadata(&self) -> Result<Arc<Metadata>, Refusal> {
        let mut cache = self.metadata.lock().await;
        let ttl = Duration::from_millis(self.settings.metadata_ttl_ms);
        if let Some(c) = cache.as_ref().filter(|c| c.at.elapsed() < ttl) {
            return Ok(c.value.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let m: Metadata = self.get_json(&url).await?;
        let refuse = |why: String| {
            tracing::warn!(issuer = %self.settings.issuer, why, "discovery document refused");
            *self.failed_at.lock().expect("not poisoned") = Some(Instant::now());
            Refusal::ProviderUnavailable
        };
        if m.issuer != self.settings.issuer {
            return Err(refuse(format!("it names issuer {:?}", m.issuer)));
        }
        for u in [&m.authorization_endpoint, &m.token_endpoint, &m.jwks_uri] {
            check_url(u, self.settings.allow_http).map_err(refuse)?;
        }
        if m.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|v| !v.iter().any(|x| x == "S256"))
        {
            return Err(refuse("PKCE S256 is not supported".into()));
        }
        let m = Arc::new(m);
        *cache = Some(Cached {
            value: m.clone(),
            at: Instant::now(),
        });
        Ok(m)
    }

    /// The JWKS: from the cache while it is fresh, or — `rotated`, a token named a key
    /// the cache lacks — fetched again unless it was fetched within
    /// `jwks_min_refresh_ms`.
    async fn jwks(&self, rotated: bool) -> Result<Arc<JwkSet>, Refusal> {
        let mut cache = self.jwks.lock().await;
        let fresh = Duration::from_millis(if rotated {
            self.settings.jwks_min_refresh_ms
        } else {
            self.settings.metadata_ttl_ms
        });
        if let Some(c) = cache.as_ref().filter(|c| c.at.elapsed() < fresh) {
            return Ok(c.value.clone());
        }
        let uri = self.metadata().await?.jwks_uri.clone();
        let set: JwkSet = self.get_json(&uri).await?;
        let set = Arc::new(set);
        *cache = Some(Cached {
            value: set.clone(),
            at: Instant::now(),
        });
        Ok(set)
    }

    /// Where to send the browser to sign in for `pending`.
    pub async fn authorization_url(&self, pending: &Pending) -> Result<String, Refusal> {
        let m = self.metadata().await?;
        let mut url = reqwest::Url::parse(&m.authorization_endpoint)
            .map_err(|_| Refusal::ProviderUnavailable)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &pending.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Trades the authorization `code` for an ID token and checks it: who signed in.
    pub async fn redeem(
        &self,
        code: &str,
        pending: &Pending,
        now: Millis,
    ) -> Result<Identity, Refusal> {
        let m = self.metadata().await?;
        let s = &self.settings;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", s.redirect_url.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let secret = s.secret();
        let methods = m.token_endpoint_auth_methods_supported.as_deref();
        let post_only = methods.is_some_and(|v| {
            v.iter().any(|x| x == "client_secret_post")
                && !v.iter().any(|x| x == "client_secret_basic")
        });
        let mut req = self
            .http
            .post(&m.token_endpoint)
            .header("accept", "application/json");
        match &secret {
            Some(secret) if !post_only => {
                // RFC 6749 2.3.1: both parts form-encoded before Basic.
                let enc = |v: &str| {
                    serde_urlencoded::to_string([("", v)])
                        .map(|s| s[1..].to_string())
                        .unwrap_or_default()
                };
                req = req.basic_auth(enc(&s.client_id), Some(enc(secret)));
            }
            Some(secret) => {
                form.push(("client_id", s.client_id.as_str()));
                form.push(("client_secret", secret.as_str()));
            }
            None => form.push(("client_id", s.client_id.as_str())),
        }
        let resp = req.form(&form).send().await.map_err(|e| {
            tracing::warn!(error = %e, "token request failed");
            Refusal::ProviderUnavailable
        })?;
        #[derive(Deserialize)]
        struct TokenResponse {
            id_token: Option<String>,
            error: Option<String>,
        }
        let status = resp.status();
        let body: TokenResponse = self.json(resp).await.map_err(|e| {
            tracing::warn!(%status, error = %e, "token response unreadable");
            Refusal::ProviderUnavailable
        })?;
        let Some(token) = body.id_token.filter(|_| status.is_success()) else {
            tracing::info!(%status, error = ?body.error, "token request refused");
            return Err(if status.is_client_error() {
                Refusal::ProviderDenied
            } else {
                Refusal::ProviderUnavailable
            });
        };
        self.check(&token, &pending.nonce, now).await
    }

    /// Checks an ID token and maps it to an agent and a role.
    async fn check(&self, token: &str, nonce: &str, now: Millis) -> Result<Identity, Refusal> {
        let s = &self.settings;
        if token.len() > s.max_response_bytes {
            return Err(Refusal::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        let alg_name = format!("{:?}", header.alg);
        let offered = self.metadata().await?;
        if !s.algorithms.contains(&alg_name)
            || offered
                .id_token_signing_alg_values_supported
                .as_ref()
                .is_some_and(|v| !v.contains(&alg_name))
        {
            return Err(Refusal::Algorithm);
        }
        let kid = header.kid.as_deref();
        let key = match select(&*self.jwks(false).await?, kid, header.alg) {
            Some(k) => k,
            None => select(&*self.jwks(true).await?, kid, header.alg).ok_or(Refusal::UnknownKey)?,
        };
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims: IdClaims = jsonwebtoken::decode(token, &key, &v)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => Refusal::BadSignature,
                _ => Refusal::Malformed,
            })?
            .claims;
        check_claims(
            &claims,
            &Expected {
                issuer: &s.issuer,
                client_id: &s.client_id,
                nonce,
                now,
                skew_ms: s.clock_skew_ms,
            },
        )?;
        identity(s, claims)
    }
}

/// The agent and role a checked ID token's claims name.
fn identity(s: &OidcSettings, c: IdClaims) -> Result<Identity, Refusal> {
    let agent = if s.agent_claim == "sub" {
        Some(c.sub.as_str())
    } else {
        c.rest.get(&s.agent_claim).and_then(|v| v.as_str())
    };
    let agent = agent
        .and_then(|a| AgentId::parse(a).ok())
        .ok_or(Refusal::UnknownAgent)?;
    let groups: Vec<&str> = match c.rest.get(&s.groups_claim) {
        Some(serde_json::Value::Array(v)) => v.iter().filter_map(|g| g.as_str()).collect(),
        Some(serde_json::Value::String(g)) => vec![g.as_str()],
        _ => Vec::new(),
    };
    let role = s.role_of(groups).ok_or(Refusal::NoRole)?;
    Ok(Identity {
        sub: c.sub,
        agent,
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use serde_json::json;

    fn claims(v: serde_json::Value) -> IdClaims {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> serde_json::Value {
        json!({"iss": "https://id.example.com", "sub": "u1", "aud": "sb",
               "exp": 1_000_100, "iat": 1_000_000, "nonce": "n1",
               "preferred_username": "alice", "groups": ["cc-agents"]})
    }

    fn expected(now_s: i64) -> Expected<'static> {
        Expected {
            issuer: "https://id.example.com",
            client_id: "sb",
            nonce: "n1",
            now: Millis(now_s * 1000),
            skew_ms: 60_000,
        }
    }

    fn with(k: &str, v: serde_json::Value) -> IdClaims {
        let mut b = base();
        b[k] = v;
        claims(b)
    }

    #[test]
    fn each_claim_is_checked_in_order() {
        let e = expected(1_000_050);
        assert_eq!(check_claims(&claims(base()), &e), Ok(()));
        assert_eq!(
            check_claims(&with("iss", json!("https://evil")), &e),
            Err(Refusal::Issuer)
        );
        assert_eq!(
            check_claims(&with("aud", json!("other")), &e),
            Err(Refusal::Audience)
        );
        // Several audiences need azp naming this client.
        assert_eq!(
            check_claims(&with("aud", json!(["sb", "other"])), &e),
            Err(Refusal::Audience)
        );
        let mut both = base();
        both["aud"] = json!(["sb", "other"]);
        both["azp"] = json!("sb");
        assert_eq!(check_claims(&claims(both), &e), Ok(()));
        assert_eq!(
            check_claims(&with("azp", json!("other")), &e),
            Err(Refusal::Audience)
        );
        assert_eq!(
            check_claims(&with("nonce", json!("n2")), &e),
            Err(Refusal::Nonce)
        );
        let mut no_nonce = base();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert_eq!(check_claims(&claims(no_nonce), &e), Err(Refusal::Nonce));
        // exp and iat within the skew, on the given clock.
        assert_eq!(check_claims(&claims(base()), &expected(1_000_159)), Ok(()));
        assert_eq!(
            check_claims(&claims(base()), &expected(1_000_160)),
            Err(Refusal::Expired)
        );
        assert_eq!(check_claims(&claims(base()), &expected(999_940)), Ok(()));
        assert_eq!(
            check_claims(&claims(base()), &expected(999_939)),
            Err(Refusal::Future)
        );
    }

    #[test]
    fn claims_map_to_an_agent_and_the_highest_role() {
        let mut s = OidcSettings::default();
        s.roles.insert("cc-agents".into(), Role::Agent);
        s.roles.insert("cc-leads".into(), Role::Supervisor);
        let id = identity(&s, claims(base())).unwrap();
        assert_eq!((id.agent.as_str(), id.role), ("alice", Role::Agent));
        let lead = identity(&s, with("groups", json!(["x", "cc-leads", "cc-agents"]))).unwrap();
        assert_eq!(lead.role, Role::Supervisor);
        assert_eq!(
            identity(&s, with("groups", json!("cc-leads")))
                .unwrap()
                .role,
            Role::Supervisor
        );
        assert_eq!(
            identity(&s, with("groups", json!(["x"]))),
            Err(Refusal::NoRole)
        );
        assert_eq!(identity(&s, with("groups", json!(7))), Err(Refusal::NoRole));
        assert_eq!(
            identity(&s, with("preferred_username", json!("no spaces allowed"))),
            Err(Refusal::UnknownAgent)
        );
        assert_eq!(
            identity(&s, with("preferred_username", json!(3))),
            Err(Refusal::UnknownAgent)
        );
        s.agent_claim = "sub".into();
        assert_eq!(identity(&s, claims(base())).unwrap().agent.as_str(), "u1");
    }
}
