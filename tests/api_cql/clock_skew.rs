//! A node whose clock is too far from the store's is refused before it joins
//! (docs/cluster.md, "Clock skew"): the real binary, its wall clock moved by libfaketime
//! (Debian's `faketime`, installed by the test command; its monotonic clock left
//! alone), against the real CQL store. Lease expiry times written by one node are read
//! by others, so a clock that disagrees beyond the bound would make a live holder look
//! lapsed (or a dead one live): the engine exits with an error saying which way and by
//! how much, and never takes a lease.

use crate::process::{free_port, spawn_logging};

/// libfaketime's multi-threaded library (`apt-get install faketime`). Not skipped when
/// missing: the test command installs it.
fn libfaketime() -> String {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|arch| arch.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists());
    found
        .unwrap_or_else(|| {
            panic!("libfaketime is not installed: apt-get install faketime (scripts/test.sh does)")
        })
        .display()
        .to_string()
}

/// The engine under a wall clock `offset` (libfaketime's syntax: `+10s`, `-5s`).
fn skewed(dir: &std::path::Path, offset: &str) -> crate::process::Proc {
    let lib = libfaketime();
    spawn_logging(
        dir,
        free_port(),
        &[
            ("LD_PRELOAD", &lib),
            ("FAKETIME", offset),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("RUST_LOG", "info"),
        ],
    )
}

async fn refused(offset: &str, way: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = skewed(dir.path(), offset);
    let status = p.exited().await;
    let log = p.stderr_text();
    assert!(!status.success(), "{status}\n{log}");
    assert!(log.contains("clock skew"), "{log}");
    assert!(log.contains(way), "{log}");
    assert!(log.contains("cluster.clock_skew_ms = 250"), "{log}");
    // It measured before anything else: it never joined.
    assert!(!log.contains("active: this engine holds"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_clock_is_ahead_or_behind_the_stores_is_refused() {
    refused("+10s", "ahead of the store's").await;
    refused("-10s", "behind the store's").await;
}
