//! Staff single sign-on with OpenID Connect (`[oidc]`, docs/sso.md): the settings, the
//! sign-in in flight (state, nonce and PKCE verifier, sealed into a cookie so any node
//! can finish a sign-in another node started), the refusals and their stable names,
//! and what a validated ID token maps to: an agent id and a role from the IdP's groups.
//!
//! The provider's side — discovery, the JWKS and its rotation, the token request and
//! the ID token's checks — is [`provider`]; the routes are `crate::api::oidc`.

pub mod provider;

use crate::domain::{AgentId, Millis, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the provider sends the browser back: the only callback path accepted in
/// `oidc.redirect_url`.
pub const CALLBACK_PATH: &str = "/api/v1/oidc/callback";
/// The cookie that carries a sign-in in flight between `/oidc/login` and the callback.
pub const COOKIE: &str = "sb_oidc";
/// The purpose the sign-in cookie is sealed for (`TokenSigner::seal`).
pub const SEAL_PURPOSE: &str = "oidc-state";
/// The ID-token signature algorithms the engine can check.
pub const SUPPORTED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// `[oidc]`: the provider, this client's registration with it, how its claims map to
/// an agent and a role, and the limits of every exchange with it.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// Offer "sign in with single sign-on" on the staff pages.
    pub enabled: bool,
    /// The provider's issuer URL, exactly as its discovery document and ID tokens
    /// state it (`{issuer}/.well-known/openid-configuration` is fetched).
    pub issuer: String,
    /// This engine's client id at the provider: the ID token's audience.
    pub client_id: String,
    /// The client secret (sent with HTTP Basic, or in the form when the provider
    /// supports only `client_secret_post`); unset for a public client (PKCE only).
    /// Never shown or logged. The environment's `SWITCHBOARD_OIDC_CLIENT_SECRET`
    /// takes precedence.
    pub client_secret: Option<String>,
    /// The callback URL registered at the provider: this engine's public origin and
    /// `/api/v1/oidc/callback`.
    pub redirect_url: String,
    /// Scopes asked for; must include `openid`.
    pub scopes: Vec<String>,
    /// The ID-token claim whose value is the agent id (the account must exist here).
    pub agent_claim: String,
    /// The ID-token claim listing the user's groups (an array of strings, or one).
    pub groups_claim: String,
    /// IdP group -> role. A user in several mapped groups gets the highest role; a
    /// user in none is refused (`no_role`).
    pub roles: BTreeMap<String, Role>,
    /// Whether `POST /api/v1/login` (agent id + password) stays open. Turning it off
    /// needs `enabled`.
    pub password_login: bool,
    /// The sign-in button's label.
    pub label: String,
    /// Accept `http://` issuer, endpoints and redirect URL (a local test provider).
    pub allow_http: bool,
    /// Deadline of each request to the provider.
    pub timeout_ms: u64,
    /// Largest response body read from the provider (discovery, JWKS, token).
    pub max_response_bytes: usize,
    /// How long the discovery document and the JWKS are kept before being fetched again.
    pub metadata_ttl_ms: u64,
    /// An ID token signed by a key the cached JWKS lacks fetches the JWKS again (key
    /// rotation), at most once per this interval.
    pub jwks_min_refresh_ms: u64,
    /// After a failed discovery or JWKS fetch, sign-ins are refused
    /// (`provider_unavailable`) without calling the provider for this long.
    pub retry_failed_ms: u64,
    /// How long a sign-in may take between `/oidc/login` and the callback.
    pub state_ttl_ms: u64,
    /// Tolerance on the ID token's `exp` and `iat` for clock differences.
    pub clock_skew_ms: u64,
    /// ID-token signature algorithms accepted (a subset of [`SUPPORTED_ALGORITHMS`]).
    pub algorithms: Vec<String>,
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            enabled: false,
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            redirect_url: String::new(),
            scopes: vec!["openid".into(), "profile".into(), "groups".into()],
            agent_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            roles: BTreeMap::new(),
            password_login: true,
            label: "Single sign-on".into(),
            allow_http: false,
            timeout_ms: 5_000,
            max_response_bytes: 256 * 1024,
            metadata_ttl_ms: 3_600_000,
            jwks_min_refresh_ms: 10_000,
            retry_failed_ms: 5_000,
            state_ttl_ms: 600_000,
            clock_skew_ms: 60_000,
            algorithms: vec!["RS256".into(), "PS256".into(), "ES256".into()],
        }
    }
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("enabled", &self.enabled)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("redirect_url", &self.redirect_url)
            .field("roles", &self.roles)
            .field("password_login", &self.password_login)
            .finish_non_exhaustive()
    }
}

/// `url` parsed, `http(s)` only (`http` when allowed), without credentials or fragment.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(format!("{url:?} must be https (or set oidc.allow_http)")),
        s => return Err(format!("{url:?}: scheme {s} is not http(s)")),
    }
    if u.host_str().is_none() || !u.username().is_empty() || u.password().is_some() {
        return Err(format!("{url:?} needs a host and no credentials"));
    }
    if u.fragment().is_some() {
        return Err(format!("{url:?} must not have a fragment"));
    }
    Ok(u)
}

impl OidcSettings {
    /// Refuses settings that cannot work, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if !self.password_login && !self.enabled {
            return Err(
                "oidc.password_login = false needs oidc.enabled: nobody could sign in".into(),
            );
        }
        if !self.enabled {
            return Ok(());
        }
        check_url(&self.issuer, self.allow_http).map_err(|e| format!("oidc.issuer: {e}"))?;
        if reqwest::Url::parse(&self.issuer).is_ok_and(|u| u.query().is_some()) {
            return Err("oidc.issuer must not have a query".into());
        }
        let redirect = check_url(&self.redirect_url, self.allow_http)
            .map_err(|e| format!("oidc.redirect_url: {e}"))?;
        if redirect.path() != CALLBACK_PATH || redirect.query().is_some() {
            return Err(format!("oidc.redirect_url must end in {CALLBACK_PATH}"));
        }
        if self.client_id.trim().is_empty() || self.client_id.len() > 255 {
            return Err("oidc.client_id must be 1 to 255 characters".into());
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err("oidc.scopes must include openid".into());
        }
        if let Some(s) = self.scopes.iter().find(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        }) {
            return Err(format!("oidc.scopes: {s:?} is not a scope token"));
        }
        if self.agent_claim.is_empty() || self.groups_claim.is_empty() {
            return Err("oidc.agent_claim and oidc.groups_claim must be set".into());
        }
        if self.roles.is_empty() {
            return Err("oidc.roles must map at least one group to a role".into());
        }
        if self.algorithms.is_empty() {
            return Err("oidc.algorithms must name at least one algorithm".into());
        }
        if let Some(a) = self
            .algorithms
            .iter()
            .find(|a| !SUPPORTED_ALGORITHMS.contains(&a.as_str()))
        {
            return Err(format!(
                "oidc.algorithms: {a} is not one of {SUPPORTED_ALGORITHMS:?}"
            ));
        }
        for (name, v, min) in [
            ("timeout_ms", self.timeout_ms, 100),
            ("state_ttl_ms", self.state_ttl_ms, 10_000),
            ("metadata_ttl_ms", self.metadata_ttl_ms, 1_000),
        ] {
            if v < min {
                return Err(format!("oidc.{name} must be at least {min}"));
            }
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_response_bytes) {
            return Err("oidc.max_response_bytes must be 1 KiB to 16 MiB".into());
        }
        if self.label.is_empty() || self.label.chars().count() > 64 {
            return Err("oidc.label must be 1 to 64 characters".into());
        }
        Ok(())
    }

    /// The client secret: the environment's, else the settings'.
    pub fn secret(&self) -> Option<String> {
        std::env::var("SWITCHBOARD_OIDC_CLIENT_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.client_secret.clone())
    }

    /// The role of a user in `groups`: the highest any of them maps to.
    pub fn role_of<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        groups
            .into_iter()
            .filter_map(|g| self.roles.get(g).copied())
            .max()
    }
}

/// The staff client a sign-in started from and returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffClient {
    Agent,
    Supervisor,
    Admin,
}

impl StaffClient {
    /// The client's page.
    pub fn path(self) -> &'static str {
        match self {
            StaffClient::Agent => "/agent/",
            StaffClient::Supervisor => "/supervisor/",
            StaffClient::Admin => "/admin/",
        }
    }
}

/// A sign-in in flight, sealed into [`COOKIE`]: what the callback must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636): 64 characters of `[0-9a-f]`.
    pub verifier: String,
    pub client: StaffClient,
    pub exp: Millis,
}

impl Pending {
    /// A new sign-in for `client`, valid until `exp`: fresh random state, nonce and
    /// verifier (each from 244 random bits).
    pub fn new(client: StaffClient, exp: Millis) -> Self {
        let random = || {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        };
        Pending {
            state: random(),
            nonce: random(),
            verifier: random(),
            client,
            exp,
        }
    }

    /// The PKCE S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(self.verifier.as_bytes()))
    }
}

/// Why a sign-in was refused. The name is stable: it is the metric's `outcome`, the
/// `#sso_error=` the staff page shows a message for, and the audit detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No sign-in in flight (cookie missing, expired or altered) or `state` differs.
    #[error("no matching sign-in in progress")]
    State,
    /// The provider answered the authorization with an error (the user cancelled…).
    #[error("the identity provider refused the sign-in")]
    ProviderDenied,
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider is unavailable")]
    ProviderUnavailable,
    #[error("the ID token is malformed")]
    Malformed,
    #[error("the ID token's algorithm is not accepted")]
    Algorithm,
    #[error("the ID token is signed by a key the provider does not publish")]
    UnknownKey,
    #[error("the ID token's signature is wrong")]
    BadSignature,
    #[error("the ID token is from another issuer")]
    Issuer,
    #[error("the ID token is for another client")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is issued in the future")]
    Future,
    #[error("the ID token's nonce does not match")]
    Nonce,
    /// The agent claim is missing, not an agent id, or names no account here.
    #[error("no agent account for this user")]
    UnknownAgent,
    #[error("the agent account is disabled")]
    Disabled,
    /// None of the user's groups maps to a role.
    #[error("the user's groups grant no role")]
    NoRole,
    #[error("the store is unavailable")]
    Store,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::State => "state",
            Refusal::ProviderDenied => "provider_denied",
            Refusal::ProviderUnavailable => "provider_unavailable",
            Refusal::Malformed => "malformed",
            Refusal::Algorithm => "algorithm",
            Refusal::UnknownKey => "unknown_key",
            Refusal::BadSignature => "bad_signature",
            Refusal::Issuer => "issuer",
            Refusal::Audience => "audience",
            Refusal::Expired => "expired",
            Refusal::Future => "future",
            Refusal::Nonce => "nonce",
            Refusal::UnknownAgent => "unknown_agent",
            Refusal::Disabled => "disabled",
            Refusal::NoRole => "no_role",
            Refusal::Store => "store",
        }
    }
}

/// Who a validated ID token says signed in, before the account is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's subject.
    pub sub: String,
    pub agent: AgentId,
    pub role: Role,
}

/// Counts a sign-in's outcome: `ok` or a [`Refusal::name`].
pub fn count(outcome: &'static str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            "switchboard_sso_logins_total",
            "Single sign-on attempts by outcome: ok, or why the sign-in was refused."
        );
    });
    metrics::counter!("switchboard_sso_logins_total", "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> OidcSettings {
        OidcSettings {
            enabled: true,
            issuer: "https://id.example.com/realms/cc".into(),
            client_id: "switchboard".into(),
            redirect_url: "https://cc.example.com/api/v1/oidc/callback".into(),
            roles: [("cc-agents".to_string(), Role::Agent)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        assert!(OidcSettings::default().validate().is_ok());
        assert!(enabled().validate().is_ok());
        let off = OidcSettings {
            password_login: false,
            ..Default::default()
        };
        assert!(off.validate().unwrap_err().contains("password_login"));
        for (tweak, field) in [
            (
                Box::new(|s: &mut OidcSettings| s.issuer = "http://id.example.com".into())
                    as Box<dyn Fn(&mut OidcSettings)>,
                "issuer",
            ),
            (Box::new(|s| s.issuer = "not a url".into()), "issuer"),
            (
                Box::new(|s| s.redirect_url = "https://cc.example.com/cb".into()),
                "redirect_url",
            ),
            (Box::new(|s| s.client_id = " ".into()), "client_id"),
            (Box::new(|s| s.scopes = vec!["profile".into()]), "scopes"),
            (Box::new(|s| s.roles.clear()), "roles"),
            (
                Box::new(|s| s.algorithms = vec!["HS256".into()]),
                "algorithms",
            ),
            (
                Box::new(|s| s.algorithms = vec!["none".into()]),
                "algorithms",
            ),
            (
                Box::new(|s| s.max_response_bytes = 10),
                "max_response_bytes",
            ),
            (Box::new(|s| s.timeout_ms = 0), "timeout_ms"),
        ] {
            let mut s = enabled();
            tweak(&mut s);
            let e = s.validate().unwrap_err();
            assert!(e.contains(field), "{field}: {e}");
        }
        let mut http = enabled();
        http.issuer = "http://127.0.0.1:9000".into();
        http.redirect_url = "http://127.0.0.1:8080/api/v1/oidc/callback".into();
        assert!(http.validate().is_err());
        http.allow_http = true;
        assert!(http.validate().is_ok());
    }

    #[test]
    fn the_highest_mapped_group_wins_and_unmapped_groups_grant_nothing() {
        let mut s = enabled();
        s.roles.insert("cc-leads".into(), Role::Supervisor);
        s.roles.insert("cc-admins".into(), Role::Admin);
        assert_eq!(s.role_of(["other"]), None);
        assert_eq!(s.role_of(["cc-agents", "other"]), Some(Role::Agent));
        assert_eq!(s.role_of(["cc-agents", "cc-leads"]), Some(Role::Supervisor));
        assert_eq!(s.role_of(["cc-admins", "cc-agents"]), Some(Role::Admin));
    }

    #[test]
    fn a_pending_sign_in_has_fresh_secrets_and_an_s256_challenge() {
        let a = Pending::new(StaffClient::Agent, Millis(1));
        let b = Pending::new(StaffClient::Agent, Millis(1));
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.verifier.len(), 64);
        // RFC 7636 appendix B's example.
        let rfc = Pending {
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            ..a
        };
        assert_eq!(
            rfc.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        // 43 characters, no padding.
        assert_eq!(b.challenge().len(), 43);
    }
}
