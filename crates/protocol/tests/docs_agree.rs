//! docs/protocol.md and the wire types say the same: every message `type` each socket
//! sends or accepts is documented in its section, every documented one exists, and the
//! error-code table lists exactly the codes there are. The variant names come from
//! serde itself (the "unknown variant …, expected one of …" list), so a renamed or
//! added message fails here until the document has it.

use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use switchboard_protocol::{
    AgentClientMsg, AgentServerMsg, ChatClientMsg, ChatServerMsg, ErrorCode, SupervisorClientMsg,
    SupervisorServerMsg,
};

/// The names serde accepts for `T`, read from its error for an unknown one.
fn variants<T: DeserializeOwned>(wrap: impl Fn(&str) -> serde_json::Value) -> BTreeSet<String> {
    let err = match serde_json::from_value::<T>(wrap("\u{1}no such name")) {
        Ok(_) => panic!("a made-up name was accepted"),
        Err(e) => e.to_string(),
    };
    let (_, expected) = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("no variant list in: {err}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn message_types<T: DeserializeOwned>() -> BTreeSet<String> {
    variants::<T>(|name| serde_json::json!({"type": name}))
}

/// The message names documented under the heading `heading` of docs/protocol.md: table
/// rows (`| \`name\` |`), bullets (`- \`name\`` and `- \`a\`, \`b\` as above`) and
/// paragraphs that open with `` `name` — ``.
fn documented(doc: &str, heading: &str) -> BTreeSet<String> {
    let start = doc
        .lines()
        .position(|l| l.starts_with('#') && l.contains(heading))
        .unwrap_or_else(|| panic!("docs/protocol.md has no heading {heading:?}"));
    let mut names = BTreeSet::new();
    for line in doc.lines().skip(start + 1) {
        if line.starts_with('#') {
            break;
        }
        let ticked = |s: &str| -> Vec<String> {
            s.split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .map(str::to_owned)
                .collect()
        };
        if let Some(row) = line.strip_prefix("| `") {
            names.extend(ticked(&format!("`{}", row.split('|').next().unwrap_or(""))));
        } else if let Some(bullet) = line.strip_prefix("- ") {
            // The names before the first description: `a`, `b` as above / `a` `{…}` — …
            let head = bullet.split(['—', '{', '(']).next().unwrap_or("");
            names.extend(ticked(head.split(" as above").next().unwrap_or("")));
        } else if line.starts_with('`') && line.contains("` —") {
            names.extend(
                ticked(line.split("` —").next().unwrap_or(""))
                    .into_iter()
                    .take(1),
            );
        }
    }
    names
}

fn assert_same(what: &str, code: BTreeSet<String>, doc: BTreeSet<String>) {
    let missing: Vec<_> = code.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: in the code but not in docs/protocol.md: {missing:?}; \
         documented but not in the code: {extra:?}"
    );
}

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    std::fs::read_to_string(path).expect("docs/protocol.md is readable")
}

#[test]
fn every_message_type_is_documented_and_every_documented_one_exists() {
    let doc = protocol_md();
    for (what, code, heading) in [
        (
            "agent → server",
            message_types::<AgentClientMsg>(),
            "Agent → server",
        ),
        (
            "server → agent",
            message_types::<AgentServerMsg>(),
            "Server → agent",
        ),
        (
            "customer → server",
            message_types::<ChatClientMsg>(),
            "Customer → server",
        ),
        (
            "server → customer",
            message_types::<ChatServerMsg>(),
            "Server → customer",
        ),
        (
            "supervisor → server",
            message_types::<SupervisorClientMsg>(),
            "Supervisor → server",
        ),
        (
            "server → supervisor",
            message_types::<SupervisorServerMsg>(),
            "Server → supervisor",
        ),
    ] {
        assert!(code.len() >= 3, "{what}: read the variants: {code:?}");
        assert_same(what, code, documented(&doc, heading));
    }
}

#[test]
fn the_error_code_table_lists_every_code() {
    let doc = protocol_md();
    let code = variants::<ErrorCode>(|name| serde_json::Value::String(name.into()));
    let start = doc
        .lines()
        .position(|l| l.starts_with("| code |"))
        .expect("docs/protocol.md has the error-code table");
    let table: BTreeSet<String> = doc
        .lines()
        .skip(start + 2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert_same("error codes", code, table);
}
