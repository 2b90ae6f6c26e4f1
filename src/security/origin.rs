//! The websocket `Origin` check. Browsers always send `Origin` on a websocket
//! handshake and let any page open a socket to any host, so a page on another site
//! could ride on a visitor's stored token; the engine accepts only its own origin
//! (`security.allow_same_origin`) and the origins listed in
//! `security.allowed_origins`. A handshake without `Origin` comes from a non-browser
//! client (loadtest, integrations) and is judged by its token alone.

use crate::config::SecuritySettings;

/// Whether a handshake with `origin` (the header, if any) to `host` (the `Host`
/// header) is allowed.
pub fn allowed(s: &SecuritySettings, origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let origin = origin.trim().trim_end_matches('/');
    if s.allowed_origins
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    if s.allow_same_origin {
        if let (Some(host), Some((_, rest))) = (host, origin.split_once("://")) {
            return rest.eq_ignore_ascii_case(host);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_listed_or_absent_pass_others_fail() {
        let s = SecuritySettings {
            allowed_origins: vec!["https://support.example.com".into()],
            ..Default::default()
        };
        assert!(allowed(&s, None, Some("engine:8080")));
        assert!(allowed(&s, Some("http://engine:8080"), Some("engine:8080")));
        assert!(allowed(&s, Some("https://support.example.com/"), Some("x")));
        assert!(!allowed(
            &s,
            Some("https://evil.example"),
            Some("engine:8080")
        ));
        assert!(!allowed(&s, Some("null"), Some("engine:8080")));
        let strict = SecuritySettings {
            allow_same_origin: false,
            ..Default::default()
        };
        assert!(!allowed(
            &strict,
            Some("http://engine:8080"),
            Some("engine:8080")
        ));
    }
}
