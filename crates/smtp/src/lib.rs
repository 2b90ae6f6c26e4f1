//! The email channel's transport: an inbound SMTP server (RFC 5321, [`server`]) that
//! hands each accepted message, parsed by [`mime`] (charsets, transfer encodings,
//! RFC 2047 words, quoted history, attachments, threading ids), to a
//! [`server::MailHandler`]; and the email channel's settings (`[email]`, with the
//! relay replies go out through). No engine here: the engine implements
//! `MailHandler` and makes the message durable inside `deliver`, so a `250` means
//! durable. Sending replies (lettre) stays with the engine's email connector.

/// Raw test messages and a recording `MailHandler`, for this crate's tests and the
/// engine's (feature `testkit`); not in the production binary.
#[cfg(any(test, feature = "testkit"))]
pub mod fixtures;
pub mod mime;
pub mod server;

pub use mime::{parse_message, strip_quoted, AttachmentInfo, EmailError, ParsedEmail};
pub use server::{Envelope, MailHandler, Refusal, Reject, SmtpHandle, SmtpServer};

use serde::Deserialize;
use std::net::SocketAddr;

/// Settings of the email channel (`[email]`). `Default` gives the documented defaults.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    /// Whether the engine starts the SMTP listener at all. Default false.
    pub enabled: bool,
    /// Where the SMTP server listens. Default 127.0.0.1:2525 (a high port needs no
    /// privileges; the MTA in front relays to it).
    pub listen: SocketAddr,
    /// Our name in the SMTP greeting and EHLO reply, and the domain of our Message-IDs.
    /// Default "switchboard.local".
    pub hostname: String,
    /// Domains accepted in RCPT TO (case-insensitive); empty accepts any domain.
    pub accept_domains: Vec<String>,
    /// Largest message, bytes: advertised with EHLO SIZE, checked against MAIL FROM
    /// SIZE=, enforced while DATA is read. Default 10 MiB.
    pub max_message_bytes: usize,
    /// Recipients per message; more get `452`. Default 20.
    pub max_recipients: usize,
    /// How long we wait for each command line, ms; then `421` and close. Default 60 s.
    pub command_timeout_ms: u64,
    /// How long a new connection may stay silent after our greeting before its first
    /// command, ms (or `command_timeout_ms` if that is shorter); then `421` and close,
    /// so idle connections cannot hold the session slots for long. Default 10 s.
    pub first_command_timeout_ms: u64,
    /// How long the whole DATA transfer may take, ms; then `421` and close. Default 5 min.
    pub data_timeout_ms: u64,
    /// Concurrent SMTP sessions; more are answered `421 too busy` and closed. Default 100.
    pub max_connections: usize,
    /// Concurrent SMTP sessions from one client IP address; more are answered `421`
    /// and closed at once, so one client cannot take every session slot. The MTA in
    /// front connects from one address: keep its concurrency towards us at or below
    /// this. Default 10.
    pub max_connections_per_ip: usize,
    /// Body text kept per message, bytes; longer text is cut at a character boundary
    /// and ends with a marker. Default 16 KiB.
    pub max_text_bytes: usize,
    /// Outbound relay for replies.
    pub relay: RelaySettings,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
            hostname: "switchboard.local".to_owned(),
            accept_domains: Vec::new(),
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 20,
            command_timeout_ms: 60_000,
            first_command_timeout_ms: 10_000,
            data_timeout_ms: 300_000,
            max_connections: 100,
            max_connections_per_ip: 10,
            max_text_bytes: 16 * 1024,
            relay: RelaySettings::default(),
        }
    }
}

/// The SMTP relay (smarthost) that carries our replies (`[email.relay]`).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySettings {
    /// Relay host name or address. Default "127.0.0.1".
    pub host: String,
    /// Relay port. Default 25 (587 is usual with `start_tls`, 465 with `tls`).
    pub port: u16,
    /// Our From address. Default "support@switchboard.local".
    pub from_address: String,
    /// Display name beside the From address, e.g. "Example Support".
    pub from_name: Option<String>,
    /// SMTP AUTH user name; with `password`, credentials are sent (use TLS then).
    pub username: Option<String>,
    /// SMTP AUTH password.
    pub password: Option<String>,
    /// Transport security towards the relay. Default `none` (a relay on loopback).
    pub tls: TlsMode,
    /// Connection and per-command timeout, ms. Default 30 s.
    pub timeout_ms: u64,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 25,
            from_address: "support@switchboard.local".to_owned(),
            from_name: None,
            username: None,
            password: None,
            tls: TlsMode::None,
            timeout_ms: 30_000,
        }
    }
}

/// How we secure the connection to the relay (rustls, Mozilla's root certificates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP: only for a relay on loopback or a private network.
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS, which is required (never falls back).
    #[serde(alias = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let s = EmailSettings::default();
        assert!(!s.enabled);
        assert_eq!(
            s.listen,
            "127.0.0.1:2525".parse::<std::net::SocketAddr>().unwrap()
        );
        assert_eq!(s.hostname, "switchboard.local");
        assert_eq!(s.max_message_bytes, 10_485_760);
        assert_eq!(s.max_recipients, 20);
        assert_eq!(s.command_timeout_ms, 60_000);
        assert_eq!(s.data_timeout_ms, 300_000);
        assert_eq!(s.max_connections, 100);
        assert_eq!(s.max_connections_per_ip, 10);
        assert_eq!(s.first_command_timeout_ms, 10_000);
        assert_eq!(s.max_text_bytes, 16_384);
        assert_eq!(s.relay.port, 25);
        assert_eq!(s.relay.tls, TlsMode::None);
    }

    #[test]
    fn settings_from_toml_and_unknown_fields_rejected() {
        let s: EmailSettings = toml::from_str(
            r#"
            enabled = true
            accept_domains = ["example.jp"]
            [relay]
            host = "smtp.example.jp"
            port = 587
            tls = "start_tls"
            from_name = "サポート"
            "#,
        )
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.accept_domains, vec!["example.jp".to_owned()]);
        assert_eq!(s.relay.tls, TlsMode::StartTls);
        assert_eq!(s.relay.from_name.as_deref(), Some("サポート"));
        assert_eq!(s.max_recipients, 20);
        let t: RelaySettings = toml::from_str(r#"tls = "starttls""#).unwrap();
        assert_eq!(t.tls, TlsMode::StartTls);
        assert!(toml::from_str::<EmailSettings>("max_recipient = 3").is_err());
        assert!(toml::from_str::<RelaySettings>(r#"tls = "ssl""#).is_err());
    }
}
