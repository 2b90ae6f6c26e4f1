//! `loadtest`: load-test harness for a running Switchboard engine, as a library (the
//! `loadtest` binary and the engine's smoke test both call it).
//!
//! Drives the engine over real sockets (REST + websockets) using only the documented
//! wire protocol (docs/protocol.md, docs/api.md), with the protocol crate's types
//! (`switchboard-protocol`, the ones the engine speaks); it never links the engine crate.
//!
//! # Layout
//! - [`messages`] (with `agent`, `customer`, and what they share about their sockets:
//!   `client`): the `messages` mode, steady message load over pre-opened conversations.
//! - [`failover`]: the `failover` mode, steady chat traffic while an engine is killed;
//!   clients reconnect and resend, and its ledger accounts for every message.
//! - [`nodes`]: the engine nodes of a run (`--url`, one or several), which node each
//!   client tries first and next, the backoff between rounds.
//! - [`scenario`]: the `scenario` mode, contact-center traffic from a scenario file
//!   (Poisson arrivals, handle times, abandonment, channel mix) with correctness
//!   accounting, time series, charts.
//! - [`erlang`]: the Erlang C model and the `erlang` validation run.
//! - [`relay`]: the bare websocket relay baseline, its measurement and engine/relay ratios.
//! - [`frames`]: lenient reading of server frames (unknown `type`s skipped) and writing
//!   of client frames; [`stamp`]: the correlation stamp in every message text; [`net`]:
//!   REST calls and websocket connections; [`stats`]: counters and HDR histograms;
//!   [`procfs`]: a local engine's RSS and CPU; [`clock`]: the process-wide monotonic
//!   clock every latency is read from.

pub mod agent;
pub mod client;
pub mod clock;
pub mod customer;
pub mod erlang;
pub mod failover;
pub mod frames;
pub mod messages;
pub mod net;
pub mod nodes;
pub mod placement;
pub mod procfs;
pub mod relay;
pub mod scenario;
pub mod stamp;
pub mod stats;

pub use scenario::{run_scenario, ScenarioArgs, ScenarioReport};
