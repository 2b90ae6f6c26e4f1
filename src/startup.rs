//! Application assembly: open the store, restore state, start queue actors, recover
//! open conversations, and serve HTTP. `Application::build(settings)` -> `port()` ->
//! `run_until_stopped()`. Must run inside an actix `System`.
//!
//! Recovery after a restart (even `kill -9`): every open conversation is reloaded;
//! waiting ones are re-queued in their original order with their original enqueue
//! time; assigned ones go back to their agent, whose actor starts in its grace period
//! so that a reconnecting agent resumes them and an absent one gives them back.

use crate::actors::messages::Enqueue;
use crate::actors::Engine;
use crate::api::{self, AppState};
use crate::auth::TokenSigner;
use crate::config::{Settings, StoreBackend};
use crate::domain::time::SharedClock;
use crate::domain::{
    AgentId, AgentProfile, Capacity, Channel, ConversationState, QueueConfig, QueueName, Role,
    SystemClock,
};
use crate::store::coordination::{Coordination, LocalCoordination};
use crate::store::embedded::{EmbeddedOptions, EmbeddedStore};
use crate::store::scylla::ScyllaStore;
use crate::store::{Batch, SharedStore};

/// The store's lease rows (`crate::active`, docs/cluster.md).
type SharedCoordination = Arc<dyn Coordination>;
use crate::Server as Handle;
use actix_web::{dev::Server, web, App, HttpServer};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    /// The engine and the server's services.
    handle: Handle,
    /// The SMTP listener, when email is enabled (stops when dropped).
    smtp: Option<crate::channels::email::SmtpHandle>,
    /// This node's hold on the keyspace (one active engine per store), or its
    /// membership (spread placement).
    active: Arc<crate::active::Active>,
    /// Where the placed keys' changes go (spread placement: `actors::keys`).
    keys: Option<tokio::sync::mpsc::UnboundedSender<cluster::ownership::Change>>,
    /// How long a graceful shutdown may take (`timing.shutdown_deadline_ms`).
    shutdown_deadline: std::time::Duration,
}

/// Starts a graceful shutdown from outside (the SIGTERM handler uses the same): sockets
/// are told to reconnect, the listener stops accepting, in-flight requests finish.
#[derive(Clone)]
pub struct ShutdownHandle {
    /// The engine's drain signal (not the engine: a handle must not keep it alive).
    drain: Arc<tokio::sync::watch::Sender<bool>>,
    server: actix_web::dev::ServerHandle,
    /// This node's membership: in spread placement its keys are handed over while the
    /// server stops ([`crate::active::Active::hand_over`]).
    active: Arc<crate::active::Active>,
}

impl ShutdownHandle {
    /// Begins the drain and stops the HTTP server gracefully; returns once the server
    /// has stopped (in-flight requests done, or the deadline passed). In spread
    /// placement the node's keys are handed over meanwhile, not after.
    pub async fn drain(&self) {
        tracing::info!("shutdown: draining (sockets told to reconnect, listener closed)");
        self.drain.send_replace(true);
        futures_util::join!(self.active.hand_over(), self.server.stop(true));
    }
}

impl Application {
    /// Builds the engine on the configured store: the embedded store in
    /// `settings.data_dir` (default), or ScyllaDB (`store.backend = "scylla"`).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with a clock of the caller's (tests move it by hand).
    pub async fn build_with_clock(
        settings: Settings,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        Self::build_with_store(settings, clock, |s| s).await
    }

    /// Test hook for fault injection: opens the configured store, lets `wrap` wrap it
    /// (e.g. in a [`crate::store::faulty::FaultyStore`] the test keeps a handle to), and
    /// builds the engine on the result.
    pub async fn build_with_store(
        settings: Settings,
        clock: SharedClock,
        wrap: impl FnOnce(SharedStore) -> SharedStore,
    ) -> anyhow::Result<Application> {
        // SIGTERM from the first moment: a start still waiting (for the store, or as a
        // standby) stops cleanly.
        let stop = crate::active::stop_signal();
        let thread = loop_thread()?;
        let (store, coordination) = open_store(&settings, &thread, &stop).await?;
        Self::build_on(settings, wrap(store), coordination, thread, stop, clock).await
    }

    /// Builds the engine on any store and clock (tests, other backends), as the one
    /// process using that store (in-memory coordination).
    pub async fn build_with(
        settings: Settings,
        store: SharedStore,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        let local: SharedCoordination = Arc::new(LocalCoordination::default());
        let stop = crate::active::stop_signal();
        Self::build_on(settings, store, local, loop_thread()?, stop, clock).await
    }

    /// Builds the engine on `store`, once this node is the active engine by
    /// `coordination` (a standby waits here; `crate::active`).
    async fn build_on(
        settings: Settings,
        store: SharedStore,
        coordination: SharedCoordination,
        thread: crate::ownership::LoopThread,
        stop: tokio::sync::watch::Receiver<bool>,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        // rustls has two crypto back-ends compiled in (the ScyllaDB driver's aws-lc-rs,
        // the HTTP and SMTP clients' ring): name the process default once, or building
        // any TLS client config panics.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        settings
            .channels
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        settings
            .survey
            .validate()
            .and_then(|()| settings.notify.validate())
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        settings
            .kb
            .validate()
            .and_then(|_| settings.bot.validate())
            .and_then(|_| settings.help.validate())
            .and_then(|_| settings.search.validate())
            .and_then(|_| settings.stream.validate())
            .and_then(|_| settings.oidc.validate())
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;

        settings
            .validate_ivr()
            .and_then(|()| settings.limits.validate())
            .and_then(|()| settings.cluster.validate())
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        // Nothing is read or written as the engine before this node is the active one,
        // and nothing is written once it no longer is (the fence, `crate::active`).
        let coordination_view = coordination.clone();
        // Spread placement: every member serves its share of the shards and singletons
        // (the queues join the placed keys once the engine has read them).
        let placed = match settings.cluster.placement {
            crate::config::Placement::Single => Vec::new(),
            crate::config::Placement::Spread => {
                let shards = cluster::shard::ShardMap::new(settings.cluster.shards)
                    .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
                shards
                    .all()
                    .map(cluster::shard::OwnerKey::Shard)
                    .chain(
                        cluster::shard::Singleton::ALL
                            .into_iter()
                            .map(cluster::shard::OwnerKey::Singleton),
                    )
                    .map(|k| k.as_key())
                    .collect()
            }
        };
        if settings.cluster.placement == crate::config::Placement::Spread {
            record_shard_count(&store, &*coordination, &settings.cluster, &clock).await?;
        }
        let active = crate::active::Active::acquire(
            coordination,
            thread,
            stop,
            &settings.cluster,
            settings.listen,
            clock.clone(),
            placed,
        )
        .await?;
        let store = crate::store::fence::Fenced::wrap(store, active.clone());
        match Self::serve(settings, store, coordination_view, clock, active.clone()).await {
            Ok(app) => Ok(app),
            Err(e) => {
                // A start that fails after taking the lease (a port in use, a bad
                // channel setting) hands it over at once instead of leaving a standby
                // to wait out its TTL.
                active.release().await;
                Err(e)
            }
        }
    }

    /// The engine on `store`, once `active` holds the keyspace.
    async fn serve(
        settings: Settings,
        store: SharedStore,
        coordination_view: SharedCoordination,
        clock: SharedClock,
        active: Arc<crate::active::Active>,
    ) -> anyhow::Result<Application> {
        let key = secret_key(&store, "token_key").await?;
        let erasure_key = secret_key(&store, switchboard_engine::tombstones::KEY_SETTING).await?;
        let file_link_key = secret_key(&store, "file_link_key").await?;
        let settings = Arc::new(settings);
        let engine = Engine::new(
            store.clone(),
            clock,
            Arc::new(settings.engine()),
            TokenSigner::new(key),
            switchboard_engine::tombstones::TombstoneKey::new(erasure_key),
        );
        let spread = settings.cluster.placement == crate::config::Placement::Spread;
        let keys = if spread {
            let peers = active
                .receiver()
                .map(|r| r.peers)
                .ok_or_else(|| anyhow::anyhow!("spread placement needs cluster.secret"))?;
            engine.set_cluster(Arc::new(switchboard_engine::actors::mail::Cluster {
                driver: active.driver().clone(),
                peers: peers.clone(),
                shards: cluster::shard::ShardMap::new(settings.cluster.shards)
                    .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?,
                timeout: std::time::Duration::from_millis(settings.cluster.actor_timeout_ms),
                seat_check: std::time::Duration::from_millis(settings.cluster.lease_poll_ms),
            }));
            switchboard_engine::actors::mail::serve(&engine, &peers);
            // The keys this node takes start and stop actors from now on (the changes
            // wait in the channel until the engine below is ready for them).
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            actix_rt::spawn(switchboard_engine::actors::keys::run(
                engine.downgrade(),
                rx,
            ));
            Some(tx)
        } else {
            // Before any queue or agent actor, so the hub sees every routing event.
            engine.start_hub();
            None
        };
        // Pushes from other nodes to the sockets this one holds (`actors::sessions`).
        if let Some(r) = active.receiver() {
            crate::actors::sessions::serve(&engine, &r.peers);
        }

        let kb = crate::kb::open(&settings.kb, &store).await?;
        // The help center's article views and answers reach the store from here.
        crate::kb::stats::flush_every(&kb, &store, engine.clock.clone(), settings.help.flush_ms);
        if let (true, Some(r)) = (spread, active.receiver()) {
            // Articles changed on other nodes are indexed here too.
            crate::kb::serve(&kb, &store, &r.peers);
        }
        let search = if settings.search.enabled {
            let dir = crate::search::feed::dir_of(
                &settings.search,
                &settings.data_dir,
                &active.node().name,
            );
            let started = crate::search::feed::start(
                &settings.search,
                dir.clone(),
                &store,
                kb.analyzer(),
                engine.now().0,
                engine.clock.clone(),
                active.receiver().map(|r| r.peers).as_deref(),
            )
            .await;
            match started {
                Ok(feed) => Some(feed),
                // A secondary feature: the engine serves without it (the route says so).
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "conversation search is off: its index cannot be opened");
                    None
                }
            }
        } else {
            None
        };
        let handle = Handle::new(engine.clone(), settings.clone(), kb);
        if let Some(feed) = search {
            handle.set_search(feed);
        }
        if let (true, Some(r)) = (spread, active.receiver()) {
            // Failed logins are counted once for the cluster, by each counter's owner.
            let shared = crate::security::shared_logins::SharedLogins::serve(
                handle.security.logins.clone(),
                r.peers.clone(),
                cluster::shard::ShardMap::new(settings.cluster.shards)
                    .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?,
                std::time::Duration::from_millis(settings.cluster.actor_timeout_ms),
            );
            let _ = handle.security.shared_logins.set(shared);
        }
        handle.set_cluster(crate::server::ClusterInfo {
            coord: coordination_view.clone(),
            node: active.node().clone(),
            address: active.address().to_owned(),
            skew_ms: settings.cluster.clock_skew_ms,
            suspended: active.suspended_flag(),
            aside: active.aside_flag(),
            peers: active.receiver().map(|r| r.peers),
            ping_timeout: std::time::Duration::from_millis(settings.cluster.peer_ping_timeout_ms),
            shards: spread.then_some(settings.cluster.shards),
        });
        // Unknown-account logins verify against this, as long as a real one takes.
        handle.passwords.prepare().await?;
        if let Some(pw) = &settings.bootstrap_admin_password {
            ensure_admin(&handle, pw).await?;
        }
        if settings.demo {
            let logins = crate::demo::seed(&handle).await?;
            println!(
                "demo logins (open http://{}/agent/ and http://{}/chat/):",
                settings.listen, settings.listen
            );
            for login in logins {
                println!("{login}");
            }
        }
        let mut queues = store.queues().await?;
        if queues.is_empty() {
            let mut q = QueueConfig::new(QueueName::parse("general").expect("static name"));
            q.display_name = "General".into();
            q.default_for = Channel::ALL.to_vec();
            store
                .commit(Batch {
                    queues: vec![q.clone()],
                    ..Default::default()
                })
                .await?;
            queues.push(q);
        }
        for q in queues {
            engine.start_queue(q);
        }
        // The IVR tree and wrap-up codes saved in the store (console edits) over the
        // configuration file's.
        engine.ivr_reload().await?;
        engine.wrapup_reload().await?;
        engine.survey_reload().await?;
        if spread {
            // Each queue's actor starts on the node its key is placed on, which reloads
            // it (and a shard's held conversations) from the store: `actors::keys`.
            active.driver().set_keys(engine.placed_keys());
            settle(&engine, &settings.cluster).await;
        } else {
            recover(&engine).await?;
        }
        crate::actors::customer::callback::start_sweeper(engine.clone());
        crate::actors::customer::once::start_expiry(engine.clone());
        let gateway = crate::channels::Gateway::new(
            engine.clone(),
            settings.channels.clone(),
            settings.ivr.clone(),
            settings.security.webhook_max_event_age_ms,
            crate::channels::signature::FileLinkKey::new(file_link_key),
        );
        // Connector settings saved from the console win over the file's, and follow
        // the other members' saves.
        crate::api::connectors::reload(&gateway).await?;
        let listening = gateway.downgrade();
        engine.on_config_changed(Box::new(move |_what| {
            let g = listening.upgrade();
            Box::pin(async move {
                match g {
                    Some(g) => crate::api::connectors::reload(&g).await,
                    None => Ok(()),
                }
            })
        }));
        let dispatcher = crate::channels::outbound::Dispatcher::start(gateway.clone());
        engine.set_outbound(dispatcher.clone());
        // Spread placement: each shard's owner resends its customers' (`actors::keys`).
        let resent = if spread {
            0
        } else {
            dispatcher.resume(&gateway).await?
        };
        crate::actors::customer::notify::scheduler::start(&engine);
        let stream = crate::channels::stream::deliver::Stream::new(settings.stream.clone());
        crate::channels::stream::deliver::start(&stream, engine.clone());
        handle.set_stream(stream);
        if resent > 0 {
            tracing::info!(
                resent,
                "replies left undelivered by the last run resubmitted"
            );
        }
        let smtp = if settings.channels.email.enabled {
            let handle = crate::channels::email::SmtpServer::bind(
                settings.channels.email.clone(),
                Arc::new(crate::channels::email::intake::Intake {
                    gateway: gateway.clone(),
                }),
            )
            .await
            .with_context(|| format!("binding SMTP on {}", settings.channels.email.listen))?;
            tracing::info!(addr = %handle.local_addr, "SMTP listening");
            Some(handle)
        } else {
            None
        };

        drop(engine);
        let state = AppState {
            server: handle.clone(),
            metrics: crate::metrics::install(),
        };
        let max_body = settings.limits.max_http_body_bytes;
        let max_webhook = settings.channels.max_webhook_bytes;
        let peers = active.receiver();
        let listener = std::net::TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .app_data(web::Data::new(gateway.clone()))
                // First: the static files' catch-all below must not shadow it.
                .configure(|c| {
                    if let Some(r) = peers.clone() {
                        crate::peering::configure(c, r);
                    }
                })
                .configure(|c| crate::channels::configure(c, max_webhook))
                .configure(|c| api::configure(c, max_body))
        })
        .workers(settings.workers)
        // Websocket pushes are small frames that must leave now: without TCP_NODELAY,
        // Nagle's algorithm holds them for the peer's delayed ACK (~40 ms).
        .tcp_nodelay(true)
        // Stated, not left to actix-web's default: peers keep their idle connections
        // for less (`peering::PEER_IDLE`).
        .keep_alive(crate::peering::SERVER_KEEP_ALIVE)
        // Signals are ours (see `run_until_stopped`): a drain tells sockets to reconnect
        // before the server stops, which actix-web's own handler would not.
        .disable_signals()
        .shutdown_timeout(settings.timing.shutdown_deadline_ms.div_ceil(1000).max(1))
        .listen(listener)?
        .run();
        tracing::info!(port, data_dir = %settings.data_dir.display(), "switchboard listening");
        Ok(Application {
            port,
            server,
            handle,
            smtp,
            active,
            keys,
            shutdown_deadline: std::time::Duration::from_millis(
                settings.timing.shutdown_deadline_ms,
            ),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the SMTP listener is bound, when email is enabled.
    pub fn smtp_addr(&self) -> Option<std::net::SocketAddr> {
        self.smtp.as_ref().map(|h| h.local_addr)
    }

    /// A handle to stop the HTTP server from outside (tests, embedding).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The engine and the server's services (tests reach into them).
    pub fn server(&self) -> Handle {
        self.handle.clone()
    }

    /// A handle that starts the same graceful shutdown as SIGTERM.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            drain: self.handle.drain_sender(),
            server: self.server.handle(),
            active: self.active.clone(),
        }
    }

    /// Serves until SIGTERM/SIGINT (or a [`ShutdownHandle::drain`]), then shuts down
    /// gracefully within `timing.shutdown_deadline_ms`: websocket clients get a
    /// `reconnect` message and close code 1012, the listener stops accepting, in-flight
    /// requests (and so their store writes) finish, the SMTP listener stops, provider
    /// calls in flight finish and record their outcome, the outbound workers stop, the
    /// actor threads are joined and the store is released.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = self.shutdown_handle();
        let Application {
            server,
            handle,
            smtp,
            active,
            shutdown_deadline,
            keys,
            ..
        } = self;
        // Fenced or lapsed (another engine may take the keyspace): stop as on SIGTERM.
        active.keep(
            {
                let shutdown = shutdown.clone();
                move || {
                    actix_rt::spawn(async move { shutdown.drain().await });
                }
            },
            keys,
        );
        // When a signal started the drain: the deadline counts from there.
        let began: Arc<std::sync::Mutex<Option<tokio::time::Instant>>> = Default::default();
        let mut stop = active.stop_signal();
        let signals = actix_rt::spawn({
            let began = began.clone();
            async move {
                let _ = stop.wait_for(|requested| *requested).await;
                *began.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(tokio::time::Instant::now());
                shutdown.drain().await;
            }
        });
        let r = server.await;
        signals.abort();
        // One deadline covers the whole shutdown, the server's graceful stop included.
        let start = began
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or_else(tokio::time::Instant::now);
        let deadline = start + shutdown_deadline;
        if let Some(smtp) = smtp {
            let _ = tokio::time::timeout_at(deadline, smtp.shutdown()).await;
        }
        // Provider calls in flight finish and record their outcome while the actors
        // still run: a reply whose provider has no idempotency key is then known sent,
        // not `unknown` at the next start.
        while !handle.engine.drain_outbound() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await; // poll interval
        }
        handle.shutdown();
        // The actors have stopped: a standby may take over now.
        let _ = tokio::time::timeout_at(deadline, active.release()).await;
        // Let the last holders (HTTP workers winding down, aborted tasks) let go, so that
        // the store is closed (and its files unlocked) when this returns. The server's
        // handle holds the engine once.
        let held = |h: &Handle| h.holders() > 1 || h.engine.holders() > 1;
        while held(&handle) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if held(&handle) {
            tracing::warn!(
                holders = handle.holders(),
                engine_holders = handle.engine.holders(),
                "engine still referenced at shutdown"
            );
        }
        drop(handle);
        match active.stepped_down() {
            Some(crate::active::StepDown::Fenced) => {
                tracing::error!("shutdown complete: stopped because another engine took over");
                return Err(std::io::Error::other(
                    "fenced: another engine took over this keyspace (docs/cluster.md)",
                ));
            }
            None => {}
        }
        tracing::info!("shutdown complete");
        r
    }
}

/// The thread the ownership loop runs on (`crate::ownership::LoopThread`).
fn loop_thread() -> anyhow::Result<crate::ownership::LoopThread> {
    crate::ownership::LoopThread::start()
        .map_err(|e| anyhow::anyhow!("starting the ownership loop's thread: {e}"))
}

/// The configured store: ScyllaDB, or the embedded store in `settings.data_dir`; and
/// the coordination the ownership loop uses — on the CQL store, a session of its own
/// made on the loop's `thread`, so that renewals never wait for the engine's runtime.
async fn open_store(
    settings: &Settings,
    thread: &crate::ownership::LoopThread,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SharedStore, SharedCoordination)> {
    if settings.store.backend == StoreBackend::Scylla {
        let store = open_scylla(settings, stop).await?;
        let mut opts = settings
            .store
            .scylla
            .options()
            .map_err(|e| anyhow::anyhow!("store.scylla: {e}"))?;
        // The engine's session has applied the schema (or checked it).
        opts.migrate = false;
        let coordination = thread
            .handle()
            .spawn(async move { ScyllaStore::connect(&opts).await })
            .await
            .map_err(|e| anyhow::anyhow!("the ownership loop's thread: {e}"))?
            .map_err(|e| anyhow::anyhow!("opening the ownership loop's CQL session: {e}"))?;
        return Ok((store, Arc::new(coordination)));
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    let store = EmbeddedStore::open(
        &settings.data_dir,
        EmbeddedOptions {
            max_pending_writes: settings.store.max_pending_writes,
            max_batch: settings.store.max_batch,
            cache_bytes: settings.store.cache_mib.saturating_mul(1024 * 1024),
        },
    )
    .map_err(|e| anyhow::anyhow!("opening store in {}: {e}", settings.data_dir.display()))?;
    Ok((Arc::new(store), Arc::new(LocalCoordination::default())))
}

/// Connects to the CQL store, applying pending schema files if `migrate_on_start`.
///
/// A database that cannot be reached is waited for, not a reason to exit: the engine
/// logs why, holds its listen address with [`api::holding`] (`/readyz` 503 naming the
/// reason, every door 503 `unavailable` with `Retry-After`), retries every
/// `store.scylla.connect_retry_ms`, and starts by itself when the database answers. It
/// gives up after `store.scylla.start_wait_ms` (0: never). Errors waiting cannot cure —
/// bad settings, a schema file edited after it was applied — end the start at once.
async fn open_scylla(
    settings: &Settings,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Arc<ScyllaStore>> {
    let mut stopping = stop.clone();
    let opts = settings
        .store
        .scylla
        .options()
        .map_err(|e| anyhow::anyhow!("store.scylla: {e}"))?;
    let retry = std::time::Duration::from_millis(settings.store.scylla.connect_retry_ms.max(10));
    let give_up = match settings.store.scylla.start_wait_ms {
        0 => None,
        ms => Some(std::time::Instant::now() + std::time::Duration::from_millis(ms)),
    };
    let reason = api::holding::HoldingReason::default();
    let mut holding: Option<actix_web::dev::ServerHandle> = None;
    let store = loop {
        match ScyllaStore::connect(&opts).await {
            Ok(store) => break store,
            Err(crate::store::StoreError::Unavailable(e)) => {
                if give_up.is_some_and(|t| std::time::Instant::now() >= t) {
                    if let Some(h) = holding.take() {
                        h.stop(false).await;
                    }
                    anyhow::bail!(
                        "the CQL store at {} stayed unavailable for store.scylla.start_wait_ms \
                         = {} ms: {e}",
                        opts.contact_points.join(","),
                        settings.store.scylla.start_wait_ms
                    );
                }
                tracing::warn!(
                    contact_points = %opts.contact_points.join(","),
                    keyspace = %opts.keyspace,
                    error = %e,
                    retry_ms = retry.as_millis() as u64,
                    "cql store unavailable at start; /readyz answers 503 and every door \
                     503 unavailable until it answers"
                );
                reason.set(e);
                if holding.is_none() {
                    match api::holding::start(
                        settings.listen,
                        "store unavailable",
                        "scylla",
                        reason.clone(),
                        None,
                    ) {
                        Ok(h) => holding = Some(h),
                        Err(err) => {
                            tracing::warn!(error = %err, listen = %settings.listen, "cannot hold the listen address while waiting for the store")
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {} // retry interval, not synchronisation
                    _ = stopping.wait_for(|requested| *requested) => {
                        if let Some(h) = holding.take() {
                            h.stop(false).await;
                        }
                        tracing::info!("stopped while waiting for the store");
                        return Err(crate::active::StoppedBeforeServing.into());
                    }
                }
            }
            Err(e) => return Err(anyhow::anyhow!("opening the ScyllaDB store: {e}")),
        }
    };
    if let Some(h) = holding.take() {
        h.stop(false).await;
        tracing::info!("cql store reachable; the holding server stopped, the engine starts");
    }
    tracing::info!(contact_points = ?opts.contact_points, keyspace = %opts.keyspace, "store: scylla");
    Ok(Arc::new(store))
}

/// `--check-schema`: compares the ScyllaDB keyspace's applied schema files with this
/// binary's, prints the result, and returns whether it is up to date. Changes nothing.
pub async fn check_schema(settings: &Settings) -> anyhow::Result<bool> {
    if settings.store.backend != StoreBackend::Scylla {
        println!(
            "--check-schema checks a ScyllaDB schema, but the configured store is {} \
             (it has no CQL schema); pass --store scylla",
            settings.store.backend.as_str()
        );
        return Ok(false);
    }
    let opts = settings
        .store
        .scylla
        .options()
        .map_err(|e| anyhow::anyhow!("store.scylla: {e}"))?;
    let session = ScyllaStore::session(&opts).await?;
    let status = crate::store::scylla::schema::status(&session, &opts.template())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}.schema_version (was the schema ever applied?): {e}",
                opts.keyspace
            )
        })?;
    if !status.unknown.is_empty() {
        println!(
            "keyspace {} has schema versions {:?} this binary does not know (a newer \
             engine migrated it)",
            opts.keyspace, status.unknown
        );
    }
    if status.is_current() {
        println!(
            "schema of keyspace {} is up to date: versions {:?} applied",
            opts.keyspace, status.applied
        );
        Ok(true)
    } else {
        println!(
            "schema of keyspace {} is NOT up to date: applied {:?}, missing {:?}; start the \
             engine with store.scylla.migrate_on_start = true to apply them",
            opts.keyspace, status.applied, status.pending
        );
        Ok(false)
    }
}

/// Spread placement: the keyspace records the shard count its nodes run with
/// (`cluster::shard::check_count`). A node with another count is refused while any
/// member runs, since the same id would map to another shard on it; with nobody live
/// (every node stopped) its count is recorded instead. Two first nodes starting at
/// the same moment with different counts both write: the one whose count is not what
/// it reads back is refused.
async fn record_shard_count(
    store: &SharedStore,
    coordination: &dyn Coordination,
    settings: &crate::config::ClusterSettings,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    use cluster::shard::{check_count, CountRecord, COUNT_SETTING};
    let recorded = |bytes: Option<Vec<u8>>| {
        bytes.and_then(|b| String::from_utf8(b).ok()?.trim().parse::<u32>().ok())
    };
    let before = recorded(store.setting(COUNT_SETTING).await?);
    let rows = coordination.leases().await?;
    let now = crate::store::coordination::wall_ms(clock.now());
    let live: Vec<String> = crate::store::coordination::members(&rows, now, settings.clock_skew_ms)
        .into_iter()
        .filter(|m| m.live)
        .map(|m| m.node.name)
        .collect();
    let mine = settings.shards;
    if check_count(before, mine, &live).map_err(|e| anyhow::anyhow!("{e}"))? == CountRecord::Agrees
    {
        return Ok(());
    }
    if let Some(old) = before {
        tracing::warn!(
            old,
            new = mine,
            "cluster.shards changed: no member was running"
        );
    }
    store
        .commit(Batch {
            settings: vec![(COUNT_SETTING.into(), mine.to_string().into_bytes())],
            ..Default::default()
        })
        .await?;
    match recorded(store.setting(COUNT_SETTING).await?) {
        Some(now) if now == mine => Ok(()),
        other => anyhow::bail!(
            "cluster.shards is {mine} here but another node recorded {other:?} for this \
             keyspace as this one started; give every node the same cluster.shards"
        ),
    }
}

/// A 32-byte secret kept in the store under `name` (the token signing key, the
/// erasure tombstones' hashing key, the file links' signing key), created at random
/// on first start.
async fn secret_key(store: &SharedStore, name: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = match store.setting(name).await? {
        Some(b) => b,
        // Nodes starting together for the first time all keep the first key written.
        None => {
            store
                .setting_if_absent(name, TokenSigner::random_key().to_vec())
                .await?
        }
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("stored {name} is not 32 bytes"))
}

async fn ensure_admin(engine: &Handle, password: &str) -> anyhow::Result<()> {
    let id = AgentId::parse("admin").expect("static id");
    if engine.store.agent(&id).await?.is_some() {
        return Ok(());
    }
    let pw = password.to_owned();
    let hash = engine.passwords.hash(pw).await?;
    let profile = AgentProfile {
        id,
        display_name: "Administrator".into(),
        password_hash: hash,
        role: Role::Admin,
        skills: BTreeMap::new(),
        capacity: Capacity::default(),
        queues: vec![],
        disabled: false,
        phone: None,
    };
    engine
        .store
        .commit(Batch {
            agents: vec![profile],
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// Re-queues waiting conversations in order and hands assigned ones back to agents.
/// Spread placement: waits until every placed key has a live holder (this node's
/// share taken, the others' seen held), so that the first requests find their actors —
/// at most a lease's lifetime and the skew bound (a dead node's keys are taken once its
/// leases lapse); then serves anyway, and a message to a key still between owners is
/// answered `unavailable` (retry).
async fn settle(engine: &Engine, cluster: &crate::config::ClusterSettings) {
    let Some(c) = engine.cluster() else {
        return;
    };
    let limit = std::time::Duration::from_millis(
        cluster.lease_ttl_ms + cluster.clock_skew_ms + cluster.lease_renew_ms,
    );
    let every = std::time::Duration::from_millis(cluster.lease_poll_ms.max(1));
    let until = tokio::time::Instant::now() + limit;
    loop {
        let waiting: Vec<String> = engine
            .placed_keys()
            .into_iter()
            .filter(|k| c.driver.owns(k).is_none() && c.driver.holder(k).is_none())
            .collect();
        if waiting.is_empty() {
            tracing::info!(held = c.driver.owned().len(), "placement settled");
            return;
        }
        if tokio::time::Instant::now() >= until {
            tracing::warn!(
                unowned = waiting.len(),
                first = %waiting[0],
                "serving before every key has an owner"
            );
            return;
        }
        tokio::time::sleep(every).await;
    }
}

async fn recover(engine: &Engine) -> anyhow::Result<()> {
    let mut open = engine.store.open_conversations().await?;
    open.sort_by_key(|c| (std::cmp::Reverse(c.priority), c.enqueued_at, c.enqueue_seq));
    let mut requeued = 0usize;
    // Callbacks waiting for their retry delay go back in line when due (the sweeper).
    let retry_wait = crate::actors::customer::callback::retry_waiting(&engine.store, 500).await?;
    for c in &open {
        engine.bump_enqueue_seq_above(c.enqueue_seq);
        if retry_wait.contains(&c.id) {
            continue;
        }
        match (c.state, &c.agent) {
            // Back to their agents (below); parked ones wait for the customer.
            (ConversationState::Assigned | ConversationState::WrapUp, Some(_))
            | (ConversationState::Parked, _) => {}
            _ => {
                if !engine.queue_exists(&c.queue) {
                    tracing::warn!(conversation = %c.id, queue = %c.queue, "queue gone; conversation not re-queued");
                    continue;
                }
                engine
                    .ask_queue(&c.queue, Enqueue::restore(c))
                    .await
                    .map_err(|e| anyhow::anyhow!("queue actor: {e}"))?
                    .map_err(|e| anyhow::anyhow!("re-queue: {e}"))?;
                requeued += 1;
            }
        }
    }
    let by_agent = crate::actors::agent::restores(&open, |_| true);
    let held = by_agent.len();
    for (agent, restore) in by_agent {
        match engine.store.agent(&agent).await? {
            Some(profile) => engine.agent_or_start(profile).do_send(restore),
            None => tracing::warn!(%agent, "agent gone; its conversations stay assigned"),
        }
    }
    tracing::info!(
        requeued,
        agents_with_work = held,
        "recovered open conversations"
    );
    Ok(())
}
