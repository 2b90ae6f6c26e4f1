//! The crate graph is the architecture (ARCHITECTURE.md, "The crate graph"): this test
//! reads every `crates/*/Cargo.toml` and checks that each crate depends only on the
//! workspace crates below it, that nothing below the engine names actix, a web
//! framework, an HTTP client or a provider SDK, and that the pure cores do no I/O
//! (no async runtime, no database driver; the stores and the SMTP transport may); and
//! `loadtest/Cargo.toml`, that the harness links no workspace crate but the protocol.
//! Cargo already refuses cycles; this keeps the order and the purity from eroding one
//! `cargo add` at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each workspace crate below the engine and the workspace crates it may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("protocol", &["domain"]),
    ("routing", &["domain"]),
    ("reports", &["domain"]),
    ("survey", &["domain"]),
    ("canned", &["domain"]),
    ("bot", &["domain"]),
    ("ivr", &["domain"]),
    ("live", &["domain"]),
    ("notify", &["domain", "survey"]),
    ("store", &["domain"]),
    ("store-scylla", &["domain", "store"]),
    ("smtp", &["domain"]),
];

/// Crates that do I/O: the storage crates and the SMTP transport may use the first
/// group, nothing below the engine may use the second.
const STORAGE_ONLY: &[&str] = &[
    "tokio",
    "redb",
    "scylla",
    "rustls",
    "futures-util",
    "dashmap",
];
const ENGINE_AND_ABOVE: &[&str] = &[
    "actix",
    "actix-web",
    "actix-web-actors",
    "actix-rt",
    "reqwest",
    "lettre",
    "tantivy",
    "lindera",
];

/// (package name → renamed key) of the `[dependencies]` of `manifest`.
fn dependencies(manifest: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(manifest).expect("manifest is readable");
    let doc: toml::Table = text.parse().expect("manifest is TOML");
    let deps = doc
        .get("dependencies")
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();
    deps.iter()
        .map(|(key, spec)| {
            let package = spec
                .get("package")
                .and_then(|p| p.as_str())
                .unwrap_or(key)
                .to_owned();
            (package, key.clone())
        })
        .collect()
}

#[test]
fn every_crate_below_the_engine_keeps_its_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let on_disk: BTreeSet<String> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let listed: BTreeSet<String> = LAYERS.iter().map(|(c, _)| (*c).to_owned()).collect();
    assert_eq!(on_disk, listed, "a new crate needs its row in LAYERS");

    for (krate, allowed) in LAYERS {
        let deps = dependencies(&root.join("crates").join(krate).join("Cargo.toml"));
        for package in deps.keys() {
            if let Some(ours) = package.strip_prefix("switchboard-") {
                assert!(
                    allowed.contains(&ours),
                    "switchboard-{krate} depends on {package}, which is not below it"
                );
            }
            assert!(
                !ENGINE_AND_ABOVE.contains(&package.as_str()),
                "switchboard-{krate} depends on {package}: only the engine and above may"
            );
            // The stores and the SMTP transport do I/O; the pure cores do none.
            let io = krate.starts_with("store") || *krate == "smtp";
            assert!(
                io || !STORAGE_ONLY.contains(&package.as_str()),
                "pure core switchboard-{krate} depends on {package} (I/O)"
            );
        }
    }
}

/// The load-test harness drives the engine over its sockets only: of the workspace's
/// crates it links the protocol (the wire types both ends share) and nothing else, never
/// the engine, so it cannot reach past the wire.
#[test]
fn the_harness_links_only_the_protocol() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deps = dependencies(&root.join("loadtest").join("Cargo.toml"));
    assert!(
        deps.contains_key("switchboard-protocol"),
        "loadtest speaks the wire through switchboard-protocol"
    );
    for package in deps.keys() {
        if package == "switchboard" || package.starts_with("switchboard-") {
            assert_eq!(
                package, "switchboard-protocol",
                "loadtest depends on {package}: the harness may link only the protocol"
            );
        }
    }
}

/// Inside the engine crate, until the actors become their own crate: no actor module
/// names the websocket layer (its frames), the REST layer or start-up. Sessions
/// translate frames into actor messages and notices back into frames, so an actor
/// never sees the wire. A plain text check over `src/actors/`, comments excluded.
#[test]
fn actors_do_not_reach_up_to_the_server() {
    let mut files = vec![];
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actors")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("src/actors is readable") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 10, "found the actor files");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for upward in [
                "crate::ws",
                "crate::api",
                "crate::startup",
                "switchboard_protocol",
            ] {
                assert!(
                    !code.contains(upward),
                    "{}:{}: an actor names {upward}",
                    f.display(),
                    n + 1
                );
            }
        }
    }
}
