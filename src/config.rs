//! Settings: one typed struct built from defaults, an optional TOML file (`--config`),
//! environment variables and command-line flags, in rising precedence (a flag beats
//! its env var, which beats the file, which beats the default).
//!
//! Every size, rate and time limit the engine enforces is here, with its default.

use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use switchboard_engine::settings::{ChannelFacts, EngineSettings};
pub use switchboard_engine::settings::{Limits, Timing};

/// Command line. Each flag also reads the env var named beside it.
#[derive(Debug, Parser, Clone)]
#[command(
    name = "switchboard",
    version,
    about = "Omnichannel contact-center engine"
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded store.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML file with any of the settings below (see README).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seed demo queues and agents (idempotent) and print their logins.
    #[arg(long, env = "SWITCHBOARD_DEMO")]
    pub demo: bool,
    /// HTTP worker threads (default: number of cores).
    #[arg(long, env = "SWITCHBOARD_WORKERS")]
    pub workers: Option<usize>,
    /// Threads (actix arbiters) that run the customer, agent and queue actors
    /// (default: number of cores).
    #[arg(long, env = "SWITCHBOARD_ACTOR_THREADS")]
    pub actor_threads: Option<usize>,
    /// This node's name in the cluster (`cluster.node_name`; unique per keyspace).
    #[arg(long, env = "SWITCHBOARD_NODE_NAME")]
    pub node_name: Option<String>,
    /// The address other nodes reach this one at (`cluster.advertise_address`).
    #[arg(long, env = "SWITCHBOARD_ADVERTISE_ADDRESS")]
    pub advertise_address: Option<String>,
    /// The secret engines of one cluster share for node-to-node messages
    /// (`cluster.secret`; at least 16 bytes).
    #[arg(long, env = "SWITCHBOARD_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// Where the actors run: `single` (one active engine, standbys) or `spread` (every
    /// member serves its share) (`cluster.placement`).
    #[arg(long, env = "SWITCHBOARD_PLACEMENT", value_parser = ["single", "spread"])]
    pub placement: Option<String>,
    /// Shards of customers and agents (`cluster.shards`; spread placement).
    #[arg(long, env = "SWITCHBOARD_SHARDS")]
    pub shards: Option<u32>,
    /// Create agent `admin` with this password if it does not exist.
    #[arg(long, env = "SWITCHBOARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Store backend: `embedded` (default) or `scylla`.
    #[arg(long = "store", env = "SWITCHBOARD_STORE", value_enum)]
    pub store: Option<StoreBackend>,
    /// ScyllaDB contact points: `host[:port][,host...]`, or `scylla://host,host/keyspace`.
    #[arg(
        long = "scylla-contact-points",
        alias = "scylla-uri",
        env = "SWITCHBOARD_SCYLLA_CONTACT_POINTS"
    )]
    pub scylla_contact_points: Option<String>,
    /// ScyllaDB keyspace (default `switchboard`).
    #[arg(long, env = "SWITCHBOARD_SCYLLA_KEYSPACE")]
    pub scylla_keyspace: Option<String>,
    /// The ScyllaDB datacenter this engine runs in (default `datacenter1`).
    #[arg(long, env = "SWITCHBOARD_SCYLLA_DATACENTER")]
    pub scylla_datacenter: Option<String>,
    /// Replicas per datacenter when the keyspace is created (default 3; 1 for a
    /// single-node test database).
    #[arg(long, env = "SWITCHBOARD_SCYLLA_REPLICATION_FACTOR")]
    pub scylla_replication_factor: Option<u32>,
    /// ScyllaDB user (password authentication).
    #[arg(long, env = "SWITCHBOARD_SCYLLA_USERNAME")]
    pub scylla_username: Option<String>,
    /// ScyllaDB password.
    #[arg(long, env = "SWITCHBOARD_SCYLLA_PASSWORD", hide_env_values = true)]
    pub scylla_password: Option<String>,
    /// Connect to ScyllaDB over TLS (needs `--scylla-ca-file`).
    #[arg(long, env = "SWITCHBOARD_SCYLLA_TLS")]
    pub scylla_tls: bool,
    /// CA bundle (PEM) that signed the ScyllaDB nodes' certificates.
    #[arg(long, env = "SWITCHBOARD_SCYLLA_CA_FILE")]
    pub scylla_ca_file: Option<PathBuf>,
    /// Connect to the configured ScyllaDB, compare its schema with this binary's
    /// `schema/*.cql`, print the result and exit: 0 if up to date, 1 otherwise.
    #[arg(long)]
    pub check_schema: bool,
}

/// The engine's settings. `Default` gives the documented defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub workers: usize,
    /// Arbiter threads for actors; each actor lives on one, chosen by a hash of its id.
    pub actor_threads: usize,
    /// If set and no agent `admin` exists, one is created with this password at start.
    pub bootstrap_admin_password: Option<String>,
    pub limits: Limits,
    pub timing: Timing,
    pub store: StoreSettings,
    /// Channel connectors (SMS, voice, LINE, Messenger, email, video).
    pub channels: crate::channels::ChannelSettings,
    /// Access control, abuse limits, log redaction (`[security]`, docs/security.md).
    pub security: SecuritySettings,
    /// Historical reports (`[reports]`, docs/metrics.md).
    pub reports: ReportSettings,
    /// CRM lookup (`[crm]`, docs/assist.md); disabled while `crm.url` is unset.
    pub crm: crate::crm::CrmSettings,
    /// Canned-response limits (`[canned]`, docs/assist.md).
    pub canned: crate::canned::CannedSettings,
    /// Post-interaction CSAT surveys (`[survey]`, docs/engagement.md; the older
    /// spelling `[surveys]` is still read).
    #[serde(alias = "surveys")]
    pub survey: crate::survey::SurveySettings,
    /// Proactive notifications (`[notify]`, docs/engagement.md).
    pub notify: crate::notify::NotifySettings,
    /// Knowledge base limits and Japanese dictionary (`[kb]`, docs/kb.md).
    pub kb: crate::kb::KbSettings,
    /// The public help center (`[help]`, docs/help-center.md).
    pub help: crate::kb::HelpSettings,
    /// Conversation search (`[search]`, docs/search.md).
    pub search: crate::search::SearchSettings,
    /// The outbound event stream (`[stream]`, docs/event-stream.md).
    pub stream: crate::channels::stream::StreamSettings,
    /// Staff single sign-on with OpenID Connect (`[oidc]`, docs/sso.md).
    pub oidc: crate::oidc::OidcSettings,
    /// The FAQ bot on messaging channels (`[bot]`, docs/kb.md).
    pub bot: crate::bot::BotSettings,
    /// IVR menu trees for voice and the visual IVR (`[ivr]`, docs/ivr.md).
    pub ivr: crate::ivr::IvrSettings,
    /// Queued callbacks (`[callbacks]`, docs/ivr.md).
    pub callbacks: crate::ivr::callbacks::CallbackSettings,
    /// Browser calls over WebRTC (`[calls]`, docs/voice.md).
    pub calls: switchboard_engine::calls::CallSettings,
    /// This node's name and its lease timing (`[cluster]`, docs/cluster.md).
    pub cluster: ClusterSettings,
    /// Per-client-address budgets at the anonymous doors (`[anonymous]`,
    /// docs/security.md).
    pub anonymous: crate::budget::AnonymousSettings,
    /// Parked asynchronous conversations (`[parking]`, docs/api.md "Parking").
    pub parking: switchboard_engine::settings::ParkingSettings,
    /// Files: size and type limits, storage chunks (`[attachments]`,
    /// docs/attachments.md).
    pub attachments: crate::domain::FilePolicy,
}

/// `[cluster]` (docs/cluster.md): the node's name, the timing of its leases, the
/// bounds of node-to-node messages, and where actors run: on one active engine per
/// keyspace with standbys (`single`, the default), or spread over every member.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// Unique among the engines running on one keyspace: a start under the name of the
    /// active engine is taken for its restart and takes over at once. Default: the
    /// host name and the listen port (`host:8080`).
    pub node_name: Option<String>,
    /// The address other nodes and the cluster view show for this node (`host:port`).
    /// Default: the listen address.
    pub advertise_address: Option<String>,
    /// How long a lease lives after it was granted or renewed.
    pub lease_ttl_ms: u64,
    /// How often the holder renews.
    pub lease_renew_ms: u64,
    /// How often the ownership loop reads the lease rows (at most `lease_renew_ms`): a
    /// standby notices a released lease within this.
    pub lease_poll_ms: u64,
    /// Bound on how fast or slow a node's clock runs against real time (ppm).
    pub lease_max_drift_ppm: u64,
    /// Safety taken off the holder's own deadline.
    pub lease_margin_ms: u64,
    /// Bound on the difference between two nodes' wall clocks.
    pub clock_skew_ms: u64,
    /// Shared by the engines of one cluster: node-to-node messages carry it and a node
    /// refuses those without it. Unset: this node neither sends nor receives them.
    pub secret: Option<String>,
    /// Node-to-node messages waiting per peer and lane (beyond one request in flight);
    /// one more is refused at once.
    pub peer_queue: usize,
    /// Lanes per peer: queues, each with one request in flight, that a key's messages
    /// take by its hash (ordered per key; a slow handler holds up its lane only).
    pub peer_lanes: usize,
    /// Node-to-node messages per request (and the most a node accepts in one).
    pub peer_batch: usize,
    /// `moved` answers a node-to-node message follows.
    pub peer_hops: u32,
    /// A peer's queue and worker stop after this long with nothing to send.
    pub peer_idle_ms: u64,
    /// The largest node-to-node request body a node accepts.
    pub max_peer_request_bytes: usize,
    /// How long the cluster view waits for each member to answer its ping.
    pub peer_ping_timeout_ms: u64,
    /// Where the actors run: `single` (one active engine, the others standbys) or
    /// `spread` (every member serves; customers and agents by shard, queues and the
    /// singletons each by key, placed by rendezvous over the live members). Spread
    /// needs `secret`, and the same `shards` on every node.
    pub placement: Placement,
    /// Shards of customers and agents (spread placement). Recorded in the keyspace: a
    /// node with another count is refused while a member runs (it decides where every
    /// actor lives).
    pub shards: u32,
    /// How long a message to an actor on another node may take, answer included.
    pub actor_timeout_ms: u64,
    /// Spread: how often a node pings the other live members to see whether it still
    /// reaches a majority of them (docs/cluster.md, "Partitions").
    pub quorum_check_ms: u64,
    /// Spread: how long a node may reach no majority before it stands aside (hands its
    /// keys over until it reaches one again).
    pub quorum_loss_ms: u64,
    /// Spread: how long a node standing aside must reach a majority before it joins
    /// again.
    pub quorum_regain_ms: u64,
}

/// Where the engine's actors run (`cluster.placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// One active engine per keyspace; the others wait as standbys.
    #[default]
    Single,
    /// Every member serves its share of the keys.
    Spread,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("node_name", &self.node_name)
            .field("advertise_address", &self.advertise_address)
            .field("timing", &self.timing())
            .field("lease_poll_ms", &self.lease_poll_ms)
            .field("clock_skew_ms", &self.clock_skew_ms)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("peer_queue", &self.peer_queue)
            .field("peer_lanes", &self.peer_lanes)
            .field("peer_batch", &self.peer_batch)
            .field("peer_idle_ms", &self.peer_idle_ms)
            .field("placement", &self.placement)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl Default for ClusterSettings {
    fn default() -> Self {
        let t = cluster::lease::LeaseTiming::default();
        let q = cluster::quorum::QuorumTiming::default();
        Self {
            node_name: None,
            advertise_address: None,
            lease_ttl_ms: t.ttl_ms,
            lease_renew_ms: t.renew_every_ms,
            lease_poll_ms: 250,
            lease_max_drift_ppm: t.max_drift_ppm,
            lease_margin_ms: t.margin_ms,
            clock_skew_ms: 250,
            secret: None,
            peer_queue: 1024,
            peer_lanes: 8,
            peer_batch: 64,
            peer_idle_ms: 60_000,
            peer_hops: 2,
            max_peer_request_bytes: 1 << 20,
            peer_ping_timeout_ms: 1_000,
            placement: Placement::Single,
            shards: cluster::shard::DEFAULT_SHARDS,
            actor_timeout_ms: 5_000,
            quorum_check_ms: q.check_ms,
            quorum_loss_ms: q.loss_ms,
            quorum_regain_ms: q.regain_ms,
        }
    }
}

impl ClusterSettings {
    /// The lease timing's own rules, and the poll interval within the renewal's.
    pub fn validate(&self) -> Result<(), String> {
        self.timing().validate().map_err(|e| e.to_string())?;
        if self.lease_poll_ms == 0 || self.lease_poll_ms > self.lease_renew_ms {
            return Err(format!(
                "cluster.lease_poll_ms ({}) must be between 1 and cluster.lease_renew_ms ({})",
                self.lease_poll_ms, self.lease_renew_ms
            ));
        }
        if self.secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err("cluster.secret must be at least 16 bytes".into());
        }
        if self.peer_queue == 0
            || self.peer_lanes == 0
            || self.peer_batch == 0
            || self.peer_ping_timeout_ms == 0
            || self.peer_idle_ms == 0
        {
            return Err(
                "cluster.peer_queue, cluster.peer_lanes, cluster.peer_batch, \
                 cluster.peer_ping_timeout_ms and \
                 cluster.peer_idle_ms must be at least 1"
                    .into(),
            );
        }
        if self.max_peer_request_bytes < 4096 {
            return Err("cluster.max_peer_request_bytes must be at least 4096".into());
        }
        if self.placement == Placement::Spread {
            if self.secret.is_none() {
                return Err(
                    "cluster.placement = \"spread\" needs cluster.secret (the nodes \
                            send each other the actors' messages)"
                        .into(),
                );
            }
            if self.shards == 0 || self.shards > 65_536 {
                return Err("cluster.shards must be 1 to 65536".into());
            }
            if self.actor_timeout_ms == 0 {
                return Err("cluster.actor_timeout_ms must be at least 1".into());
            }
            if self.quorum_check_ms == 0
                || self.quorum_loss_ms < self.quorum_check_ms
                || self.quorum_regain_ms < self.quorum_check_ms
            {
                return Err(format!(
                    "cluster.quorum_check_ms ({}) must be at least 1, and \
                     cluster.quorum_loss_ms ({}) and cluster.quorum_regain_ms ({}) at \
                     least cluster.quorum_check_ms",
                    self.quorum_check_ms, self.quorum_loss_ms, self.quorum_regain_ms
                ));
            }
        }
        Ok(())
    }

    /// The bounds of node-to-node messages.
    pub fn peers(&self) -> crate::peers::PeerConfig {
        crate::peers::PeerConfig {
            queue: self.peer_queue,
            lanes: self.peer_lanes,
            batch: self.peer_batch,
            hops: self.peer_hops,
            idle: std::time::Duration::from_millis(self.peer_idle_ms),
        }
    }

    /// The quorum watch's settings (spread placement).
    pub fn quorum(&self) -> switchboard_engine::quorum::QuorumConfig {
        switchboard_engine::quorum::QuorumConfig {
            timing: cluster::quorum::QuorumTiming {
                check_ms: self.quorum_check_ms,
                loss_ms: self.quorum_loss_ms,
                regain_ms: self.quorum_regain_ms,
            },
            ping_timeout: std::time::Duration::from_millis(self.peer_ping_timeout_ms),
        }
    }

    pub fn timing(&self) -> cluster::lease::LeaseTiming {
        cluster::lease::LeaseTiming {
            ttl_ms: self.lease_ttl_ms,
            renew_every_ms: self.lease_renew_ms,
            max_drift_ppm: self.lease_max_drift_ppm,
            margin_ms: self.lease_margin_ms,
        }
    }

    /// Where other nodes reach this one: `advertise_address`, or the listen address.
    pub fn address(&self, listen: SocketAddr) -> String {
        self.advertise_address
            .clone()
            .unwrap_or_else(|| listen.to_string())
    }

    /// This run of this node: its name, and an incarnation that grows from run to run
    /// (the start time in microseconds).
    pub fn node(&self, listen: SocketAddr) -> cluster::NodeId {
        let name = self.node_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "switchboard".into());
            format!("{host}:{}", listen.port())
        });
        let incarnation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        cluster::NodeId { name, incarnation }
    }
}

/// `[security]`: websocket origins, login throttling, socket abuse limits, webhook
/// replay window and log redaction. Every key is documented in docs/security.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Browser origins (`scheme://host[:port]`) allowed to open a websocket besides the
    /// engine's own origin. A handshake carrying any other `Origin` is refused (403);
    /// clients that send no `Origin` (not browsers) are judged by their token alone.
    pub allowed_origins: Vec<String>,
    /// Accept an `Origin` equal to the request's own `Host` (the bundled clients).
    pub allow_same_origin: bool,
    /// Failed logins of one account from one client address within `login_window_ms`
    /// after which that account's logins from that address answer 429 until the window
    /// ends (the owner, from another address, is not locked out).
    pub login_failures_per_account: u32,
    /// Failed logins per client IP within `login_window_ms` before 429.
    pub login_failures_per_ip: u32,
    /// Failed logins of one account from every address within `login_window_ms` that
    /// raise the login alarm (metric, warn log, audit entry) once per window; nothing
    /// is refused because of it. 0 turns the alarm off.
    pub login_alarm_failures_per_account: u32,
    /// The fixed window the login counters above count in.
    pub login_window_ms: u64,
    /// Rate-limited websocket messages in a row after which the socket is closed with
    /// 1008 (policy violation, reason `rate limit`).
    pub ws_rate_limit_close_after: u32,
    /// LINE and Messenger events older than this (by the provider's event timestamp)
    /// are dropped as replays; 0 turns the check off.
    pub webhook_max_event_age_ms: u64,
    /// Replace message bodies and tokens in log lines by their length (default true).
    pub redact_logs: bool,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` is
    /// believed: a request from one of them is counted against the last address of
    /// that header not itself a trusted proxy. From any other peer the TCP address
    /// counts and the header is ignored. Empty (the default): never believed.
    pub trusted_proxies: Vec<String>,
    /// Characters of one outside value (an email's Message-ID, a provider's error) kept
    /// in a log line; the rest is shown as `...(+N bytes)`. Control characters are
    /// always escaped. Default 256.
    pub log_value_max_chars: usize,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allow_same_origin: true,
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            login_alarm_failures_per_account: 20,
            login_window_ms: 15 * 60_000,
            ws_rate_limit_close_after: 100,
            webhook_max_event_age_ms: 3_600_000,
            redact_logs: true,
            trusted_proxies: Vec::new(),
            log_value_max_chars: switchboard_engine::redact::DEFAULT_MAX_CHARS,
        }
    }
}

/// The embedded store's tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Commits queued for the writer thread beyond which new ones fail with
    /// `busy` (503 + Retry-After; back-pressure instead of unbounded memory).
    pub max_pending_writes: usize,
    /// Most commits merged into one durable transaction (group commit).
    pub max_batch: usize,
    /// Page cache, MiB.
    pub cache_mib: usize,
    /// `embedded` (redb in `data_dir`, the default) or `scylla`.
    pub backend: StoreBackend,
    /// The ScyllaDB backend (`[store.scylla]`), used when `backend = "scylla"`.
    pub scylla: ScyllaSettings,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            max_pending_writes: 10_000,
            max_batch: 512,
            cache_mib: 64,
            backend: StoreBackend::Embedded,
            scylla: ScyllaSettings::default(),
        }
    }
}

/// Which [`crate::store::Store`] backend the engine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// redb in `data_dir`: one machine, no server needed.
    Embedded,
    /// ScyllaDB: several engine nodes on one replicated store (docs/scylla.md).
    Scylla,
}

impl StoreBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreBackend::Embedded => "embedded",
            StoreBackend::Scylla => "scylla",
        }
    }
}

/// `[store.scylla]`: connection, keyspace and execution settings of the ScyllaDB
/// backend (docs/scylla.md).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScyllaSettings {
    /// `host:port` of a few nodes (the driver discovers the others).
    pub contact_points: Vec<String>,
    pub keyspace: String,
    /// The datacenter of this engine; requests go to its replicas (no DC failover).
    pub local_datacenter: String,
    /// Replicas in `local_datacenter`, used when the keyspace is created.
    pub replication_factor: u32,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: bool,
    /// CA bundle (PEM) for `tls`; node certificates must carry the node IP addresses.
    pub tls_ca_file: Option<PathBuf>,
    /// Client-side timeout of one request, including the driver's retries.
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Consistency of reads and of writes: `local_quorum` (default), `quorum`, `one`...
    pub read_consistency: String,
    pub write_consistency: String,
    /// Paxos consistency of lightweight transactions: `local_serial` (default) or `serial`.
    pub serial_consistency: String,
    /// Apply pending `schema/*.cql` files at start (under an LWT lock).
    pub migrate_on_start: bool,
    /// At start, an unreachable database is retried this often (meanwhile `/readyz` is
    /// 503 and every door answers 503 `unavailable`).
    pub connect_retry_ms: u64,
    /// Give up starting after waiting this long for the database (0: wait forever).
    pub start_wait_ms: u64,
}

impl Default for ScyllaSettings {
    fn default() -> Self {
        Self {
            contact_points: vec!["127.0.0.1:9042".into()],
            keyspace: "switchboard".into(),
            local_datacenter: "datacenter1".into(),
            replication_factor: 3,
            username: None,
            password: None,
            tls: false,
            tls_ca_file: None,
            request_timeout_ms: 5_000,
            connect_timeout_ms: 5_000,
            read_consistency: "local_quorum".into(),
            write_consistency: "local_quorum".into(),
            serial_consistency: "local_serial".into(),
            migrate_on_start: true,
            connect_retry_ms: 2_000,
            start_wait_ms: 0,
        }
    }
}

impl std::fmt::Debug for ScyllaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaSettings")
            .field("contact_points", &self.contact_points)
            .field("keyspace", &self.keyspace)
            .field("local_datacenter", &self.local_datacenter)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ScyllaSettings {
    /// The store's options; fails on an unknown consistency name.
    pub fn options(&self) -> Result<crate::store::scylla::ScyllaOptions, String> {
        use crate::store::scylla::{parse_consistency, parse_serial_consistency};
        use std::time::Duration;
        Ok(crate::store::scylla::ScyllaOptions {
            contact_points: self.contact_points.clone(),
            keyspace: self.keyspace.clone(),
            local_datacenter: self.local_datacenter.clone(),
            replication_factor: self.replication_factor,
            username: self.username.clone(),
            password: self.password.clone(),
            tls: self.tls,
            tls_ca_file: self.tls_ca_file.clone(),
            request_timeout: Duration::from_millis(self.request_timeout_ms.max(1)),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.max(1)),
            read_consistency: parse_consistency(&self.read_consistency)?,
            write_consistency: parse_consistency(&self.write_consistency)?,
            serial_consistency: parse_serial_consistency(&self.serial_consistency)?,
            migrate: self.migrate_on_start,
            migration_lock_wait: Duration::from_secs(60),
        })
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            data_dir: PathBuf::from("./data"),
            demo: false,
            bootstrap_admin_password: None,
            workers: cores(),
            actor_threads: cores(),
            limits: Limits::default(),
            timing: Timing::default(),
            store: StoreSettings::default(),
            channels: Default::default(),
            security: SecuritySettings::default(),
            reports: ReportSettings::default(),
            crm: Default::default(),
            canned: Default::default(),
            survey: Default::default(),
            notify: Default::default(),
            kb: Default::default(),
            help: Default::default(),
            search: Default::default(),
            stream: Default::default(),
            oidc: Default::default(),
            bot: Default::default(),
            ivr: Default::default(),
            callbacks: Default::default(),
            calls: Default::default(),
            cluster: Default::default(),
            anonymous: Default::default(),
            parking: Default::default(),
            attachments: Default::default(),
        }
    }
}

/// Historical reports: metric parameters and the limits of one report request.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Service-level thresholds in seconds (answered within T); the first is the
    /// headline `service_level`. A request may pass its own (`thresholds=`).
    pub service_level_thresholds_seconds: Vec<u32>,
    /// A resolution followed by a repeat contact (reopened, or a new conversation from
    /// the same customer) within this window is not a first-contact resolution.
    pub fcr_window_ms: u64,
    /// Longest `to - from` one request may ask for.
    pub max_range_ms: u64,
    /// Most report events one request may read (more: `400 invalid`, narrow the range).
    pub max_events: usize,
    /// Most rows one request may return (buckets x groups).
    pub max_rows: usize,
    /// Most service-level thresholds in one request.
    pub max_thresholds: usize,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            service_level_thresholds_seconds: vec![20, 60],
            fcr_window_ms: 7 * 24 * 3_600_000,
            max_range_ms: 400 * 24 * 3_600_000,
            max_events: 1_000_000,
            max_rows: 50_000,
            max_thresholds: 8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Settings {
    /// What the engine reads: the shared tables, and the channel facts derived from
    /// the connectors' settings (which channels take replies, the video link template,
    /// the chat queues of the IVR tree).
    pub fn engine(&self) -> EngineSettings {
        let ch = &self.channels;
        EngineSettings {
            actor_threads: self.actor_threads,
            limits: self.limits.clone(),
            timing: self.timing.clone(),
            survey: self.survey.clone(),
            notify: self.notify.clone(),
            bot: self.bot.clone(),
            callbacks: self.callbacks.clone(),
            calls: self.calls.clone(),
            channels: ChannelFacts {
                public_url: ch.public_url.clone(),
                reopen_window_ms: ch.reopen_window_ms,
                video_join_url_template: ch
                    .video
                    .enabled
                    .then(|| ch.video.join_url_template.clone()),
                replies: crate::channels::registry::reply_channels(ch),
                windows: crate::channels::registry::windows(ch),
                templates: crate::channels::registry::templates(ch),
                files: crate::channels::registry::file_channels(ch),
            },
            anonymous: self.anonymous.clone(),
            parking: self.parking.clone(),
            attachments: self.attachments.clone(),
            ivr: self.ivr.clone(),
            ivr_configured: self.ivr_tree(),
        }
    }

    /// The configured IVR tree: `[ivr]` menus, else the flat `channels.voice.menu`, else
    /// none.
    pub fn ivr_tree(&self) -> Option<crate::ivr::Tree> {
        crate::ivr::Tree::from_settings(&self.ivr, self.channels.voice.flat_menu())
    }

    /// Validates `[ivr]`, `[callbacks]` and `[calls]` at load.
    pub fn validate_ivr(&self) -> Result<(), String> {
        let bot_channels: &[crate::domain::Channel] = if self.bot.enabled {
            &self.bot.channels
        } else {
            &[]
        };
        crate::ivr::validate_settings(&self.ivr, self.channels.voice.flat_menu(), bot_channels)?;
        self.callbacks.validate()?;
        self.calls.validate()
    }

    /// Defaults <- file <- env/flags.
    pub fn load(cli: &Cli) -> Result<Settings, ConfigError> {
        let mut s = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => Settings::default(),
        };
        if let Some(l) = cli.listen {
            s.listen = l;
        }
        if let Some(d) = &cli.data_dir {
            s.data_dir = d.clone();
        }
        if let Some(w) = cli.workers {
            s.workers = w.max(1);
        }
        if let Some(t) = cli.actor_threads {
            s.actor_threads = t.max(1);
        }
        if cli.node_name.is_some() {
            s.cluster.node_name = cli.node_name.clone();
        }
        match cli.placement.as_deref() {
            Some("spread") => s.cluster.placement = Placement::Spread,
            Some(_) => s.cluster.placement = Placement::Single,
            None => {}
        }
        if let Some(n) = cli.shards {
            s.cluster.shards = n;
        }
        if cli.advertise_address.is_some() {
            s.cluster.advertise_address = cli.advertise_address.clone();
        }
        if cli.cluster_secret.is_some() {
            s.cluster.secret = cli.cluster_secret.clone();
        }
        s.demo |= cli.demo;
        if cli.admin_password.is_some() {
            s.bootstrap_admin_password = cli.admin_password.clone();
        }
        apply_store_flags(cli, &mut s.store)?;
        s.crm.validate().map_err(ConfigError::Invalid)?;
        s.anonymous.validate().map_err(ConfigError::Invalid)?;
        s.parking.validate().map_err(ConfigError::Invalid)?;
        s.attachments.validate().map_err(ConfigError::Invalid)?;
        s.security.trusted_proxies().map_err(ConfigError::Invalid)?;
        Ok(s)
    }
}

/// `--store` and the `--scylla-*` flags over the file's `[store]` section.
fn apply_store_flags(cli: &Cli, st: &mut StoreSettings) -> Result<(), ConfigError> {
    if let Some(b) = cli.store {
        st.backend = b;
    }
    let sc = &mut st.scylla;
    if let Some(uri) = &cli.scylla_contact_points {
        let (points, keyspace) =
            crate::store::scylla::ScyllaOptions::parse_uri(uri).map_err(ConfigError::Invalid)?;
        sc.contact_points = points;
        if let Some(k) = keyspace {
            sc.keyspace = k;
        }
    }
    if let Some(k) = &cli.scylla_keyspace {
        sc.keyspace = k.clone();
    }
    if let Some(d) = &cli.scylla_datacenter {
        sc.local_datacenter = d.clone();
    }
    if let Some(rf) = cli.scylla_replication_factor {
        sc.replication_factor = rf;
    }
    if cli.scylla_username.is_some() {
        sc.username = cli.scylla_username.clone();
    }
    if cli.scylla_password.is_some() {
        sc.password = cli.scylla_password.clone();
    }
    sc.tls |= cli.scylla_tls;
    if cli.scylla_ca_file.is_some() {
        sc.tls_ca_file = cli.scylla_ca_file.clone();
    }
    if st.backend == StoreBackend::Scylla {
        sc.options().map_err(ConfigError::Invalid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_unknown_keys_fail() {
        let s: Settings =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[timing]\nagent_grace_ms = 5\n").unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.timing.agent_grace_ms, 5);
        assert_eq!(s.limits.max_ws_message_bytes, 65536);
        assert!(toml::from_str::<Settings>("nope = 1").is_err());
    }

    /// `[survey]` is the table's name; files written with the older `[surveys]` still
    /// load the same settings.
    #[test]
    fn the_survey_table_keeps_its_older_name() {
        let new: Settings = toml::from_str("[survey]\nenabled = true\n").unwrap();
        let old: Settings = toml::from_str("[surveys]\nenabled = true\n").unwrap();
        assert!(new.survey.enabled && old.survey.enabled);
        assert!(!Settings::default().survey.enabled);
    }

    /// The README's self-service example parses and passes every start-up check.
    #[test]
    fn the_self_service_example_is_valid() {
        let text = include_str!("../examples/self-service.toml");
        let s: Settings = toml::from_str(text).unwrap();
        assert!(s.bot.enabled && s.survey.enabled);
        s.bot.validate().unwrap();
        s.survey.validate().unwrap();
        s.validate_ivr().unwrap();
    }

    /// The README's browser-calls example parses and passes the start-up check.
    #[test]
    fn the_calls_example_is_valid() {
        let s: Settings = toml::from_str(include_str!("../examples/calls.toml")).unwrap();
        assert_eq!(s.calls.media.len(), 2);
        s.validate_ivr().unwrap();
        let bad: Settings = toml::from_str(
            "[calls]\nmedia = [\"audio\"]\nice_servers = [{ urls = [\"http://x\"] }]\n",
        )
        .unwrap();
        assert!(bad.validate_ivr().unwrap_err().contains("not a stun:"));
    }

    /// `[cluster]` is checked at start: the lease timing's rules and the poll interval.
    #[test]
    fn cluster_timing_is_validated() {
        ClusterSettings::default().validate().unwrap();
        for (toml, says) in [
            ("[cluster]\nlease_poll_ms = 0\n", "lease_poll_ms (0)"),
            ("[cluster]\nlease_poll_ms = 1001\n", "lease_poll_ms (1001)"),
            ("[cluster]\nlease_renew_ms = 5000\n", "renew"),
            ("[cluster]\nsecret = \"short\"\n", "16 bytes"),
            ("[cluster]\npeer_queue = 0\n", "peer_queue"),
            ("[cluster]\nmax_peer_request_bytes = 10\n", "4096"),
        ] {
            let s: Settings = toml::from_str(toml).unwrap();
            let e = s.cluster.validate().unwrap_err();
            assert!(e.contains(says), "{toml}: {e}");
        }
    }

    #[test]
    fn store_backend_from_file_and_flags() {
        let s: Settings = toml::from_str(
            "[store]\nbackend = \"scylla\"\n[store.scylla]\ncontact_points = [\"10.0.0.1:9042\"]\nkeyspace = \"sb\"\n",
        )
        .unwrap();
        assert_eq!(s.store.backend, StoreBackend::Scylla);
        assert_eq!(s.store.scylla.keyspace, "sb");
        assert!(s.store.scylla.options().is_ok());
        assert_eq!(Settings::default().store.backend, StoreBackend::Embedded);
        let cli = Cli::parse_from([
            "switchboard",
            "--store",
            "scylla",
            "--scylla-uri",
            "scylla://a,b:9043/ks1",
            "--scylla-datacenter",
            "dc2",
        ]);
        let s = Settings::load(&cli).unwrap();
        assert_eq!(s.store.backend, StoreBackend::Scylla);
        assert_eq!(s.store.scylla.contact_points, vec!["a:9042", "b:9043"]);
        assert_eq!(s.store.scylla.keyspace, "ks1");
        assert_eq!(s.store.scylla.local_datacenter, "dc2");
        let bad = ScyllaSettings {
            read_consistency: "most".into(),
            ..ScyllaSettings::default()
        };
        assert!(bad.options().is_err());
    }
}
