//! Integration tests: the running engine driven over real sockets (HTTP + websockets).
//! One test binary (faster to link); one module per area. Every engine here runs on the
//! embedded store; `tests/api_cql` runs a defined part of these modules on the CQL store.

/// The store every engine of this binary runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Embedded;

mod anonymous;
mod audit_trail;
mod bad_input;
mod bot;
mod browser;
mod browser_calls;
mod callbacks;
mod canned;
mod channels;
mod chat_flow;
mod cluster_view;
mod concurrency;
mod crm;
mod demo;
mod email;
mod exactly_once;
mod faults;
mod files;
mod funnel;
mod help;
mod helpers;
mod hours;
mod identity;
mod ivr;
mod kb;
mod loadtest_smoke;
mod media;
mod meta;
mod notify;
mod novices;
mod openapi;
mod overload;
mod parking;
mod privacy;
mod process;
mod prometheus;
mod public_social;
mod recorder;
mod reports;
mod responses;
mod restart;
mod routing;
mod scenario;
mod security;
mod service_level;
mod shutdown;
mod simulate;
mod single_node;
mod skills;
mod start;
mod static_files;
mod supervisor;
mod survey;
mod twiml;
mod voice_agent_phone;
mod voice_recording;
mod voice_room;
mod voice_softphone;
mod voice_survey;
mod voice_transfer;
mod whatsapp_ivr;
mod x;
