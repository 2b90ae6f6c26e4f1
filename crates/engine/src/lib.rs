//! Switchboard's engine: the actors that own customers, agents and queues, the
//! registry that finds or activates them, the one ingest door every input goes
//! through, and the ports the server and the channel connectors plug into.
//!
//! The engine names no provider and no wire frame: sessions translate frames into the
//! actors' messages ([`actors::messages`]), connectors turn webhooks into
//! [`actors::ingest::InboundMessage`]s and take replies as [`outbound::Delivery`]s
//! through the [`outbound::Outbound`] port.
//!
//! # Modules
//! - [`actors`]: `CustomerActor`, `AgentActor`, `QueueActor`, the live hub, the
//!   registry ([`Engine`]) and the ingest door.
//! - [`settings`]: what the engine reads from the configuration ([`EngineSettings`]).
//! - [`outbound`] (in `actors`): a reply to deliver and the port that delivers it.
//! - [`ports`]: the other services the server plugs in (knowledge-base answers for the
//!   bot, the CRM prefetch).
//! - [`login`]: the identities a verified customer login proves.
//! - [`notify`]: proactive notifications' pure core (`switchboard-notify`).
//! - [`auth`]: password hashing and signed tokens.
//! - [`calls`]: browser calls' settings and the ICE servers each side is given.
//! - [`articles`]: reading a knowledge-base article from the store (for the IVR).
//! - [`redact`]: log redaction of personal text.
//! - [`tombstones`]: the keyed hashes an erasure leaves of provider message ids.
//! - [`metrics`]: Prometheus metric definitions.
//! - [`ownership`]: the cluster's ownership loop (membership, taking, renewing and
//!   handing over leases) as a driver of the cluster core's decisions.
//! - [`peers`]: node-to-node messages to a key's owner (bounded per-peer queues,
//!   batches, deadlines, `moved` answers) over the server's transport.
//! - [`quorum`]: a spread node's watch of which members it reaches; one cut off from
//!   a majority stands aside.

pub mod actors;
pub mod articles;
pub mod auth;
pub mod budget;
pub mod calls;
pub mod login;
pub mod metrics;
pub mod ownership;
pub mod peers;
pub mod ports;
pub mod quorum;
pub mod redact;
pub mod settings;
pub mod tombstones;

pub use actors::{outbound, Engine};
pub use settings::EngineSettings;
/// Proactive notifications' pure core (`switchboard-notify`), under the name the
/// actors use; the scheduler task is `actors::customer::notify::scheduler`.
pub use switchboard_notify as notify;

// The layers below, under the names the engine's modules use.
pub(crate) use ::bot;
pub(crate) use ::domain;
pub(crate) use ::ivr;
pub(crate) use ::live;
pub(crate) use ::reports;
pub(crate) use ::routing;
pub(crate) use ::store;
pub(crate) use ::survey;
pub(crate) use domain::template;
