//! Security services shared by the HTTP edge and the session actors: staff token
//! revocation (and closing the revoked agent's sockets), login throttling, the client
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

pub use login_limit::LoginLimiter;
pub use redact::{Escaped, Redacted};
pub use revocation::{CloseSession, Revocations};

/// The security services of one engine.
pub struct Guards {
    pub revocations: Revocations,
    pub logins: LoginLimiter,
    /// `security.trusted_proxies`, parsed.
    pub proxies: Vec<client::Block>,
}

impl Guards {
    pub fn new(settings: &crate::config::SecuritySettings) -> Self {
        crate::security::redact::set_enabled(settings.redact_logs);
        crate::security::redact::set_max_chars(settings.log_value_max_chars);
        Guards {
            revocations: Revocations::default(),
            logins: LoginLimiter::new(settings),
            // Checked when the settings were loaded; a bad entry trusts nobody.
            proxies: settings.trusted_proxies().unwrap_or_default(),
        }
    }
}
