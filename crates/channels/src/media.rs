//! Media that came with a provider's message, fetched from the provider with its auth
//! and handed to the ingest door as files (`IncomingFile`), which stores them for the
//! customer under the file policy before the message is committed
//! (docs/attachments.md, "Provider media").
//!
//! The guard against server-side request forgery: a media URL comes from a webhook
//! body, so it is fetched only from a host the connector's own API base names or one
//! of `channels.media.hosts` (exact names or `*.suffix`); an IP literal only when it is
//! the API base's own host (a test's recorder); `http` only for such a host too. Every
//! redirect is checked the same way (at most `max_redirects`), and the provider's
//! credentials go only to the host they were given for. A body is read no further
//! than `attachments.max_bytes` (or the channel's lower `channel_max_bytes`); every
//! request has `timeout_ms`.
//!
//! A fetch that fails (a host not allowed, an error status, too large, a timeout)
//! leaves the attachment described with its provider reference, logged without
//! content and counted: the message itself is never lost for its media.

pub use crate::config::MediaSettings;
use crate::domain::Attachment;
use crate::{Gateway, InboundMessage, IncomingFile};
use futures_util::StreamExt;
use std::time::Duration;

/// How a media request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
    /// Signed per request (X's direct-message media).
    OAuth1(crate::oauth1::Credentials),
}

/// One media item to fetch: its URL, the credentials for the URL's own host, and the
/// API base of the connector (its host is allowed, IP literal and plain http included).
#[derive(Debug, Clone)]
pub struct Fetch {
    pub url: String,
    pub auth: Auth,
    pub api_base: String,
}

/// Why a media item was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("host not allowed: {0}")]
    Host(String),
    #[error("not a usable URL")]
    Url,
    #[error("the provider answered {0}")]
    Status(u16),
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    #[error("too many redirects")]
    Redirects,
    #[error("request failed: {0}")]
    Network(String),
}

impl MediaError {
    /// The metric label.
    fn reason(&self) -> &'static str {
        match self {
            MediaError::Host(_) | MediaError::Url => "host",
            MediaError::Status(_) => "status",
            MediaError::TooLarge(_) => "too_large",
            MediaError::Redirects => "redirects",
            MediaError::Network(_) => "network",
        }
    }
}

/// Fetched bytes and the type the provider's answer declared.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Whether `host` may be fetched from: the API base's own host, or a name matching
/// `patterns` (never an IP literal through a pattern).
pub fn host_allowed(host: &str, api_host: Option<&str>, patterns: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if api_host.is_some_and(|a| a.eq_ignore_ascii_case(&host)) {
        return true;
    }
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return false;
    }
    patterns.iter().any(|p| match p.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
        None => p.eq_ignore_ascii_case(&host),
    })
}

/// Fetches `f` (following allowed redirects), reading at most `max_bytes`.
pub async fn fetch(gateway: &Gateway, f: &Fetch, max_bytes: u64) -> Result<Fetched, MediaError> {
    let settings = &gateway.channels().media;
    let api = reqwest::Url::parse(&f.api_base).ok();
    let api_host = api.as_ref().and_then(|u| u.host_str()).map(str::to_owned);
    let mut url = reqwest::Url::parse(&f.url).map_err(|_| MediaError::Url)?;
    let first_host = url.host_str().map(str::to_owned);
    for _ in 0..=settings.max_redirects {
        let host = url.host_str().ok_or(MediaError::Url)?.to_owned();
        let own = api_host
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(&host));
        if !host_allowed(&host, api_host.as_deref(), &settings.hosts)
            || !(url.scheme() == "https" || (own && url.scheme() == "http"))
        {
            return Err(MediaError::Host(host));
        }
        let mut req = gateway
            .media_client
            .get(url.clone())
            .timeout(Duration::from_millis(settings.timeout_ms));
        // Credentials only for the host they were given for.
        if first_host.as_deref() == Some(host.as_str()) {
            req = match &f.auth {
                Auth::None => req,
                Auth::Bearer(t) => req.bearer_auth(t),
                Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
                Auth::OAuth1(c) => {
                    let header = crate::oauth1::authorization(
                        "GET",
                        &url,
                        c,
                        &crate::oauth1::nonce(),
                        gateway.now().0 / 1000,
                    );
                    req.header(reqwest::header::AUTHORIZATION, header)
                }
            };
        }
        let resp = req
            .send()
            .await
            .map_err(|e| MediaError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_redirection() {
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or(MediaError::Url)?;
            url = next;
            continue;
        }
        if !status.is_success() {
            return Err(MediaError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(MediaError::TooLarge(max_bytes));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(crate::domain::attachment::essence);
        let mut bytes = Vec::new();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| MediaError::Network(e.without_url().to_string()))?;
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(MediaError::TooLarge(max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Fetched {
            content_type,
            bytes,
        });
    }
    Err(MediaError::Redirects)
}

/// Fetches the media of `m`'s attachments that `plans` names (one entry per
/// attachment, `None`: keep it as it is): each fetched item leaves the attachments
/// and becomes a file of the message; a failure keeps the attachment, logged and
/// counted.
pub async fn fetch_all(
    gateway: &Gateway,
    provider: &'static str,
    m: &mut InboundMessage,
    plans: Vec<Option<Fetch>>,
) {
    if !gateway.channels().media.fetch || !plans.iter().any(Option::is_some) {
        return;
    }
    if !fresh(gateway, provider, m).await {
        return;
    }
    fetch_planned(gateway, provider, m, plans).await;
}

/// Whether `m` is new to the provider door: a redelivery's media was fetched the first
/// time, and an erased customer's is not ours (`ingest::taken_before`).
pub async fn fresh(gateway: &Gateway, provider: &'static str, m: &InboundMessage) -> bool {
    if switchboard_engine::actors::ingest::taken_before(gateway, m).await {
        tracing::info!(provider, "media not fetched: the message was taken before");
        return false;
    }
    true
}

/// [`fetch_all`] for a caller that has asked [`fresh`] already.
pub async fn fetch_planned(
    gateway: &Gateway,
    provider: &'static str,
    m: &mut InboundMessage,
    plans: Vec<Option<Fetch>>,
) {
    if !gateway.channels().media.fetch {
        return;
    }
    let max = gateway.settings.attachments.max_bytes_on(m.channel);
    let attachments = std::mem::take(&mut m.attachments);
    for (a, plan) in attachments
        .into_iter()
        .zip(plans.into_iter().chain(std::iter::repeat(None)))
    {
        let Some(f) = plan else {
            m.attachments.push(a);
            continue;
        };
        match fetch(gateway, &f, max).await {
            Ok(got) => {
                crate::metrics::media_fetched(provider, "ok");
                m.files.push(file_of(a, got));
            }
            Err(e) => {
                tracing::info!(provider, reason = e.reason(), "media not fetched: {e}");
                crate::metrics::media_fetched(provider, e.reason());
                m.attachments.push(a);
            }
        }
    }
}

/// Fetches every attachment of `m` that names a URL, with `auth` for the URL's own
/// host and `api_base` the connector's (see [`fetch_all`]).
pub async fn fetch_urls(
    gateway: &Gateway,
    provider: &'static str,
    m: &mut InboundMessage,
    auth: Auth,
    api_base: &str,
) {
    let plans = m
        .attachments
        .iter()
        .map(|a| {
            a.url.as_ref().map(|url| Fetch {
                url: url.clone(),
                auth: auth.clone(),
                api_base: api_base.to_owned(),
            })
        })
        .collect();
    fetch_all(gateway, provider, m, plans).await;
}

/// The file of a fetched attachment: its declared type, else the answer's.
fn file_of(a: Attachment, got: Fetched) -> IncomingFile {
    IncomingFile {
        name: a.name,
        content_type: a
            .content_type
            .or(got.content_type)
            .unwrap_or_else(|| "application/octet-stream".into()),
        bytes: got.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_api_host_and_listed_names_are_fetched_from() {
        let hosts = MediaSettings::default().hosts;
        let ok = |h: &str, api: Option<&str>| host_allowed(h, api, &hosts);
        assert!(ok("api.twilio.com", None));
        assert!(ok("media.twiliocdn.com", None));
        assert!(ok("scontent-nrt1-1.xx.fbcdn.net", None));
        assert!(
            ok("127.0.0.1", Some("127.0.0.1")),
            "the API base's own host"
        );
        for bad in [
            "127.0.0.1",
            "169.254.169.254",
            "10.0.0.7",
            "[::1]",
            "localhost",
            "fbcdn.net.evil.example",
            "evilfbcdn.net",
            "twiliocdn.com",
            "metadata.google.internal",
        ] {
            assert!(!ok(bad, Some("api.twilio.com")), "{bad}");
        }
    }
}
