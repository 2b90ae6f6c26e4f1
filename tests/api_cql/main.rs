//! The engine end to end on the CQL store: a defined part of `tests/api` — the same test
//! files, compiled a second time — with every engine (in-process and the real binary)
//! running `--store scylla` against the Cassandra or ScyllaDB named by `SCYLLA_URI`,
//! each test in a keyspace of its own. `./scripts/test.sh` starts a real Apache
//! Cassandra for it; without `SCYLLA_URI` these tests fail, they never skip.
//!
//! Which areas run here, and why the others do not, is in docs/testing.md.

// The shared helper modules carry functions only the embedded-store areas use.
#![allow(dead_code)]

/// The store every engine of this binary runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Cql;

#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/novices.rs"]
mod novices;
#[path = "../api/process.rs"]
mod process;
#[path = "../api/recorder.rs"]
mod recorder;

#[path = "../api/callbacks.rs"]
mod callbacks;
#[path = "../api/channels.rs"]
mod channels;
#[path = "../api/chat_flow.rs"]
mod chat_flow;
#[path = "../api/cluster_view.rs"]
mod cluster_view;
#[path = "../api/concurrency.rs"]
mod concurrency;
#[path = "../api/connectors.rs"]
mod connectors;
#[path = "../api/exactly_once.rs"]
mod exactly_once;
#[path = "../api/faults.rs"]
mod faults;
#[path = "../api/files.rs"]
mod files;
#[path = "../api/funnel.rs"]
mod funnel;
#[path = "../api/help.rs"]
mod help;
#[path = "../api/identity.rs"]
mod identity;
#[path = "../api/ivr.rs"]
mod ivr;
#[path = "../api/live_ivr.rs"]
mod live_ivr;
#[path = "../api/notify.rs"]
mod notify;
#[path = "../api/privacy.rs"]
mod privacy;
#[path = "../api/reports.rs"]
mod reports;
#[path = "../api/responses.rs"]
mod responses;
#[path = "../api/restart.rs"]
mod restart;
#[path = "../api/routing.rs"]
mod routing;
#[path = "../api/scenario.rs"]
mod scenario;
#[path = "../api/search.rs"]
mod search;
#[path = "../api/service_level.rs"]
mod service_level;
#[path = "../api/shutdown.rs"]
mod shutdown;
#[path = "../api/simulate.rs"]
mod simulate;
#[path = "../api/skills.rs"]
mod skills;
#[path = "../api/start.rs"]
mod start;
#[path = "../api/stream.rs"]
mod stream;
#[path = "../api/supervisor.rs"]
mod supervisor;
#[path = "../api/survey.rs"]
mod survey;
#[path = "../api/wrapup.rs"]
mod wrapup;

// Only on the CQL store.
mod clock_skew;
mod cluster_page;
mod lost_pushes;
mod netns;
mod partition;
mod relay;
mod rolling;
mod spread;
mod spread_calls;
mod spread_config;
mod spread_follow;
mod spread_kb;
mod spread_stream;
mod standby;
mod store_down;
