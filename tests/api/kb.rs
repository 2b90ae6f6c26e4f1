//! Knowledge base over REST: CRUD with optimistic versions, Japanese morphological and
//! English search, channel/language filters, bad input and roles.

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

#[actix_rt::test]
async fn articles_crud_versions_and_roles() {
    let app = spawn_app(|_| {}).await;
    let agent = app.agent("ann", &[], json!({})).await;
    let a = create(
        &app,
        &agent,
        json!({"title": "Returns", "body": "Return within 30 days.", "tags": ["returns"], "language": "en"}),
    )
    .await;
    assert_eq!(a["version"], 1);
    assert_eq!(a["updated_by"], "ann");
    assert_eq!(a["channels"], json!([]));
    let id = a["id"].as_str().unwrap();
    let path = format!("/api/v1/kb/articles/{id}");

    let (s, got) = call(&app, Method::GET, &path, &agent, None).await;
    assert_eq!((s, &got), (200, &a));

    // Update with the current version; a stale version is a conflict and changes nothing.
    let upd = json!({"title": "Returns and refunds", "body": "Return within 30 days for a refund.",
                     "tags": ["returns"], "language": "en", "version": 1});
    let (s, v) = call(&app, Method::PUT, &path, &agent, Some(upd.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 2);
    let (s, v) = call(&app, Method::PUT, &path, &agent, Some(upd)).await;
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
            &agent,
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
    // No token: 401.
    let r = app
        .http
        .get(format!("{}/api/v1/kb/search?q=x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
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
