//! CRM lookup: customer attributes and order history from an external HTTP service,
//! fetched when a customer actor activates, cached with a TTL and shown to agents.
//!
//! Layout: [`CrmSettings`] (the `[crm]` section), `client` (one bounded HTTP request
//! and the validation of its answer into [`CrmData`]), `cache` ([`Crm`], the engine's
//! handle: a bounded dashmap of results, the concurrency limit, the status a reader
//! sees). The CRM is advisory: a lookup is always spawned, never awaited by an actor,
//! and its failure (down, slow, garbage) only shows as `unavailable` in the desktop;
//! routing and the conversation never wait for it.

mod cache;
mod client;

pub use cache::{Crm, CrmStatus, CrmView};
pub use client::{CrmData, CrmError, Order};

use serde::Deserialize;

/// `[crm]`: where and how to look customers up (README "CRM", docs/assist.md).
/// Disabled while `url` is unset.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrmSettings {
    /// URL template; `{customer_id}`, `{phone}`, `{email}` are replaced by the
    /// customer's values, percent-encoded (empty when the customer has none), e.g.
    /// `https://crm.example/api/customers?id={customer_id}&phone={phone}`.
    pub url: Option<String>,
    /// Header sent with every lookup (e.g. `authorization`), when `auth_value` is set.
    pub auth_header: String,
    /// Its value, e.g. `Bearer s3cret` (a secret: never logged).
    pub auth_value: Option<String>,
    /// One lookup's deadline (connect + answer + body).
    pub timeout_ms: u64,
    /// A successful answer is fresh this long; after it the next activation (or a
    /// desktop read) refreshes it while the stale data is still shown.
    pub ttl_ms: u64,
    /// After a failed lookup, the next attempt waits at least this long.
    pub retry_ms: u64,
    /// Largest answer body read; a longer one is a failed lookup (`too_large`).
    pub max_response_bytes: usize,
    /// Customers kept in the cache; past it the oldest of a small sample is evicted.
    pub max_entries: usize,
    /// Lookups in flight at once; an activation beyond it skips the lookup (`shed`)
    /// and a later activation or read tries again.
    pub concurrency: usize,
    /// Attributes kept per customer (more are dropped, in key order).
    pub max_attributes: usize,
    /// Orders kept per customer (the first ones of the answer).
    pub max_orders: usize,
    /// Longest attribute key, value or order field kept, bytes (longer values are cut
    /// at a character boundary).
    pub max_value_bytes: usize,
}

impl Default for CrmSettings {
    fn default() -> Self {
        Self {
            url: None,
            auth_header: "authorization".into(),
            auth_value: None,
            timeout_ms: 2_000,
            ttl_ms: 5 * 60_000,
            retry_ms: 30_000,
            max_response_bytes: 64 * 1024,
            max_entries: 10_000,
            concurrency: 8,
            max_attributes: 64,
            max_orders: 20,
            max_value_bytes: 256,
        }
    }
}

impl std::fmt::Debug for CrmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmSettings")
            .field("url", &self.url)
            .field("auth_header", &self.auth_header)
            .field(
                "auth_value",
                &self.auth_value.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout_ms", &self.timeout_ms)
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

impl CrmSettings {
    /// Refuses settings the engine could not honour (checked at start).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.url {
            let probe = client::expand(url, "c", "p", "e");
            let parsed = reqwest::Url::parse(&probe).map_err(|e| format!("crm.url: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err("crm.url: scheme must be http or https".into());
            }
        }
        if self.auth_value.is_some()
            && reqwest::header::HeaderName::from_bytes(self.auth_header.as_bytes()).is_err()
        {
            return Err("crm.auth_header: not a valid header name".into());
        }
        for (name, v) in [
            ("timeout_ms", self.timeout_ms as usize),
            ("ttl_ms", self.ttl_ms as usize),
            ("max_response_bytes", self.max_response_bytes),
            ("max_entries", self.max_entries),
            ("concurrency", self.concurrency),
            ("max_value_bytes", self.max_value_bytes),
        ] {
            if v == 0 {
                return Err(format!("crm.{name} must be > 0"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_refuses_bad_urls_and_zero_limits() {
        assert!(CrmSettings::default().validate().is_ok());
        let ok = CrmSettings {
            url: Some("http://crm.local/c?id={customer_id}&p={phone}".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let bad = CrmSettings {
            url: Some("ftp://crm.local/{customer_id}".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = CrmSettings {
            url: Some("not a url".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = CrmSettings {
            timeout_ms: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
