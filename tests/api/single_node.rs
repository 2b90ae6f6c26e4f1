//! The embedded store serves one node (docs/cluster.md): a second engine started on the
//! same data directory is refused with an error that says why and what to do, and the
//! first carries on. Embedded store only: on the CQL store a second engine is a
//! standby (`tests/api_cql/standby.rs`).

use crate::helpers::*;
use crate::process::{free_port, start};
use serde_json::json;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), free_port(), &[]).await;
    let token = first.login("admin").await;

    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("the second engine runs");
    assert!(!out.status.success(), "refused: {}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by another engine")
            && stderr.contains("the embedded store serves one node"),
        "says why:\n{stderr}"
    );

    // The first engine was not disturbed.
    let (s, v) = first
        .send_json(
            &token,
            "POST",
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+818099990000", "text": "still here",
                   "client_msg_id": "one-node-1"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
}
