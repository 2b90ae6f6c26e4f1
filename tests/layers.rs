//! The crate graph is the architecture (ARCHITECTURE.md, "The crate graph"): this test
//! reads every `crates/*/Cargo.toml` and checks that each crate depends only on the
//! workspace crates below it, that only the engine runs actors, that only the
//! connectors use a web framework, an HTTP client or the mail sender (and none the
//! websocket sessions or the search index: the server's), and that the pure cores do
//! no I/O (no async runtime, no database driver; the stores, the SMTP transport, the
//! engine and the connectors may). It also checks that no crate but the connectors
//! names a provider in its code, and, from `loadtest/Cargo.toml`, that the harness links no workspace
//! crate but the protocol. Cargo already refuses cycles; this keeps the order and the
//! purity from eroding one `cargo add` at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each workspace crate, up to the engine, and the workspace crates it may use. The
/// server (the root package) sits on top and may use them all.
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
    ("cluster", &["domain"]),
    ("store", &["domain", "cluster"]),
    ("store-scylla", &["domain", "store", "cluster"]),
    ("smtp", &["domain"]),
    (
        "engine",
        &[
            "domain", "store", "routing", "reports", "live", "survey", "notify", "bot", "ivr",
            "cluster",
        ],
    ),
    (
        "channels",
        &[
            "domain", "protocol", "store", "ivr", "survey", "smtp", "engine", "cluster",
        ],
    ),
];

/// Crates that do I/O: the storage crates, the SMTP transport, the engine and the
/// connectors may use them; the pure cores may not.
const IO: &[&str] = &[
    "tokio",
    "redb",
    "scylla",
    "rustls",
    "futures-util",
    "dashmap",
];
/// The actor runtime: the engine's alone among the crates.
const ACTORS: &[&str] = &["actix", "actix-rt"];
/// The HTTP server and clients and the mail transport: the connectors' and the
/// server's.
const DOORS: &[&str] = &["actix-web", "reqwest", "lettre"];
/// The websocket sessions and the search index: the server's alone.
const SERVER_ONLY: &[&str] = &["actix-web-actors", "tantivy", "lindera"];

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
fn every_crate_keeps_its_layer() {
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
                !SERVER_ONLY.contains(&package.as_str()),
                "switchboard-{krate} depends on {package}: only the server may"
            );
            assert!(
                *krate == "channels" || !DOORS.contains(&package.as_str()),
                "switchboard-{krate} depends on {package}: only the connectors and the server may"
            );
            assert!(
                *krate == "engine" || !ACTORS.contains(&package.as_str()),
                "switchboard-{krate} depends on {package}: only the engine runs actors"
            );
            // The stores, the SMTP transport, the engine and the connectors do I/O; the
            // cores do none.
            let io = krate.starts_with("store") || ["smtp", "engine", "channels"].contains(krate);
            assert!(
                io || !IO.contains(&package.as_str()),
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

/// Nothing below the connectors names a provider: the crates speak of channels
/// (`sms`, `line`, `messenger`, `whatsapp`), and only `switchboard-channels` knows Twilio, Meta or
/// LINE's APIs. A text check over the code of every other `crates/*/src` file,
/// comments excluded.
#[test]
fn no_crate_below_the_connectors_names_a_provider() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut files = vec![];
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("crates/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("channels"))
        .collect();
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 50, "found the crates' files");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        for (n, line) in text.lines().enumerate() {
            // `whatsapp` is a channel's name, as `line` is: its provider is Meta's
            // Graph API (`graph.`, `biz_opaque_callback_data`, `messaging_product`).
            // So is `facebook_comments` (the Page's public comments), which is not
            // Facebook's API either.
            let code = code_of(line)
                .to_lowercase()
                .replace("facebook_comments", "")
                .replace("facebookcomments", "");
            for provider in [
                "twilio",
                "facebook",
                "line.me",
                "x-line-",
                "graph.",
                "twitter",
                "api.x.com",
                "biz_opaque",
                "messaging_product",
            ] {
                assert!(
                    !code.contains(provider),
                    "{}:{}: names the provider {provider:?}",
                    f.display(),
                    n + 1
                );
            }
        }
    }
}

/// `line` without its comment: everything before the first `//` outside a string.
fn code_of(line: &str) -> &str {
    let mut in_str = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_str => escaped = true,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

#[test]
fn comments_are_cut_outside_strings_only() {
    assert_eq!(
        code_of(r#"let u = "https://x"; // note"#),
        r#"let u = "https://x"; "#
    );
    assert_eq!(code_of("/// doc"), "");
    assert_eq!(code_of(r#"let s = "a\"//"; // c"#), r#"let s = "a\"//"; "#);
}

/// Inside each crate, the top-level modules in layer order, lowest first: a module may
/// name (through `crate::` or a top-level `super::`) only modules before it in its
/// list. Names not listed are the crate's re-exports of the crates below it. The
/// actors are one module on purpose: the customer, agent and queue actors message one
/// another both ways.
const MODULE_LAYERS: &[(&str, &[&str])] = &[
    (
        "crates/engine/src",
        &[
            "calls",
            "settings",
            "redact",
            "articles",
            "login",
            "ports",
            "auth",
            "metrics",
            "budget",
            "tombstones",
            "ownership",
            "peers",
            "quorum",
            "actors",
        ],
    ),
    (
        "crates/channels/src",
        &[
            "oauth1",
            "config",
            "login",
            "signature",
            "gateway",
            "webhook",
            "media",
            "connector",
            "file_links",
            "public",
            "facebook_comments",
            "x_mentions",
            "twilio_sms",
            "twilio_voice",
            "line",
            "messenger",
            "instagram",
            "whatsapp",
            "x",
            "email",
            "registry",
            "outbound",
            "stream",
        ],
    ),
    (
        "src",
        &[
            "store", "schema", "crm", "kb", "search", "oidc", "config", "security", "peering",
            "server", "ws", "api", "active", "demo", "fuzz", "startup",
        ],
    ),
];

/// The top-level module names `code` refers to from a file `depth` folders below the
/// crate root (`foo.rs` and `foo/mod.rs` are depth 1): `crate::name`, and `super::name`
/// where `super` is the crate root. `crate::Server` and `crate::Gateway` are the
/// root's re-exports of `server::Server` and `gateway::Gateway`.
fn module_refs(code: &str, depth: usize) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut refs = vec![];
    let mut prefixes = vec!["crate::"];
    match depth {
        1 => prefixes.push("super::"),
        2 => prefixes.push("super::super::"),
        _ => {}
    }
    for prefix in prefixes {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            // `super::super::x` also contains `super::x`; only the full prefix counts.
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let name = ident(rest);
            match name.as_str() {
                "Server" => refs.push("server".into()),
                "Gateway" => refs.push("gateway".into()),
                _ => refs.push(name),
            }
        }
    }
    refs
}

#[test]
fn modules_import_only_downward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (dir, order) in MODULE_LAYERS {
        let src = root.join(dir);
        let mut files = vec![];
        let mut dirs = vec![src.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("readable dir") {
                let p = e.expect("dir entry").path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let mut on_disk = BTreeSet::new();
        for f in &files {
            let rel = f.strip_prefix(&src).expect("below the crate root");
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let top = parts[0].trim_end_matches(".rs").to_owned();
            if top == "lib" || top == "main" {
                continue;
            }
            on_disk.insert(top.clone());
            let depth = parts.len() - usize::from(parts.last().is_some_and(|l| l == "mod.rs"));
            let rank = order.iter().position(|m| *m == top);
            let text = std::fs::read_to_string(f).expect("readable");
            for (n, line) in text.lines().enumerate() {
                for r in module_refs(code_of(line), depth) {
                    let Some(theirs) = order.iter().position(|m| *m == r) else {
                        continue;
                    };
                    assert!(
                        r == top || rank.is_some_and(|mine| theirs < mine),
                        "{}:{}: `{top}` names `{r}`, which is not below it in {dir}",
                        f.display(),
                        n + 1
                    );
                }
            }
        }
        let listed: BTreeSet<String> = order.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(
            on_disk, listed,
            "every top-level module of {dir} has its layer"
        );
    }
}

#[test]
fn module_refs_reads_crate_and_root_super_paths() {
    assert_eq!(
        module_refs("use crate::kb::Hit; crate::Server", 1),
        ["kb", "server"]
    );
    assert_eq!(module_refs("use super::webhook::x;", 1), ["webhook"]);
    assert_eq!(
        module_refs("use super::webhook::x;", 2),
        Vec::<String>::new()
    );
    assert_eq!(module_refs("super::super::config::X", 2), ["config"]);
    assert_eq!(module_refs("my_crate::kb", 1), Vec::<String>::new());
}
