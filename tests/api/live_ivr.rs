//! The IVR tree edited live (docs/ivr.md "Editing the tree live"): a save is checked
//! field by field and changes nothing when refused, a dry run only checks, a saved
//! version is in force at once for the visual IVR's read and for the chat door (a
//! queue becomes a chat option without a restart), a stale edit is 409, a rollback is a
//! new version with the old tree, and the versions outlive a restart, winning over the
//! configuration file's tree.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::config::Settings;

/// The configuration file's tree (version 0): main → 1 chat billing, 2 faq submenu.
fn configured(s: &mut Settings) {
    let tree: switchboard::ivr::Tree = serde_json::from_value(v0()).unwrap();
    s.ivr.root = tree.root;
    s.ivr.menus = tree.menus;
}

fn v0() -> Value {
    json!({
        "root": "main",
        "menus": [
            {"id": "main", "prompt": {"ja": "ご用件をお選びください", "en": "How can we help?"}, "options": [
                {"key": "1", "phrases": [], "label": {"ja": "請求について", "en": "Billing"}, "action": {"chat": "billing"}},
                {"key": "2", "phrases": [], "label": {"ja": "よくある質問", "en": "FAQ"}, "action": {"menu": "faq"}},
            ]},
            {"id": "faq", "prompt": {"ja": "質問を選んでください", "en": "Pick a question"}, "options": [
                {"key": "1", "phrases": [], "label": {"ja": "営業時間", "en": "Opening hours"}, "action": {"article": "hours"}},
                {"key": "9", "phrases": [], "label": {"ja": "戻る", "en": "Back"}, "action": "back"},
            ]},
        ]
    })
}

async fn get_ivr(app: &TestApp, if_none_match: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = app.http.get(format!("{}/api/v1/ivr", app.base));
    if let Some(e) = if_none_match {
        req = req.header("If-None-Match", e);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, etag, body)
}

async fn current(app: &TestApp) -> Value {
    let (st, v) = app.get("/api/v1/ivr/versions").await;
    assert_eq!(st, 200, "{v}");
    v
}

/// The console's IVR editor in Chromium (clients/tests/admin_ivr.mjs): a bad edit
/// refused field by field, a save seen by a fresh chat widget without a restart, a
/// rollback seen the same way, a stale save refused. Then here: what the store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_edits_the_ivr_live_and_rolls_it_back_in_a_real_browser() {
    let app = spawn_app(configured).await;
    app.queue("billing", json!({})).await;
    app.queue("general", json!({})).await;
    run_browser_script(
        &app,
        "admin_ivr.mjs",
        &[("ADMIN_ID", "admin"), ("ADMIN_PASSWORD", ADMIN_PASSWORD)],
        "admin ivr browser test passed",
    )
    .await;
    let list = current(&app).await;
    assert_eq!(list["current"], 2, "{list}");
    assert_eq!(list["versions"][1]["note"], "rename billing");
    assert_eq!(list["versions"][0]["restored_from"], 0);
    let (_, one) = app.get("/api/v1/ivr/versions/1").await;
    let labels: Vec<&str> = one["tree"]["menus"][0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"]["en"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Billing and invoices", "FAQ", "Talk to us"]);
    assert_eq!(
        get_ivr(&app, None).await.2,
        v0(),
        "version 0's tree is in force"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ivr_tree_is_edited_live_with_versions_and_rollback() {
    let app = spawn_app(configured).await;
    app.queue("billing", json!({})).await;
    app.queue("sales", json!({})).await;

    let (st, etag, tree) = get_ivr(&app, None).await;
    assert_eq!((st, etag.as_deref()), (200, Some("\"ivr-0\"")));
    assert_eq!(tree, v0());
    let (st, _, _) = get_ivr(&app, Some("\"ivr-0\"")).await;
    assert_eq!(st, 304, "the version in force is still 0");
    let list = current(&app).await;
    assert_eq!(list["current"], 0);
    assert_eq!(list["versions"][0]["saved_by"], "config");

    // Refused saves name the field and store nothing.
    let mut dup_key = v0();
    dup_key["menus"][0]["options"][1]["key"] = json!("1");
    let mut unknown_queue = v0();
    unknown_queue["menus"][1]["options"][0]["action"] = json!({"chat": "nowhere"});
    let mut no_label = v0();
    no_label["menus"][1]["options"][1]["label"]["en"] = json!(" ");
    let mut lost_menu = v0();
    lost_menu["menus"][0]["options"][1]["action"] = json!({"menu": "gone"});
    for (tree, path) in [
        (dup_key, "menus[0].options[1].key"),
        (unknown_queue, "menus[1].options[0].action"),
        (no_label, "menus[1].options[1].label"),
        (lost_menu, "menus[0].options[1].action"),
        (json!({"root": "main", "menus": [], "extra": 1}), "tree"),
        (json!({"root": "nope", "menus": v0()["menus"]}), "root"),
    ] {
        let (st, v) = app
            .put("/api/v1/ivr", json!({"version": 0, "tree": tree}))
            .await;
        assert_eq!(st, 400, "{path}: {v}");
        assert!(v["fields"][path].is_string(), "{path} not named: {v}");
    }
    // Every wrong field at once.
    let mut two = v0();
    two["menus"][0]["options"][0]["label"]["en"] = json!("");
    two["menus"][0]["options"][1]["key"] = json!("1");
    let (st, v) = app
        .put("/api/v1/ivr", json!({"version": 0, "tree": two}))
        .await;
    assert_eq!(st, 400);
    let named: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(
        named,
        ["menus[0].options[0].label", "menus[0].options[1].key"],
        "{v}"
    );
    let (st, v) = app
        .put(
            "/api/v1/ivr",
            json!({"version": 0, "tree": v0(), "note": "x".repeat(501)}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(v["fields"]["note"].is_string(), "{v}");
    assert_eq!(current(&app).await["versions"].as_array().unwrap().len(), 1);

    // Before the edit, sales is not a chat option of the tree: the chat door refuses it.
    let (mut chat, _) = Client::visitor(&app).await;
    chat.send(json!({"type": "message", "client_msg_id": "m0", "text": "x", "queue": "sales"}))
        .await;
    assert_eq!(chat.expect("error").await["code"], "invalid");

    let mut v1 = v0();
    v1["menus"][0]["options"][0]["label"] =
        json!({"ja": "請求・お支払い", "en": "Billing and invoices"});
    v1["menus"][0]["options"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "3", "phrases": ["sales"], "label": {"ja": "相談する", "en": "Talk to us"}, "action": {"chat": "sales"}}));
    let (st, v) = app
        .put(
            "/api/v1/ivr?dry_run=true",
            json!({"version": 0, "tree": v1}),
        )
        .await;
    assert_eq!((st, &v), (200, &json!({"valid": true})));
    assert_eq!(current(&app).await["current"], 0, "a dry run saves nothing");

    let (st, saved) = app
        .put(
            "/api/v1/ivr",
            json!({"version": 0, "tree": v1, "note": "rename billing"}),
        )
        .await;
    assert_eq!(st, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["saved_by"], "admin");
    assert_eq!(saved["note"], "rename billing");
    let (st, etag, tree) = get_ivr(&app, Some("\"ivr-0\"")).await;
    assert_eq!((st, etag.as_deref()), (200, Some("\"ivr-1\"")));
    assert_eq!(tree, v1, "in force at once, without a restart");
    chat.send(
        json!({"type": "message", "client_msg_id": "m1", "text": "相談です", "queue": "sales"}),
    )
    .await;
    let ack = chat.expect("ack").await;
    let conv = ack["conversation_id"].as_str().unwrap().to_owned();
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["queue"], "sales");

    // An edit that began before version 1 is stale.
    let (st, v) = app
        .put("/api/v1/ivr", json!({"version": 0, "tree": v0()}))
        .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["code"], "conflict");

    // Rollback: version 2 is version 0's tree again.
    let (st, v) = app
        .post("/api/v1/ivr/versions/0/restore", json!({"version": 0}))
        .await;
    assert_eq!(st, 409, "stale: {v}");
    let (st, v) = app
        .post("/api/v1/ivr/versions/7/restore", json!({"version": 1}))
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, restored) = app
        .post("/api/v1/ivr/versions/0/restore", json!({"version": 1}))
        .await;
    assert_eq!(st, 200, "{restored}");
    assert_eq!(restored["version"], 2);
    assert_eq!(restored["restored_from"], 0);
    assert_eq!(restored["tree"], v0());
    assert_eq!(get_ivr(&app, None).await.2, v0());
    let (_, one) = app.get("/api/v1/ivr/versions/1").await;
    assert_eq!(one["tree"], v1);

    // The versions outlive a restart and win over the configuration file's tree.
    let dir = app.stop();
    let app = spawn_app_in(dir, |s| {
        configured(s);
        s.ivr.menus[0].options[0].label.en = "Changed in the file".into();
    })
    .await;
    let (_, etag, tree) = get_ivr(&app, None).await;
    assert_eq!(etag.as_deref(), Some("\"ivr-2\""));
    assert_eq!(tree, v0());
    let list = current(&app).await;
    assert_eq!(list["current"], 2);
    let versions: Vec<u64> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        versions,
        [2, 1, 0],
        "newest first, version 0 as first stored"
    );
    assert_eq!(list["versions"][0]["restored_from"], 0);

    // Only admins edit.
    let sup = app
        .agent(
            "sup",
            &[],
            json!({"role": "supervisor", "password": "sup-password"}),
        )
        .await;
    let res = app
        .http
        .put(format!("{}/api/v1/ivr", app.base))
        .bearer_auth(&sup)
        .json(&json!({"version": 2, "tree": v1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(current(&app).await["current"], 2);
}
