//! The connectors' handle: the engine plus the settings only the doors to providers
//! read — every connector's section of `[channels]`, the IVR tree the voice webhook
//! speaks, and the webhook replay window. Built by the server at start; the webhook
//! handlers find it as actix-web app data, the dispatcher's workers and the SMTP
//! intake hold a clone. It dereferences to the [`Engine`].

use crate::config::ChannelSettings;
use crate::ivr::{IvrSettings, Tree};
use std::sync::Arc;
use switchboard_engine::Engine;

/// Cheap-to-clone handle for the connectors.
#[derive(Clone)]
pub struct Gateway(Arc<Inner>);

pub struct Inner {
    pub engine: Engine,
    /// Every connector's settings (`[channels]`, or the version saved from the admin
    /// console): read with [`Inner::channels`], replaced whole by
    /// [`Inner::set_channels`].
    channels: std::sync::RwLock<Arc<ChannelSettings>>,
    /// The IVR menus and their limits (`[ivr]`).
    pub ivr: IvrSettings,
    /// A webhook event older than this is refused as a replay (`security.webhook_max_event_age_ms`).
    pub webhook_max_event_age_ms: u64,
    /// The client media is fetched with: redirects are followed by hand, each checked
    /// (`crate::media`).
    pub media_client: reqwest::Client,
    /// The client of provider calls made for a REST request (moderating a post), with
    /// the outbound call timeout.
    pub api_client: reqwest::Client,
    /// The client of provider answers streamed to staff (a call's recording): no total
    /// time limit, but the outbound call timeout to connect and between two reads.
    pub stream_client: reqwest::Client,
    /// Signs the links providers fetch agents' files by (`crate::file_links`).
    pub file_link_key: crate::signature::FileLinkKey,
}

impl Gateway {
    pub fn new(
        engine: Engine,
        channels: ChannelSettings,
        ivr: IvrSettings,
        webhook_max_event_age_ms: u64,
        file_link_key: crate::signature::FileLinkKey,
    ) -> Self {
        let media_client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_millis(channels.media.timeout_ms))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let api_client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(
                channels.outbound_timeout_ms,
            ))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let wait = std::time::Duration::from_millis(channels.outbound_timeout_ms);
        let stream_client = reqwest::Client::builder()
            .connect_timeout(wait)
            .read_timeout(wait)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Gateway(Arc::new(Inner {
            engine,
            channels: std::sync::RwLock::new(Arc::new(channels)),
            ivr,
            webhook_max_event_age_ms,
            media_client,
            api_client,
            stream_client,
            file_link_key,
        }))
    }

    /// The IVR tree in force: the newest saved version, else the configuration
    /// file's (`[ivr]` menus, else the flat `channels.voice.menu`), else none.
    pub fn ivr_tree(&self) -> Option<Tree> {
        self.engine.ivr().map(|a| a.tree.clone())
    }
}

impl std::ops::Deref for Gateway {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A [`Gateway`] that may have stopped ([`Gateway::downgrade`]): what the engine's
/// hooks hold, so the engine and its gateway do not keep each other alive.
#[derive(Clone)]
pub struct WeakGateway(std::sync::Weak<Inner>);

impl WeakGateway {
    pub fn upgrade(&self) -> Option<Gateway> {
        self.0.upgrade().map(Gateway)
    }
}

impl Gateway {
    pub fn downgrade(&self) -> WeakGateway {
        WeakGateway(Arc::downgrade(&self.0))
    }
}

impl Inner {
    /// Every connector's settings in force.
    pub fn channels(&self) -> Arc<ChannelSettings> {
        self.channels.read().expect("channel settings").clone()
    }

    /// Puts `settings` in force for every request and send from now on.
    pub fn set_channels(&self, settings: ChannelSettings) {
        *self.channels.write().expect("channel settings") = Arc::new(settings);
    }
}

impl std::ops::Deref for Inner {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}
