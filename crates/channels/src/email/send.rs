//! Outbound replies: an agent's answer as a threaded UTF-8 email, sent through the
//! relay in [`RelaySettings`] with `lettre` (rustls for TLS; no OpenSSL).
//!
//! Threading (RFC 5322 3.6.4): our Message-ID is [`message_id_for`] the conversation and
//! the event, `c.{conversation}.{event}@{hostname}`; In-Reply-To names the customer's
//! message we answer and References carries the thread. When the customer answers us,
//! [`conversation_from_message_id`] reads the conversation back out of their
//! In-Reply-To / References, with no lookup table. Conversation ids are random UUIDs;
//! the engine must still check that the sender is the conversation's customer.
//!
//! This file owns message building and failure classification only: retries, and when
//! to send at all (never to `auto_submitted` mail), are the engine's decisions.

use super::{RelaySettings, TlsMode};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// One reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEmail {
    /// The customer's address.
    pub to: String,
    /// The customer's display name, if known.
    pub to_name: Option<String>,
    /// Usually [`reply_subject`] of the customer's subject.
    pub subject: String,
    /// The agent's text, sent as UTF-8 text/plain.
    pub text: String,
    /// Our Message-ID without `<>`, from [`message_id_for`].
    pub message_id: String,
    /// The customer message answered, without `<>`.
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first, without `<>` (the customer's References plus
    /// their Message-ID).
    pub references: Vec<String>,
    /// Files sent as attachment parts after the text.
    pub files: Vec<OutboundFile>,
}

/// One attachment part of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a reply was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: connection refused or lost, timeout, TLS failure, a 4xx
    /// reply.
    #[error("temporary send failure: {0}")]
    Temporary(String),
    /// Retrying will not help: a 5xx reply, or an address or message we cannot build.
    #[error("permanent send failure: {0}")]
    Permanent(String),
}

impl SendError {
    /// Whether a retry may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, SendError::Temporary(_))
    }
}

/// Sends `email` through the relay. Returns once the relay accepted it (`250`).
pub async fn send(relay: &RelaySettings, email: &OutboundEmail) -> Result<(), SendError> {
    let message = build(relay, email)?;
    let transport = transport(relay)?;
    match transport.send(message).await {
        Ok(_) => {
            tracing::info!(message_id = %email.message_id, relay = %relay.host, "email reply sent");
            Ok(())
        }
        Err(e) => {
            let error = classify(&e);
            // The relay's reply text may quote the customer's address: escaped.
            tracing::warn!(message_id = %email.message_id, relay = %relay.host, error = %crate::redact::Escaped::new(&error.to_string()), "email reply not sent");
            Err(error)
        }
    }
}

/// The RFC 5322 message: From (relay), To, Subject, Message-ID, In-Reply-To,
/// References, Date, and a UTF-8 text/plain body.
fn build(relay: &RelaySettings, email: &OutboundEmail) -> Result<Message, SendError> {
    let mailbox = |name: &Option<String>, address: &str, what: &str| {
        address
            .trim()
            .parse()
            .map(|address| Mailbox::new(name.clone(), address))
            .map_err(|e| SendError::Permanent(format!("{what} address {address:?}: {e}")))
    };
    let from = mailbox(&relay.from_name, &relay.from_address, "from")?;
    let to = mailbox(&email.to_name, &email.to, "to")?;
    let bracket = |id: &str| {
        format!(
            "<{}>",
            id.trim().trim_start_matches('<').trim_end_matches('>')
        )
    };

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.as_str())
        .message_id(Some(bracket(&email.message_id)));
    if let Some(parent) = &email.in_reply_to {
        builder = builder.in_reply_to(bracket(parent));
    }
    if !email.references.is_empty() {
        let thread: Vec<String> = email.references.iter().map(|r| bracket(r)).collect();
        builder = builder.references(thread.join(" "));
    }
    let built = if email.files.is_empty() {
        builder.singlepart(SinglePart::plain(email.text.clone()))
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone()));
        for f in &email.files {
            let ct = ContentType::parse(&f.content_type).map_err(|e| {
                SendError::Permanent(format!("file type {:?}: {e}", f.content_type))
            })?;
            parts = parts.singlepart(Attachment::new(f.name.clone()).body(f.bytes.clone(), ct));
        }
        builder.multipart(parts)
    };
    built.map_err(|e| SendError::Permanent(format!("cannot build message: {e}")))
}

fn transport(relay: &RelaySettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls_error = |e: lettre::transport::smtp::Error| {
        SendError::Temporary(format!("tls setup for {}: {e}", relay.host))
    };
    let builder = match relay.tls {
        TlsMode::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.as_str())
        }
        TlsMode::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&relay.host).map_err(tls_error)?
        }
        TlsMode::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&relay.host).map_err(tls_error)?
        }
    };
    let mut builder = builder
        .port(relay.port)
        .timeout(Some(Duration::from_millis(relay.timeout_ms)));
    if let (Some(user), Some(password)) = (&relay.username, &relay.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Only a 5xx reply is permanent (our own message's errors are caught in `build`,
/// before connecting). Everything else may pass: a 4xx, a lost connection, a timeout,
/// and relay configuration problems such as a failed TLS handshake or a relay without
/// STARTTLS, which an operator fixes while the engine retries.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Temporary(e.to_string())
    }
}

/// The subject of a reply: `Re: ` before `subject`, unless it already starts with
/// `Re:` in any case (or with a full-width colon `Re：`). An absent or blank subject
/// gives `Re:`.
pub fn reply_subject(subject: Option<&str>) -> String {
    let subject = subject.unwrap_or("").trim();
    if subject.is_empty() {
        return "Re:".to_owned();
    }
    let already = subject
        .get(..2)
        .is_some_and(|re| re.eq_ignore_ascii_case("re"))
        && (subject[2..].starts_with(':') || subject[2..].starts_with('：'));
    if already {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// Our Message-ID (without `<>`) for event `event_id` of conversation
/// `conversation_id`: `c.{conversation}.{event}@{hostname}`. Ids must not contain `.`
/// or `@` (UUIDs do not).
pub fn message_id_for(conversation_id: &str, event_id: &str, hostname: &str) -> String {
    format!("c.{conversation_id}.{event_id}@{hostname}")
}

/// The conversation id inside one of our Message-IDs (with or without `<>`), or `None`
/// if `mid` is not ours (another domain, another shape).
pub fn conversation_from_message_id(mid: &str, hostname: &str) -> Option<String> {
    let mid = mid.trim();
    let mid = mid
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(mid);
    let (local, domain) = mid.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(hostname) {
        return None;
    }
    let (conversation, event) = local.strip_prefix("c.")?.split_once('.')?;
    let is_id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    (is_id(conversation) && is_id(event)).then(|| conversation.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::smtp::{Reject, SmtpServer};
    use crate::email::EmailSettings;

    #[test]
    fn reply_subjects() {
        assert_eq!(reply_subject(Some("注文について")), "Re: 注文について");
        assert_eq!(reply_subject(Some("Re: order")), "Re: order");
        assert_eq!(reply_subject(Some("RE: order")), "RE: order");
        assert_eq!(reply_subject(Some("re:order")), "re:order");
        assert_eq!(reply_subject(Some("Re：注文")), "Re：注文");
        assert_eq!(reply_subject(Some("Regarding")), "Re: Regarding");
        assert_eq!(reply_subject(Some("  hi  ")), "Re: hi");
        assert_eq!(reply_subject(Some("")), "Re:");
        assert_eq!(reply_subject(None), "Re:");
        assert_eq!(reply_subject(Some("ä")), "Re: ä");
    }

    #[test]
    fn message_ids_round_trip() {
        let conversation = "8f2d7c1e-5b3a-4c9d-9e2f-0a1b2c3d4e5f";
        let event = "01890a5d-ac96-774b-bcce-b302099a8057";
        let mid = message_id_for(conversation, event, "switchboard.local");
        assert_eq!(
            mid,
            "c.8f2d7c1e-5b3a-4c9d-9e2f-0a1b2c3d4e5f.01890a5d-ac96-774b-bcce-b302099a8057@switchboard.local"
        );
        let back = |m: &str| conversation_from_message_id(m, "switchboard.local");
        assert_eq!(back(&mid).as_deref(), Some(conversation));
        assert_eq!(back(&format!("<{mid}>")).as_deref(), Some(conversation));
        assert_eq!(
            back(&mid.replace("switchboard.local", "SWITCHBOARD.local")).as_deref(),
            Some(conversation)
        );
        assert_eq!(
            back(&mid.replace("switchboard.local", "evil.example")),
            None
        );
        assert_eq!(back("CAF=abc@mail.gmail.com"), None);
        assert_eq!(back("c..x@switchboard.local"), None);
        assert_eq!(back("c.abc@switchboard.local"), None);
        assert_eq!(back("c.a b.e@switchboard.local"), None);
        assert_eq!(back("x.abc.def@switchboard.local"), None);
        assert_eq!(back(""), None);
    }

    fn relay_to(port: u16) -> RelaySettings {
        RelaySettings {
            host: "127.0.0.1".to_owned(),
            port,
            from_address: "support@switchboard.local".to_owned(),
            from_name: Some("サポート窓口".to_owned()),
            timeout_ms: 10_000,
            ..RelaySettings::default()
        }
    }

    fn reply() -> OutboundEmail {
        OutboundEmail {
            to: "taro.yamada@example.jp".to_owned(),
            to_name: Some("山田太郎".to_owned()),
            subject: reply_subject(Some("注文について")),
            text: "山田様\n\nお問い合わせありがとうございます。\n本日発送いたしました。".to_owned(),
            message_id: message_id_for("conv-1", "evt-2", "switchboard.local"),
            in_reply_to: Some("jp-1@example.jp".to_owned()),
            references: vec!["first@example.jp".to_owned(), "jp-1@example.jp".to_owned()],
            files: vec![OutboundFile {
                name: "領収書.pdf".to_owned(),
                content_type: "application/pdf".to_owned(),
                bytes: b"%PDF-1.4 receipt".to_vec(),
            }],
        }
    }

    fn receiving_settings() -> EmailSettings {
        EmailSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            accept_domains: vec!["example.jp".to_owned()],
            ..EmailSettings::default()
        }
    }

    #[tokio::test]
    async fn lettre_reply_arrives_threaded_and_in_japanese() {
        let (handler, mut rx) = switchboard_smtp::fixtures::Recorder::new();
        let server = SmtpServer::bind(receiving_settings(), handler)
            .await
            .unwrap();
        let email = reply();
        tokio::time::timeout(
            Duration::from_secs(20),
            send(&relay_to(server.local_addr.port()), &email),
        )
        .await
        .unwrap()
        .unwrap();
        let (envelope, got, _) = rx.recv().await.unwrap();
        assert_eq!(envelope.mail_from, "support@switchboard.local");
        assert_eq!(envelope.rcpt_to, vec!["taro.yamada@example.jp".to_owned()]);
        assert_eq!(
            got.message_id.as_deref(),
            Some("c.conv-1.evt-2@switchboard.local")
        );
        assert_eq!(got.in_reply_to, vec!["jp-1@example.jp".to_owned()]);
        assert_eq!(
            got.references,
            vec!["first@example.jp".to_owned(), "jp-1@example.jp".to_owned()]
        );
        assert_eq!(got.subject.as_deref(), Some("Re: 注文について"));
        assert_eq!(got.text, email.text);
        // The file travels as an attachment part after the text.
        assert_eq!(got.attachments.len(), 1);
        assert_eq!(got.attachments[0].name.as_deref(), Some("領収書.pdf"));
        assert_eq!(got.attachments[0].content_type, "application/pdf");
        assert_eq!(got.attachments[0].bytes, b"%PDF-1.4 receipt");
        assert_eq!(got.from_address, "support@switchboard.local");
        assert_eq!(got.from_name.as_deref(), Some("サポート窓口"));
        assert_eq!(got.to, vec!["taro.yamada@example.jp".to_owned()]);
        assert!(got.date.is_some());
        assert_eq!(
            conversation_from_message_id(got.message_id.as_deref().unwrap(), "switchboard.local")
                .as_deref(),
            Some("conv-1")
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let (handler, _rx) = switchboard_smtp::fixtures::Recorder::new();
        let server = SmtpServer::bind(receiving_settings(), handler.clone())
            .await
            .unwrap();
        let relay = relay_to(server.local_addr.port());
        let deadline = Duration::from_secs(20);

        handler.answer(Err(Reject::Temporary("store unavailable".to_owned())));
        let e = tokio::time::timeout(deadline, send(&relay, &reply()))
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.is_temporary(), "{e}");
        assert!(e.to_string().contains("store unavailable"), "{e}");

        handler.answer(Err(Reject::Permanent("no such customer".to_owned())));
        let e = tokio::time::timeout(deadline, send(&relay, &reply()))
            .await
            .unwrap()
            .unwrap_err();
        assert!(!e.is_temporary(), "{e}");

        // A recipient domain the server refuses (550 at RCPT).
        handler.answer(Ok(()));
        let elsewhere = OutboundEmail {
            to: "someone@elsewhere.example".to_owned(),
            ..reply()
        };
        let e = tokio::time::timeout(deadline, send(&relay, &elsewhere))
            .await
            .unwrap()
            .unwrap_err();
        assert!(!e.is_temporary(), "{e}");

        let bad = OutboundEmail {
            to: "not an address".to_owned(),
            ..reply()
        };
        assert!(matches!(
            send(&relay, &bad).await,
            Err(SendError::Permanent(_))
        ));

        // Relay TLS misconfigured: our test server offers no STARTTLS and speaks no
        // TLS; both are temporary (an operator fixes the relay settings).
        let starttls = RelaySettings {
            tls: TlsMode::StartTls,
            ..relay.clone()
        };
        let e = tokio::time::timeout(deadline, send(&starttls, &reply()))
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.is_temporary(), "{e}");
        assert!(e.to_string().contains("STARTTLS"), "{e}");
        let tls = RelaySettings {
            tls: TlsMode::Tls,
            ..relay.clone()
        };
        let e = tokio::time::timeout(deadline, send(&tls, &reply()))
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.is_temporary(), "{e}");

        // Nobody listening: temporary.
        let port = server.local_addr.port();
        server.shutdown().await;
        let e = tokio::time::timeout(deadline, send(&relay_to(port), &reply()))
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.is_temporary(), "{e}");
    }
}
