//! The server's handle: the engine plus what only the doors use — the full settings
//! (every connector's), password hashing, the security guards, the CRM client and the
//! knowledge base. REST handlers, websocket sessions and connectors take a [`Server`];
//! it dereferences to the [`Engine`], so `server.store`, `server.customer(id)` and the
//! rest of the engine read as before, while `server.settings` is the whole
//! configuration (the engine's own view is `server.engine.settings`).

use crate::actors::Engine;
use crate::auth::Passwords;
use crate::config::Settings;
use crate::crm::Crm;
use crate::kb::KnowledgeBase;
use crate::security::Guards;
use std::sync::Arc;

/// Cheap-to-clone handle to the engine and the server's own services.
#[derive(Clone)]
pub struct Server(Arc<Inner>);

pub struct Inner {
    pub engine: Engine,
    pub settings: Arc<Settings>,
    pub passwords: Passwords,
    /// Token revocation, login throttling (see `crate::security`).
    pub security: Guards,
    /// CRM lookups and their cache (`crate::crm`).
    pub crm: Crm,
    kb: Arc<KnowledgeBase>,
    /// The cluster leases and this node's place in them; set once at start-up
    /// (absent in tests that build a server by hand).
    cluster: std::sync::OnceLock<ClusterInfo>,
    /// Conversation search; set once at start-up when `search.enabled`.
    search: std::sync::OnceLock<Arc<crate::search::feed::Feed>>,
    /// The outbound event stream; set once at start-up.
    stream: std::sync::OnceLock<crate::channels::stream::deliver::Stream>,
    /// The identity provider of staff single sign-on, when `oidc.enabled`.
    pub oidc: Option<Arc<crate::oidc::provider::Provider>>,
}

/// What the cluster view needs: the lease rows, this node, and the clock-skew bound
/// by which it judges other members live.
#[derive(Clone)]
pub struct ClusterInfo {
    pub coord: Arc<dyn crate::store::coordination::Coordination>,
    pub node: cluster::NodeId,
    pub address: String,
    pub skew_ms: u64,
    /// Raised while this node's lease has lapsed and is not confirmed again (or it
    /// stands aside).
    pub suspended: Arc<std::sync::atomic::AtomicBool>,
    /// Raised while this node stands aside: cut off from a majority of the members.
    pub aside: Arc<std::sync::atomic::AtomicBool>,
    /// Node-to-node messages (with `cluster.secret`): the view pings the members.
    pub peers: Option<Arc<crate::peers::Peers>>,
    /// How long the view waits for each member's ping.
    pub ping_timeout: std::time::Duration,
    /// Spread placement's shard count (`None`: one active engine and standbys).
    pub shards: Option<u32>,
}

impl ClusterInfo {
    /// Whether this node stopped serving until its lease is confirmed again.
    pub fn suspended(&self) -> bool {
        self.suspended.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether this node stands aside (spread placement, `switchboard_engine::quorum`).
    pub fn aside(&self) -> bool {
        self.aside.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Server {
    /// The server around `engine`: plugs the knowledge base and the CRM prefetch into
    /// the engine's ports.
    pub fn new(engine: Engine, settings: Arc<Settings>, kb: Arc<KnowledgeBase>) -> Self {
        let crm = Crm::new(&settings.crm, engine.clock.clone());
        engine.set_answers(kb.clone());
        engine.set_prefetch(crm.clone());
        Server(Arc::new(Inner {
            passwords: Passwords::new(settings.limits.password_hash_concurrency),
            security: Guards::new(&settings.security),
            crm,
            kb,
            engine,
            cluster: std::sync::OnceLock::new(),
            search: std::sync::OnceLock::new(),
            stream: std::sync::OnceLock::new(),
            oidc: settings
                .oidc
                .enabled
                .then(|| Arc::new(crate::oidc::provider::Provider::new(settings.oidc.clone()))),
            settings,
        }))
    }

    /// Sets the cluster view's sources (once, at start-up).
    pub fn set_cluster(&self, info: ClusterInfo) {
        let _ = self.0.cluster.set(info);
    }

    /// The cluster view's sources, once set.
    pub fn cluster(&self) -> Option<&ClusterInfo> {
        self.0.cluster.get()
    }

    /// Sets conversation search (once, at start-up).
    pub fn set_search(&self, feed: Arc<crate::search::feed::Feed>) {
        let _ = self.0.search.set(feed);
    }

    /// Conversation search, when enabled.
    pub fn search(&self) -> Option<&Arc<crate::search::feed::Feed>> {
        self.0.search.get()
    }

    /// Sets the outbound event stream (once, at start-up).
    pub fn set_stream(&self, stream: crate::channels::stream::deliver::Stream) {
        let _ = self.0.stream.set(stream);
    }

    /// The outbound event stream, once started.
    pub fn stream(&self) -> Option<&crate::channels::stream::deliver::Stream> {
        self.0.stream.get()
    }

    /// The knowledge base's index.
    pub fn kb(&self) -> &Arc<KnowledgeBase> {
        &self.0.kb
    }

    /// How many handles to this server exist (shutdown waits until it holds the last).
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl std::ops::Deref for Server {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::Deref for Inner {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}
