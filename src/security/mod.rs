//! Security services shared by the HTTP edge and the session actors: staff token
//! revocation (and closing the revoked agent's sockets), login throttling (shared by
//! spread nodes: `shared_logins`), the client
//! address behind trusted proxies, the websocket `Origin` check, and log redaction and
//! escaping (`redact`, the engine's; `Escaped` itself lives in the domain crate so the
//! SMTP crate shares it). Roles and ownership are checked at the edge
//! (`crate::api::access`); this module holds the state those checks need.
//!
//! It must not hold business state (conversations, routing) and never logs a token,
//! password or message body. docs/security.md describes the threat model.

pub mod client;
pub mod login_limit;
pub mod origin;
pub use switchboard_engine::redact;
pub mod revocation;
pub mod shared_logins;

pub use login_limit::LoginLimiter;
pub use redact::{Escaped, Redacted};
pub use revocation::{CloseSession, Revocations};

/// The security services of one engine.
pub struct Guards {
    pub revocations: Revocations,
    /// This node's failed-login counters.
    pub logins: std::sync::Arc<LoginLimiter>,
    /// In spread placement: the counters as the cluster shares them (set at start).
    pub shared_logins: std::sync::OnceLock<shared_logins::SharedLogins>,
    /// `security.trusted_proxies`, parsed.
    pub proxies: Vec<client::Block>,
}

impl Guards {
    pub fn new(settings: &crate::config::SecuritySettings) -> Self {
        crate::security::redact::set_enabled(settings.redact_logs);
        crate::security::redact::set_max_chars(settings.log_value_max_chars);
        Guards {
            revocations: Revocations::default(),
            logins: std::sync::Arc::new(LoginLimiter::new(settings)),
            shared_logins: std::sync::OnceLock::new(),
            // Checked when the settings were loaded; a bad entry trusts nobody.
            proxies: settings.trusted_proxies().unwrap_or_default(),
        }
    }

    /// Whether a login for `account` from `ip` may be tried now
    /// ([`LoginLimiter::check`], across the cluster in spread placement).
    pub async fn login_check(
        &self,
        account: &str,
        ip: &str,
        now: crate::domain::Millis,
    ) -> Result<(), login_limit::Blocked> {
        match self.shared_logins.get() {
            Some(shared) => shared.check(account, ip, now).await,
            None => self.logins.check(account, ip, now),
        }
    }

    /// Counts a failed login ([`LoginLimiter::failed`], across the cluster in spread
    /// placement).
    pub async fn login_failed(
        &self,
        account: &str,
        ip: &str,
        now: crate::domain::Millis,
    ) -> Option<login_limit::Alarm> {
        match self.shared_logins.get() {
            Some(shared) => shared.failed(account, ip, now).await,
            None => self.logins.failed(account, ip, now),
        }
    }

    /// Clears the account's failures from `ip` ([`LoginLimiter::succeeded`]).
    pub async fn login_succeeded(&self, account: &str, ip: &str) {
        match self.shared_logins.get() {
            Some(shared) => shared.succeeded(account, ip).await,
            None => self.logins.succeeded(account, ip),
        }
    }
}
