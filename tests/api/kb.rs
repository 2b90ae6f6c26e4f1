//! Knowledge base over REST: CRUD with optimistic versions, Japanese morphological and
//! English search, channel/language filters, bad input and roles: agents propose
//! drafts that customers (the IVR, search, the bot) never see until a supervisor
//! publishes them, and every change is in the audit log.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app
        .http
        .request(m, format!("{}{}", app.base, path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = call(app, Method::POST, "/api/v1/kb/articles", token, Some(body)).await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn search(app: &TestApp, query: &str) -> Value {
    let q = serde_urlencoded::to_string([("q", query)]).unwrap();
    let (s, v) = app.get(&format!("/api/v1/kb/search?{q}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn ids(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The audit log's knowledge-base entries, oldest first: (actor, action, detail).
async fn kb_audit(app: &TestApp) -> Vec<(String, String, Value)> {
    let (s, v) = app.get("/api/v1/audit?limit=200").await;
    assert_eq!(s, 200, "{v}");
    let mut out: Vec<(String, String, Value)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("kb_"))
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].clone(),
            )
        })
        .collect();
    out.reverse();
    out
}

#[actix_rt::test]
async fn articles_crud_versions_and_roles() {
    let app = spawn_app(|_| {}).await;
    let agent = app.agent("ann", &[], json!({})).await;
    let sup = app.agent("sue", &[], json!({"role": "supervisor"})).await;
    let a = create(
        &app,
        &sup,
        json!({"title": "Returns", "body": "Return within 30 days.", "tags": ["returns"], "language": "en"}),
    )
    .await;
    assert_eq!(a["version"], 1);
    assert_eq!(a["updated_by"], "sue");
    assert_eq!(a["channels"], json!([]));
    let id = a["id"].as_str().unwrap();
    let path = format!("/api/v1/kb/articles/{id}");

    let (s, got) = call(&app, Method::GET, &path, &agent, None).await;
    assert_eq!((s, &got), (200, &a));

    // Update with the current version; a stale version is a conflict and changes nothing.
    let upd = json!({"title": "Returns and refunds", "body": "Return within 30 days for a refund.",
                     "tags": ["returns"], "language": "en", "version": 1});
    let (s, v) = call(&app, Method::PUT, &path, &sup, Some(upd.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 2);
    let (s, v) = call(&app, Method::PUT, &path, &sup, Some(upd)).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    let (_, got) = call(&app, Method::GET, &path, &agent, None).await;
    assert_eq!(got["version"], 2);
    assert_eq!(got["title"], "Returns and refunds");
    assert_eq!(
        ids(&search(&app, "refund").await),
        vec!["Returns and refunds"]
    );

    // Paging by id.
    for i in 0..3 {
        create(
            &app,
            &sup,
            json!({"title": format!("T{i}"), "body": "b", "language": "en"}),
        )
        .await;
    }
    let (s, p1) = call(
        &app,
        Method::GET,
        "/api/v1/kb/articles?limit=2",
        &agent,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(p1["articles"].as_array().unwrap().len(), 2);
    let next = p1["next"].as_str().unwrap();
    let (_, p2) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kb/articles?limit=10&after={next}"),
        &agent,
        None,
    )
    .await;
    assert_eq!(p2["articles"].as_array().unwrap().len(), 2);
    assert!(p2.get("next").is_none());

    // Agents may not delete; supervisors (and admins) may.
    let (s, _) = call(&app, Method::DELETE, &path, &agent, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(&app, Method::DELETE, &path, &app.admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&app, Method::GET, &path, &agent, None).await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    assert!(search(&app, "refund").await["hits"]
        .as_array()
        .unwrap()
        .is_empty());
    // Every change is audited with its actor, article and version.
    let audited: Vec<(String, String, Value)> = kb_audit(&app)
        .await
        .into_iter()
        .filter(|(_, _, d)| d["article_id"] == id)
        .collect();
    assert_eq!(
        audited,
        vec![
            (
                "sue".into(),
                "kb_article_created".into(),
                json!({"article_id": id, "version": 1})
            ),
            (
                "sue".into(),
                "kb_article_updated".into(),
                json!({"article_id": id, "version": 2})
            ),
            (
                "admin".into(),
                "kb_article_deleted".into(),
                json!({"article_id": id, "version": 2})
            ),
        ]
    );
    // No token: 401.
    let r = app
        .http
        .get(format!("{}/api/v1/kb/search?q=x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Stores article `returns` (the IVR tree's returns option) as the knowledge base would.
pub async fn seed_returns(app: &TestApp, body: &str) {
    let doc = json!({"id": "returns", "title": "返品について", "body": body, "tags": [],
                     "language": "ja", "channels": [], "version": 1, "updated_at": 0,
                     "updated_by": "admin"});
    let batch = switchboard::store::Batch {
        records: vec![switchboard::store::RecordWrite::put(
            "kb_article",
            "returns",
            serde_json::to_vec(&doc).unwrap(),
        )],
        ..Default::default()
    };
    let engine = app.engine.as_ref().unwrap();
    engine.store.commit(batch).await.unwrap();
}

/// What the public IVR article route serves for `returns` (no token).
async fn ivr_returns(app: &TestApp) -> Value {
    let r = app
        .http
        .get(format!("{}/api/v1/ivr/articles/returns", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[actix_rt::test]
async fn agents_propose_drafts_that_only_a_supervisor_publishes() {
    let app = spawn_app(crate::ivr::tree).await;
    seed_returns(&app, "30日以内なら返品できます。").await;
    let agent = app.agent("ann", &[], json!({})).await;
    let sup = app.agent("sue", &[], json!({"role": "supervisor"})).await;
    let path = "/api/v1/kb/articles/returns";

    // The agent's change of the IVR's article is a draft: nothing customers see moves.
    let change = json!({"title": "返品について", "body": "いつでも返品できます。",
                        "language": "ja", "version": 1});
    let (s, draft) = call(&app, Method::PUT, path, &agent, Some(change)).await;
    assert_eq!(s, 202, "{draft}");
    assert_eq!(draft["article_id"], "returns");
    assert_eq!(draft["base_version"], 1);
    assert_eq!(draft["proposed_by"], "ann");
    let (s, new) = call(
        &app,
        Method::POST,
        "/api/v1/kb/articles",
        &agent,
        Some(json!({"title": "Gift wrapping", "body": "Wrapping is free.", "language": "en"})),
    )
    .await;
    assert_eq!(s, 202, "{new}");
    assert_eq!(
        ivr_returns(&app).await["body"],
        "30日以内なら返品できます。"
    );
    let (_, got) = call(&app, Method::GET, path, &agent, None).await;
    assert_eq!(got["version"], 1);
    assert!(ids(&search(&app, "wrapping").await).is_empty());
    let (_, list) = app.get("/api/v1/kb/articles").await;
    assert_eq!(list["articles"].as_array().unwrap().len(), 1, "{list}");

    // Only supervisors see, publish and discard drafts.
    let d = draft["id"].as_str().unwrap();
    let n = new["id"].as_str().unwrap();
    let publish = format!("/api/v1/kb/drafts/{d}/publish");
    for (m, p) in [
        (Method::GET, "/api/v1/kb/drafts".to_owned()),
        (Method::POST, publish.clone()),
        (Method::DELETE, format!("/api/v1/kb/drafts/{n}")),
    ] {
        let (s, v) = call(&app, m, &p, &agent, None).await;
        assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{p}");
    }
    let (s, v) = call(&app, Method::GET, "/api/v1/kb/drafts", &sup, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["drafts"].as_array().unwrap().len(), 2, "{v}");

    // Published, the change is what the public IVR route serves, and search finds it.
    let (s, a) = call(&app, Method::POST, &publish, &sup, None).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(
        (a["id"].as_str(), a["version"].as_u64()),
        (Some("returns"), Some(2))
    );
    assert_eq!(ivr_returns(&app).await["body"], "いつでも返品できます。");
    assert_eq!(ids(&search(&app, "いつでも返品").await)[0], "返品について");
    let (s, _) = call(&app, Method::POST, &publish, &sup, None).await;
    assert_eq!(s, 404, "a draft is published once");
    // A discarded draft is never served.
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/kb/drafts/{n}"),
        &sup,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = call(&app, Method::GET, "/api/v1/kb/drafts", &sup, None).await;
    assert!(v["drafts"].as_array().unwrap().is_empty(), "{v}");
    assert!(ids(&search(&app, "wrapping").await).is_empty());

    let audited: Vec<(String, String)> = kb_audit(&app)
        .await
        .into_iter()
        .map(|(who, what, _)| (who, what))
        .collect();
    let pair = |w: &str, a: &str| (w.to_owned(), a.to_owned());
    assert_eq!(
        audited,
        vec![
            pair("ann", "kb_draft_proposed"),
            pair("ann", "kb_draft_proposed"),
            pair("sue", "kb_article_published"),
            pair("sue", "kb_draft_discarded"),
        ]
    );
    let published = kb_audit(&app).await.remove(2).2;
    assert_eq!(
        published,
        json!({"article_id": "returns", "version": 2, "draft_id": d, "proposed_by": "ann"})
    );
}

#[actix_rt::test]
async fn without_drafts_agents_cannot_change_articles() {
    let app = spawn_app(|s| {
        crate::ivr::tree(s);
        s.kb.agents_propose_drafts = false;
    })
    .await;
    seed_returns(&app, "30日以内なら返品できます。").await;
    let agent = app.agent("ann", &[], json!({})).await;
    let body = json!({"title": "返品について", "body": "いつでも返品できます。",
                      "language": "ja", "version": 1});
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v1/kb/articles/returns",
        &agent,
        Some(body.clone()),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/v1/kb/articles",
        &agent,
        Some(body),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    assert_eq!(
        ivr_returns(&app).await["body"],
        "30日以内なら返品できます。"
    );
    let (_, v) = app.get("/api/v1/kb/drafts").await;
    assert!(v["drafts"].as_array().unwrap().is_empty(), "{v}");
    assert!(kb_audit(&app).await.is_empty());
}

#[actix_rt::test]
async fn japanese_morphological_and_english_search_with_filters() {
    let app = spawn_app(|_| {}).await;
    let t = app.admin.clone();
    create(&app, &t, json!({"title": "返品方法", "body": "商品の返品は到着から30日以内に承ります。", "language": "ja"})).await;
    create(&app, &t, json!({"title": "品質保証", "body": "方法や手順は品質保証書をご覧ください。", "language": "ja"})).await;
    create(&app, &t, json!({"title": "送料", "body": "送料は全国一律550円です。", "language": "ja", "channels": ["sms"]})).await;
    create(&app, &t, json!({"title": "Shipping fees", "body": "Shipping costs 550 yen; free over 5000 yen.", "language": "en"})).await;

    let r = search(&app, "返品したい").await;
    assert_eq!(
        r["tokenizer"], "lindera-ipadic",
        "mecab-ipadic is installed here"
    );
    assert_eq!(ids(&r)[0], "返品方法");
    assert_eq!(r["hits"][0]["confident"], true, "{r}");
    assert!(r["hits"][0]["snippet"].as_str().unwrap().contains("返品"));
    // Full-width query folds to ASCII.
    let r = search(&app, "ＳＨＩＰＰＩＮＧ").await;
    assert_eq!(ids(&r), vec!["Shipping fees"]);
    // Language and channel filters.
    let (_, r) = app.get("/api/v1/kb/search?q=550&lang=en").await;
    assert_eq!(ids(&r), vec!["Shipping fees"]);
    let (_, r) = app
        .get("/api/v1/kb/search?q=%E9%80%81%E6%96%99&channel=chat")
        .await;
    assert!(ids(&r).is_empty(), "{r}");
    let (_, r) = app
        .get("/api/v1/kb/search?q=%E9%80%81%E6%96%99&channel=sms")
        .await;
    assert_eq!(ids(&r), vec!["送料"]);
    // Unknown question: no confident hit.
    let r = search(&app, "パスワードを忘れました").await;
    assert!(
        r["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["confident"] == false),
        "{r}"
    );
}

#[actix_rt::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let app = spawn_app(|s| {
        s.kb.max_query_bytes = 100;
        s.kb.max_tags = 2;
    })
    .await;
    let t = app.admin.clone();
    let huge = "返品".repeat(1000);
    let q = serde_urlencoded::to_string([("q", huge.as_str())]).unwrap();
    let (s, v) = app.get(&format!("/api/v1/kb/search?{q}")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");
    for (body, code) in [
        (
            json!({"title": " ", "body": "b", "language": "en"}),
            "invalid",
        ),
        (
            json!({"title": "t", "body": "b", "language": "fr"}),
            "invalid",
        ),
        (
            json!({"title": "t", "body": "b", "language": "en", "tags": ["a", "b", "c"]}),
            "invalid",
        ),
        (
            json!({"title": "t", "body": "b", "language": "en", "channels": ["pigeon"]}),
            "invalid",
        ),
        (
            json!({"title": "t", "body": "b", "language": "en", "extra": 1}),
            "bad_json",
        ),
    ] {
        let (s, v) = call(&app, Method::POST, "/api/v1/kb/articles", &t, Some(body)).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{v}");
    }
    let (s, v) = app.get("/api/v1/kb/articles").await;
    assert_eq!(s, 200);
    assert!(
        v["articles"].as_array().unwrap().is_empty(),
        "nothing stored: {v}"
    );
    let (s, _) = app.get("/api/v1/kb/articles/nope").await;
    assert_eq!(s, 404);
    let (s, _) = app
        .put(
            "/api/v1/kb/articles/nope",
            json!({"title": "t", "body": "b", "language": "en", "version": 1}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app.get("/api/v1/kb/search?q=x&limit=1000").await;
    assert_eq!(s, 400);
    let (s, _) = app.get("/api/v1/kb/suggest?conversation=nope").await;
    assert_eq!(s, 404);
}

#[actix_rt::test]
async fn articles_survive_a_restart_and_are_reindexed() {
    let app = spawn_app(|_| {}).await;
    let t = app.admin.clone();
    create(
        &app,
        &t,
        json!({"title": "Opening hours", "body": "Weekdays 9 to 18.", "language": "en"}),
    )
    .await;
    let dir = app.stop();
    let app = spawn_app_in(dir, |_| {}).await;
    assert_eq!(ids(&search(&app, "hours").await), vec!["Opening hours"]);
}

#[actix_rt::test]
async fn without_the_dictionary_sources_the_engine_starts_with_bigrams() {
    let cache = tempfile::tempdir().unwrap();
    let app = spawn_app(|s| {
        s.kb.ipadic_dir = "/nonexistent/ipadic".into();
        s.kb.dictionary_cache = Some(cache.path().to_path_buf());
    })
    .await;
    let t = app.admin.clone();
    create(
        &app,
        &t,
        json!({"title": "返品方法", "body": "返品は30日以内です。", "language": "ja"}),
    )
    .await;
    let r = search(&app, "返品したい").await;
    assert_eq!(r["tokenizer"], "cjk-bigram");
    assert_eq!(ids(&r), vec!["返品方法"]);
}
