//! A fixed, in-process workload of the customer message path, for counting its
//! instructions (issue 21's regression guard; `loadtest/instructions.sh` runs it under
//! valgrind's callgrind and compares the count with the recorded one).
//!
//! One engine with the embedded store in a temporary directory (on `/dev/shm` when it
//! exists, so the disk does not enter the count), no HTTP traffic, no sockets: the
//! REST door's own function (`ingest::from_rest`) delivers `SB_MESSAGES` (default
//! 10,000) SMS messages from one customer, one after another, each answered once
//! durable. The first opens a conversation in the default queue (no agent is on, so
//! it waits); the rest continue it: validation, identity lookup, the customer actor,
//! the commit through the store writer, the acknowledgement.
//!
//! Sequential on purpose: the store writer then commits one message per group, so the
//! count does not depend on how the threads happened to interleave. It is a count, not
//! a speed: the wall time printed is only a sanity check (the machine's day-to-day
//! spread is large; see BENCHMARKS.md). Nothing here is asserted; behaviour is tested
//! by `tests/api`.
//!
//! Run: `cargo bench --bench message_path` (natively), or `loadtest/instructions.sh`.

use std::sync::Arc;
use std::time::Instant;
use switchboard::actors::ingest::{from_rest, RestInput};
use switchboard::config::Settings;
use switchboard::domain::SystemClock;
use switchboard::startup::Application;

const DEFAULT_MESSAGES: usize = 10_000;

fn main() {
    let messages = std::env::var("SB_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let shm = std::path::Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("sb-message-path-")
        .tempdir_in(parent)
        .expect("a temporary data directory");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("static address"),
        data_dir: dir.path().to_path_buf(),
        workers: 1,
        bootstrap_admin_password: Some("message-path-bench".into()),
        ..Settings::default()
    };
    let sys = actix_rt::System::new();
    sys.block_on(async move {
        let app = Application::build_with_store(settings, Arc::new(SystemClock), Box::new(|s| s))
            .await
            .expect("the engine starts");
        let server = app.server();
        let start = Instant::now();
        for i in 0..messages {
            let done = from_rest(
                &server,
                RestInput {
                    channel: "sms".into(),
                    address: "+819000000001".into(),
                    text: format!("配送状況を教えてください ({i})"),
                    client_msg_id: Some(format!("bench-{i}")),
                    queue: None,
                    requirements: Default::default(),
                    language: None,
                    difficulty: None,
                },
            )
            .await
            .expect("the message is stored");
            assert!(!done.ack.duplicate, "message {i} taken for a retry");
        }
        let took = start.elapsed();
        println!(
            "message_path: {messages} messages in {:.3} s ({:.1} us each)",
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / messages as f64
        );
        actix_rt::System::current().stop();
    });
    drop(dir);
}
