//! Switchboard: an omnichannel contact-center engine.
//!
//! Every channel lands in one customer, one timeline, one conversation; each
//! conversation is routed in real time to the right agent, who works in a browser over
//! a websocket.
//!
//! # Layout
//! - [`domain`]: the `switchboard-domain` crate (re-exported): ids, parsed newtypes,
//!   channels, conversations, timeline events, shared errors, time. Plain data.
//! - [`template`]: message templates (in `switchboard-domain`).
//! - [`routing`]: the pure routing core (waiting order, agent index, strategies). No I/O.
//! - [`actors`]: the engine (`switchboard-engine`): `CustomerActor`, `QueueActor`,
//!   `AgentActor`, the live hub, the registry (`Engine`) and the ingest door.
//! - [`server`]: [`Server`], the handle the doors take: the engine plus the full
//!   settings, password hashing, security guards, the CRM client and the knowledge
//!   base, plugged into the engine's ports.
//! - [`store`]: the `Store` trait, the embedded (redb) backend and its conformance suite.
//! - [`ws`]: the thin session actors; `ws::protocol` is the `switchboard-protocol` crate.
//! - [`channels`]: connectors (Twilio SMS/voice, LINE, Messenger, email over SMTP, video):
//!   webhooks and SMTP in, provider API calls out, all through one ingest door.
//! - [`api`]: REST, websocket upgrade routes, health, metrics, static web clients.
//! - [`live`]: live supervisor figures (the live hub's pure state). No I/O.
//! - [`metrics`]: Prometheus metric definitions (in the engine crate).
//! - [`reports`]: historical reports computed from the report event log. No I/O.
//! - [`bot`]: the FAQ bot's pure core (`switchboard-bot`). No I/O.
//! - [`ivr`]: the IVR core (`switchboard-ivr`); `config::Settings` builds its tree.
//! - [`kb`]: the knowledge base (tantivy index, Japanese tokenizer).
//! - [`survey`], [`notify`]: CSAT surveys and proactive notifications (pure cores in
//!   `switchboard-survey` / `switchboard-notify`; `notify`, from the engine crate, adds
//!   the scheduler task).
//! - [`canned`], [`crm`]: agent assist — canned responses (`switchboard-canned`) and the
//!   CRM lookup client with its cache.
//! - [`schema`]: OpenAPI schemas of the lower crates' types (for `api::openapi`).
//! - [`peers`], [`peering`]: node-to-node messages to a key's owner (the engine's
//!   queues and rules) and their HTTP wire (the client and the receiving route).
//! - [`security`]: staff token revocation, login throttling, the websocket `Origin`
//!   check, log redaction.
//! - [`auth`]: password hashing and signed tokens (in the engine crate).
//! - [`oidc`]: staff single sign-on with OpenID Connect (discovery, JWKS, PKCE, ID-token
//!   checks, IdP groups to roles).
//! - [`config`]: settings from defaults, file, env and flags, and their projection into
//!   the engine's settings.
//! - [`startup`]: building and running the application; recovery after restart.
//! - [`demo`]: demo queues and agents.
//! - [`fuzz`]: entry points that fuzzing and property tests drive every parser through.
//!
//! See ARCHITECTURE.md for the map and the invariants.

pub use switchboard_engine::actors;
pub mod active;
pub mod api;
pub use cluster;
pub use switchboard_bot as bot;
pub use switchboard_canned as canned;
pub use switchboard_channels as channels;
pub use switchboard_engine::auth;
pub use switchboard_engine::budget;
pub use switchboard_engine::calls;
pub mod config;
pub mod crm;
pub mod demo;
pub use switchboard_domain as domain;
pub mod fuzz;
pub use switchboard_ivr as ivr;
pub mod kb;
pub mod oidc;
pub use switchboard_engine::metrics;
pub use switchboard_engine::notify;
pub use switchboard_engine::ownership;
pub mod peering;
pub use switchboard_engine::peers;
pub use switchboard_live as live;
pub use switchboard_reports as reports;
pub use switchboard_routing as routing;
pub mod schema;
pub mod search;
pub mod security;
pub mod server;
pub use server::Server;
pub mod startup;
pub mod store;
pub use switchboard_domain::template;
pub use switchboard_survey as survey;
pub mod ws;
