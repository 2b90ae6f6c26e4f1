//! The email channel: customers write to a support address, agents answer by email.
//!
//! # The email path
//!
//! ```text
//!  sending MTA ──SMTP──► smtp::SmtpServer ──DATA──► mime::parse_message ──► MailHandler::deliver
//!                        (envelope, limits)         (ParsedEmail)            (the engine: resolve
//!                                                                             customer, commit)
//!                        250 "queued as <id>" ◄──────────── Ok(()) ◄────────────────┘
//!
//!  agent reply ──► send::send(relay, OutboundEmail) ──lettre/SMTP──► relay MTA ──► customer
//!                  Message-ID c.{conversation}.{event}@{hostname}, In-Reply-To, References
//! ```
//!
//! - **Inbound** ([`smtp`]): a small RFC 5321 server on tokio. It enforces every limit in
//!   [`EmailSettings`] (size while reading DATA, recipients, accepted domains, line
//!   length, timeouts, concurrent sessions in all and per client address), parses the message with [`mime`] and hands
//!   the result to a [`smtp::MailHandler`]. A message is accepted (`250`) only after the
//!   handler returned `Ok`, so the engine makes it durable inside `deliver` and
//!   *acknowledged means durable* holds for email too. A malformed message gets `554`
//!   and the handler is never called.
//! - **Parsing** ([`mime`]): `mail-parser` decodes charsets (ISO-2022-JP, Shift_JIS...),
//!   transfer encodings and RFC 2047 words; we keep the text (plain, else HTML turned
//!   into text), quoted history stripped, capped at `max_text_bytes`; attachment
//!   metadata; threading ids; and whether the message is automatic (never reply to it).
//! - **Outbound** ([`send`]): replies through a relay with `lettre` (rustls, no OpenSSL).
//!   Our Message-ID encodes the conversation id, so a customer's reply (In-Reply-To /
//!   References) finds its conversation with
//!   [`send::conversation_from_message_id`], without any lookup table.
//!
//! # What this module deliberately does not do
//!
//! - **No STARTTLS or AUTH inbound.** Terminate TLS in front: put the MX (Postfix,
//!   a cloud inbound-mail service) or a TLS proxy before `listen`, and have it relay to
//!   us on a private address. `listen` defaults to loopback for that reason.
//! - **No sender authentication.** `From` is what the sender claims; SPF/DKIM/DMARC
//!   belong to the MTA in front. Before appending a reply to the conversation named by
//!   its In-Reply-To, the engine should check that the sender is that conversation's
//!   customer (a forwarded message carries the same ids).
//! - **No dependency on the engine's actors.** The engine calls in through
//!   [`smtp::SmtpServer::bind`] with its own [`smtp::MailHandler`], and out through
//!   [`send::send`].

pub mod intake;
pub mod send;
/// The SMTP server and MIME parsing are the `switchboard-smtp` crate.
pub use switchboard_smtp::{mime, server as smtp};

pub use mime::{parse_message, strip_quoted, AttachmentInfo, EmailError, ParsedEmail};
pub use send::{OutboundEmail, SendError};
pub use smtp::{Envelope, MailHandler, Refusal, Reject, SmtpHandle, SmtpServer};
pub use switchboard_smtp::{EmailSettings, RelaySettings, TlsMode};

use super::connector::{Connector, SendContext, Sender};
use super::ChannelSettings;
use crate::connector::SendResult;
use crate::domain::Channel;
use futures_util::future::BoxFuture;
use switchboard_engine::outbound::Delivery;

/// The email connector: mail comes in over the engine's own SMTP server ([`smtp`],
/// started with the application, no webhook routes); replies go out through the
/// configured relay ([`intake::send_reply`]).
pub struct Email;

impl Connector for Email {
    fn provider(&self) -> &'static str {
        "email"
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.email.enabled
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for Email {
    fn channel(&self) -> Channel {
        Channel::Email
    }
    /// Files go as attachment parts after the text.
    fn carries_files(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        Box::pin(intake::send_reply(cx.gateway, d))
    }
}
