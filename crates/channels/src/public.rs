//! What the public channels (`facebook_comments`, `x_mentions`) share: their posts
//! arrive inside a private connector's webhook body (Messenger's, X's), so each takes
//! them the same way — nothing while it is off (the posts are logged and dropped, and
//! the provider is answered 200), the fresh ones only (the replay window), each made a
//! message that waits in `channels.public.queue` with its pictures fetched (public
//! posts' pictures are public: no credentials) and ingested.

use crate::webhook::{self, WebhookError};
use crate::{media, Gateway, InboundMessage};

/// One public channel's intake of the posts `parsed` from a verified body.
pub(crate) struct Intake<'a, P> {
    pub provider: &'static str,
    /// The connector is on (`channels.public.*`).
    pub enabled: bool,
    /// The setting that turns it on, named in the log line while it is off.
    pub setting: &'static str,
    /// The connector's API base (its host may serve the pictures).
    pub api_base: &'a str,
    /// When a post was written, Unix ms (for the replay window).
    pub at: fn(&P) -> Option<i64>,
    /// The customer message a post is, if it is one to take.
    pub message: fn(P) -> Option<InboundMessage>,
}

impl<P> Intake<'_, P> {
    /// Takes `parsed` (see the module doc).
    pub(crate) async fn take(
        &self,
        state: &Gateway,
        parsed: Vec<Result<P, serde_json::Error>>,
    ) -> Result<(), WebhookError> {
        if parsed.is_empty() {
            return Ok(());
        }
        if !self.enabled {
            tracing::info!(
                provider = self.provider,
                posts = parsed.len(),
                "public posts skipped: {} is off",
                self.setting
            );
            return Ok(());
        }
        for post in webhook::fresh_events(state, self.provider, parsed, self.at) {
            let Some(mut m) = (self.message)(post) else {
                continue;
            };
            m.queue = state.channels().public.queue.clone();
            let none = media::Auth::None;
            media::fetch_urls(state, self.provider, &mut m, none, self.api_base).await;
            webhook::ingest_or_skip(state, self.provider, m).await?;
        }
        Ok(())
    }
}
