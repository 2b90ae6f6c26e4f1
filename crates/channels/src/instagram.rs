//! Instagram messaging, through the Messenger Platform.
//!
//! - Subscription: `GET /webhooks/instagram` answers Meta's handshake with
//!   `channels.instagram.verify_token`.
//! - Inbound: `POST /webhooks/instagram`, JSON `{"object": "instagram", "entry":
//!   [{"messaging": [...]}]}` signed like Messenger (`X-Hub-Signature-256` with the
//!   app secret). Direct messages, media (as attachments with their CDN URL), quick
//!   replies and postbacks (the button's title is the customer's words), story replies
//!   (the story as a `story_reply` attachment) and story mentions (`story_mention`
//!   attachments). The sender is the Instagram-scoped id (IGSID), one identity on the
//!   `instagram` channel. Echoes, unsent (`is_deleted`) and unsupported messages,
//!   reads and reactions are skipped with a log line. The `mid` de-duplicates
//!   redeliveries. The wire format and its parsing are Messenger's (`messenger`).
//! - Outbound: the Send API, `POST {api_base}/{version}/me/messages` with the token of
//!   the Facebook page linked to the Instagram account, as for Messenger; the same
//!   24-hour window, with the `HUMAN_AGENT` tag up to 7 days when
//!   `channels.instagram.human_agent_tag` is on.

use super::connector::{serve, Connector, SendContext, Sender, Webhook};
use super::messenger::{self, Product};
use super::webhook::{HubChallenge, WebhookError};
use super::ChannelSettings;
use crate::domain::{Channel, ReplyWindow};
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use switchboard_engine::outbound::Delivery;

const INSTAGRAM: Product = Product {
    provider: "instagram",
    channel: Channel::Instagram,
    object: "instagram",
    settings: |s| &s.instagram,
};

/// The Instagram messaging connector.
pub struct Instagram;

impl Connector for Instagram {
    fn provider(&self) -> &'static str {
        INSTAGRAM.provider
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.instagram.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/instagram", web::get().to(verify))
            .route("/instagram", web::post().to(webhook));
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for Instagram {
    fn channel(&self) -> Channel {
        Channel::Instagram
    }
    fn window(&self, s: &ChannelSettings) -> Option<ReplyWindow> {
        Some(messenger::window(&s.instagram))
    }
    fn send<'a>(
        &'a self,
        cx: SendContext<'a>,
        d: &'a Delivery,
    ) -> BoxFuture<'a, crate::connector::SendResult> {
        let ch = cx.gateway.channels();
        Box::pin(async move { messenger::send(cx, &ch.instagram, d).await })
    }
    fn carries_files(&self) -> bool {
        true
    }
}

impl Webhook for Instagram {
    /// The body itself: the signature covers all of it.
    type Verified = ();
    const CONTENT_TYPE: &'static str = "application/json";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        messenger::verify_signature(&gateway.channels().instagram, req, body)
    }
}

/// `GET /webhooks/instagram`: the subscription handshake.
pub async fn verify(
    state: web::Data<Gateway>,
    q: web::Query<HubChallenge>,
) -> Result<HttpResponse, WebhookError> {
    messenger::handshake(&INSTAGRAM, &state, &q)
}

/// `POST /webhooks/instagram`.
pub async fn webhook(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&Instagram, &state, &req, &body, |()| {
        messenger::handle(&INSTAGRAM, &state, &body)
    })
    .await
}
