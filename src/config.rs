//! Settings: one typed struct built from defaults, an optional TOML file (`--config`),
//! environment variables and command-line flags, in rising precedence (a flag beats
//! its env var, which beats the file, which beats the default).
//!
//! Every size, rate and time limit the engine enforces is here, with its default.

use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Create agent `admin` with this password if it does not exist.
    #[arg(long, env = "SWITCHBOARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
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
}

/// The embedded store's tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Commits queued for the writer thread beyond which new ones fail with
    /// `unavailable` (back-pressure instead of unbounded memory).
    pub max_pending_writes: usize,
    /// Most commits merged into one durable transaction (group commit).
    pub max_batch: usize,
    /// Page cache, MiB.
    pub cache_mib: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            max_pending_writes: 10_000,
            max_batch: 512,
            cache_mib: 64,
        }
    }
}

/// Size and rate limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest websocket frame / message accepted, bytes.
    pub max_ws_message_bytes: usize,
    /// Largest REST request body, bytes.
    pub max_http_body_bytes: usize,
    /// Longest message or note text, bytes.
    pub max_text_bytes: usize,
    /// Websocket messages per second per connection before `rate_limited` errors.
    pub ws_messages_per_second: u32,
    /// Recent timeline events kept live per customer and sent with a conversation.
    pub recent_events: usize,
    /// Largest `limit` for a timeline page.
    pub max_page: usize,
    /// Password hashes (argon2id, ~19 MiB and tens of ms each) computed at once; further
    /// logins wait their turn, so a login flood cannot exhaust memory.
    pub password_hash_concurrency: usize,
}

/// Timeouts and periods, milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// How long an agent's state outlives its last dropped socket.
    pub agent_grace_ms: u64,
    /// A customer actor with no open socket passivates after this idle time.
    pub customer_idle_ms: u64,
    /// A waiting web-chat customer whose last socket closed is abandoned after this.
    pub visitor_grace_ms: u64,
    /// Lifetime of an agent login token.
    pub agent_token_ttl_ms: u64,
    /// Lifetime of a visitor token.
    pub visitor_token_ttl_ms: u64,
    /// Server pings each socket this often.
    pub heartbeat_ms: u64,
    /// A socket silent for this long is closed.
    pub client_timeout_ms: u64,
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
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_ws_message_bytes: 64 * 1024,
            max_http_body_bytes: 64 * 1024,
            max_text_bytes: 16 * 1024,
            ws_messages_per_second: 50,
            recent_events: 50,
            max_page: 200,
            password_hash_concurrency: 2,
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            agent_grace_ms: 60_000,
            customer_idle_ms: 300_000,
            visitor_grace_ms: 120_000,
            agent_token_ttl_ms: 12 * 3_600_000,
            visitor_token_ttl_ms: 30 * 24 * 3_600_000,
            heartbeat_ms: 5_000,
            client_timeout_ms: 30_000,
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
}

impl Settings {
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
        s.demo |= cli.demo;
        if cli.admin_password.is_some() {
            s.bootstrap_admin_password = cli.admin_password.clone();
        }
        Ok(s)
    }
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
}
