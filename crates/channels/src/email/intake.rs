//! The engine's side of the email channel: [`Intake`] is the [`MailHandler`] the SMTP
//! server calls for each accepted message (resolve the sender, store durably, then
//! `250`), and [`send_reply`] turns an agent's reply into a threaded email.
//!
//! - The sender is the customer `email:{From}`. The display name from `From:` is kept
//!   as the customer's name if they have none (shown, never used to match people).
//! - The Message-ID de-duplicates a redelivery. A reply that names one of our
//!   Message-IDs (In-Reply-To / References) carries its conversation id, which reopens
//!   that conversation even outside the reopen window — but only if it is the sender's
//!   own (the customer actor only reopens its own last conversation).
//! - Automatic mail (auto-replies, bounces, lists) is accepted and dropped with a log
//!   line: answering it would start mail loops.

use super::send::{self, OutboundEmail, SendError};
use super::{Envelope, MailHandler, ParsedEmail, Refusal, Reject};
use crate::connector::{SendFailure, SendResult};
use crate::domain::ErrorCode;
use crate::domain::{Channel, ConversationId};
use crate::Gateway;
use crate::{ingest, InboundMessage, IncomingFile};
use async_trait::async_trait;
use switchboard_engine::outbound::Delivery;

/// Delivers inbound email into the engine.
pub struct Intake {
    pub gateway: Gateway,
}

#[async_trait]
impl MailHandler for Intake {
    async fn deliver(
        &self,
        _envelope: Envelope,
        message: ParsedEmail,
        _raw_size: usize,
    ) -> Result<(), Reject> {
        if message.auto_submitted {
            tracing::info!("automatic email dropped (auto-reply, bounce or list)");
            crate::metrics::webhook("email", "skipped");
            return Ok(());
        }
        let hostname = &self.gateway.channels().email.hostname;
        let thread = message
            .in_reply_to
            .iter()
            .chain(message.references.iter().rev())
            .find_map(|mid| send::conversation_from_message_id(mid, hostname))
            .and_then(|c| ConversationId::parse(&c).ok());
        let mut m = InboundMessage::new(Channel::Email, &message.from_address, &message.text);
        m.display_name = message.from_name.clone();
        m.subject = message.subject.clone();
        m.provider_msg_id = message.message_id.clone();
        m.thread = thread;
        m.queue = self.gateway.channels().email_queue.clone();
        // Stored for the customer under the file policy (or described, if refused).
        m.files = message
            .attachments
            .into_iter()
            .map(|a| IncomingFile {
                name: a.name,
                content_type: a.content_type,
                bytes: a.bytes,
            })
            .collect();
        match ingest(&self.gateway, m).await {
            Ok(_) => {
                crate::metrics::webhook("email", "accepted");
                Ok(())
            }
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::Unavailable | ErrorCode::QueueFull | ErrorCode::Internal
                ) =>
            {
                crate::metrics::webhook("email", "error");
                Err(Reject::Temporary(e.message))
            }
            Err(e) => {
                crate::metrics::webhook("email", "invalid");
                Err(Reject::Permanent(e.message))
            }
        }
    }

    fn refused(&self, reason: Refusal) {
        crate::metrics::smtp_refused(reason.as_str());
    }
}

/// Sends an agent's reply: threaded under the customer's messages, with a Message-ID
/// that names the conversation.
pub async fn send_reply(gateway: &Gateway, d: &Delivery) -> SendResult {
    let cfg = &gateway.channels().email;
    let message_id = send::message_id_for(
        &d.conversation_id.to_string(),
        &d.event_id.to_string(),
        &cfg.hostname,
    );
    let mut files = Vec::with_capacity(d.attachments.len());
    for a in &d.attachments {
        let Some(id) = &a.file else { continue };
        // A file erased since the reply was written is not sent; the reply fails.
        let (meta, bytes) = match gateway.blobs.read(d.customer_id, id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(SendFailure::permanent(format!("file {id} is gone"))),
            Err(e) => return Err(SendFailure::temporary(e.to_string())),
        };
        files.push(send::OutboundFile {
            name: meta.name.unwrap_or_else(|| "file".into()),
            content_type: meta.content_type,
            bytes,
        });
    }
    let email = OutboundEmail {
        to: d.to.clone(),
        to_name: None,
        subject: send::reply_subject(d.subject.as_deref()),
        text: d.text.clone(),
        message_id: message_id.clone(),
        in_reply_to: d.references.last().cloned(),
        references: d.references.clone(),
        files,
    };
    match send::send(&cfg.relay, &email).await {
        Ok(()) => Ok(Some(message_id).into()),
        Err(SendError::Temporary(e)) => Err(SendFailure::temporary(e)),
        Err(SendError::Permanent(e)) => Err(SendFailure::permanent(e)),
    }
}
