//! The actors: one [`customer::CustomerActor`] per active customer, one
//! [`queue::QueueActor`] per queue, one [`agent::AgentActor`] per logged-in agent, and
//! the [`registry::Engine`] handle that finds or activates them.
//!
//! Call discipline (prevents deadlock; see ARCHITECTURE.md): a customer actor may await
//! a queue actor; an agent actor may await customer and queue actors; a queue actor
//! never awaits anyone inside a handler (it spawns the futures whose replies it needs);
//! nothing awaits an agent actor inside a handler. So no cycle of waits can form.
//! The [`hub::LiveHub`] is awaited by nobody on the routing path: actors tell it
//! facts with `Engine::live` (`try_send`, dropped if its mailbox is full).
//!
//! Actors are named by id, not address: `Engine::ask` / `tell` ([`mail`]) deliver here
//! or to the node holding the actor's key (spread placement; [`keys`] starts and stops
//! the actors of the keys this node gains and loses).
//!
//! [`ivr_versions`] (the IVR tree in force, saved as numbered versions) and [`wrapup`]
//! (the managed wrap-up codes) are configuration every node keeps in memory and
//! re-reads when a member changes it ([`mail::ConfigChanged`]).

pub mod agent;
pub mod customer;
pub mod files;
pub mod hub;
pub mod ingest;
pub mod ivr_versions;
pub mod keys;
pub mod mail;
pub mod messages;
pub mod outbound;
pub mod privacy;
pub mod queue;
pub mod registry;
pub mod sessions;
pub mod stitching;
pub mod survey_config;
pub mod timeline;
pub mod versioned;
pub mod wrapup;

pub use registry::{AfterHoursPlan, Engine};
