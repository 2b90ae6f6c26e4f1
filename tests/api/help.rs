//! The public help center (docs/help-center.md) over real HTTP: only public articles
//! visible on the web reach its pages, its JSON API and its sitemap, in their own
//! language, without staff data; canonical URLs; bad input and a spent budget change
//! nothing; views and "was this helpful?" answers are counted per article, survive a
//! restart and are read by supervisors only. Two real-browser tests drive the pages
//! (clients/tests/help_center.mjs) and the web chat's suggestions
//! (clients/tests/help_widget.mjs), stored XSS included.

use crate::helpers::*;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

/// Who writes the articles: a name that must never reach a customer.
const WRITER: &str = "kbwriter";
const TAG: &str = "internal-only-tag";

/// The articles of the brief (A–E), created by supervisor [`WRITER`]; their ids.
struct Seeded {
    a: String,
    b: String,
    c: String,
    d: String,
    e: String,
}

const XSS_TITLE: &str =
    r#"<img src=x onerror="window.__xss=1">Refund <script>window.__xss=2</script> policy"#;

async fn seed(app: &TestApp) -> Seeded {
    app.agent(WRITER, &["general"], json!({"role": "supervisor"}))
        .await;
    let token = app.login(WRITER, &format!("{WRITER}-password")).await;
    let mut ids = Vec::new();
    for body in [
        json!({"title": "返品方法について", "language": "ja", "public": true, "tags": [TAG],
               "body": "商品到着後30日以内であれば返品できます。\n\nマイページの注文履歴から返品を申し込んでください。"}),
        json!({"title": "Shipping costs", "language": "en", "public": true, "tags": [TAG],
               "body": "Shipping is free on orders over 5,000 yen.\n\nOther orders cost 500 yen."}),
        json!({"title": "返品の社内手順", "language": "ja", "public": false,
               "body": "返品 社内 手順 担当者用"}),
        json!({"title": XSS_TITLE, "language": "en", "public": true,
               "body": "Refunds take 5 days. <script>window.__xss=3</script><b>bold</b>\n\nAsk us for a refund any time."}),
        json!({"title": "Phone menu refund", "language": "en", "public": true,
               "channels": ["voice"], "body": "Press 3 for a refund."}),
    ] {
        let r = app
            .http
            .post(format!("{}/api/v1/kb/articles", app.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["public"], body["public"], "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let mut it = ids.into_iter();
    let mut next = || it.next().unwrap();
    Seeded {
        a: next(),
        b: next(),
        c: next(),
        d: next(),
        e: next(),
    }
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `GET path` without credentials: status, `Location`, body.
async fn page(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = no_redirects()
        .get(format!("{}{}", app.base, path))
        .header("Accept-Language", "ja-JP,ja;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

async fn api(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .http
        .get(format!("{}{}", app.base, path))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn feedback(app: &TestApp, id: &str, body: &str) -> u16 {
    app.http
        .post(format!("{}/help/api/articles/{id}/feedback", app.base))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn q(text: &str) -> String {
    serde_urlencoded::to_string([("q", text)]).unwrap()
}

/// `id -> (views, helpful, not_helpful)` over today, read as the admin.
async fn stats(app: &TestApp) -> std::collections::BTreeMap<String, (u64, u64, u64)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (s, v) = app
        .get(&format!(
            "/api/v1/kb/stats?from={}&to={}",
            now - 3_600_000,
            now + 3_600_000
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    v["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let n = |k: &str| a[k].as_u64().unwrap();
            (
                a["id"].as_str().unwrap().to_owned(),
                (n("views"), n("helpful"), n("not_helpful")),
            )
        })
        .collect()
}

fn hit_titles(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_rt::test]
async fn only_public_web_articles_reach_the_help_center_without_staff_data() {
    let app = spawn_app(|_| {}).await;
    let s = seed(&app).await;

    // The visitor's language; the other one is one link away.
    let (st, loc, _) = page(&app, "/help/").await;
    assert_eq!((st, loc.as_str()), (302, "/help/ja/"));
    assert_eq!(page(&app, "/help/en").await.0, 301);
    let (st, _, ja) = page(&app, "/help/ja/").await;
    assert_eq!(st, 200);
    assert!(ja.contains("返品方法について"), "{ja}");
    assert!(
        !ja.contains("社内手順"),
        "a private article is listed: {ja}"
    );
    assert!(!ja.contains("Shipping costs"), "another language is listed");
    let (_, _, en) = page(&app, "/help/en/").await;
    assert!(
        en.contains("Shipping costs") && en.contains("policy"),
        "{en}"
    );
    assert!(
        !en.contains("Phone menu"),
        "a voice-only article is on the web"
    );

    // An article's page: canonical URL, paragraphs, nothing of the staff's.
    let path = format!("/help/ja/articles/{}-{}", s.a, "返品方法について");
    let encoded = format!(
        "/help/ja/articles/{}-%E8%BF%94%E5%93%81%E6%96%B9%E6%B3%95%E3%81%AB%E3%81%A4%E3%81%84%E3%81%A6",
        s.a
    );
    let (st, _, body) = page(&app, &encoded).await;
    assert_eq!(st, 200, "{path}: {body}");
    assert!(
        body.contains("<p>商品到着後30日以内であれば返品できます。</p>"),
        "{body}"
    );
    assert!(body.contains(&format!(r#"<link rel="canonical" href="{encoded}">"#)));
    for secret in [WRITER, TAG, "version"] {
        assert!(!body.contains(secret), "{secret} is on the page: {body}");
    }
    for wrong in [
        format!("/help/ja/articles/{}", s.a),
        format!("/help/ja/articles/{}-old-title", s.a),
    ] {
        let (st, loc, _) = page(&app, &wrong).await;
        assert_eq!((st, loc.as_str()), (301, encoded.as_str()), "{wrong}");
    }
    // Private, voice-only, unknown, or asked in the other language: not found.
    for id in [
        &s.c,
        &s.e,
        &"00000000-0000-4000-8000-000000000000".to_owned(),
    ] {
        let (st, _, body) = page(&app, &format!("/help/en/articles/{id}")).await;
        assert_eq!(st, 404, "{id}");
        assert!(
            !body.contains("社内") && !body.contains("Press 3"),
            "{body}"
        );
        assert_eq!(api(&app, &format!("/help/api/articles/{id}")).await.0, 404);
    }
    assert_eq!(
        page(&app, &format!("/help/en/articles/{}", s.a)).await.0,
        404
    );
    assert_eq!(page(&app, "/help/fr/").await.0, 404);
    assert_eq!(page(&app, "/help/ja/nowhere").await.0, 404);

    // Search, on the page and as JSON: public web articles of the language only.
    let (st, _, results) = page(&app, &format!("/help/ja/search?{}", q("返品したい"))).await;
    assert_eq!(st, 200);
    assert!(
        results.contains("返品方法について") && !results.contains("社内"),
        "{results}"
    );
    assert!(results.contains(r#"<meta name="robots" content="noindex">"#));
    let (st, v) = api(
        &app,
        &format!("/help/api/search?{}&lang=ja", q("返品 社内 手順")),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(hit_titles(&v), ["返品方法について"]);
    let hit = &v["hits"][0];
    assert_eq!(hit["url"], encoded);
    let keys: Vec<&String> = hit.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["id", "snippet", "title", "url"],
        "only public fields"
    );
    let (_, v) = api(&app, &format!("/help/api/search?{}&lang=en", q("refund"))).await;
    assert_eq!(hit_titles(&v), [XSS_TITLE]);
    let (_, v) = api(
        &app,
        &format!("/help/api/search?{}&lang=en", q("shipping cost")),
    )
    .await;
    assert_eq!(hit_titles(&v), ["Shipping costs"]);
    let (st, a) = api(&app, &format!("/help/api/articles/{}", s.b)).await;
    assert_eq!(st, 200);
    let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["body", "id", "language", "title", "url"]);

    // The sitemap: absolute URLs of the public web articles.
    let (st, _, xml) = page(&app, "/help/sitemap.xml").await;
    assert_eq!(st, 200);
    let host = app.base.clone();
    assert!(
        xml.contains(&format!("<loc>{host}{encoded}</loc>")),
        "{xml}"
    );
    assert!(xml.contains(&s.b) && xml.contains(&s.d), "{xml}");
    assert!(!xml.contains(&s.c) && !xml.contains(&s.e), "{xml}");
    assert!(xml.contains("&lt;script&gt;") || !xml.contains("<script>"));

    // Made private, an article leaves at once.
    let (_, art) = app.get(&format!("/api/v1/kb/articles/{}", s.b)).await;
    let (st, v) = app
        .put(
            &format!("/api/v1/kb/articles/{}", s.b),
            json!({"title": art["title"], "body": art["body"], "language": "en",
                   "public": false, "version": art["version"]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        api(&app, &format!("/help/api/articles/{}", s.b)).await.0,
        404
    );
    let (_, v) = api(&app, &format!("/help/api/search?{}&lang=en", q("shipping"))).await;
    assert!(hit_titles(&v).is_empty(), "{v}");
}

#[actix_rt::test]
async fn bad_input_is_refused_and_counts_nothing() {
    let app = spawn_app(|_| {}).await;
    let s = seed(&app).await;
    let long = "あ".repeat(400);
    for path in [
        format!("/help/api/search?{}&lang=ja", q("")),
        format!("/help/api/search?{}&lang=ja", q("   ")),
        format!("/help/api/search?{}&lang=ja", q(&long)),
        format!("/help/api/search?{}&lang=fr", q("返品")),
        format!("/help/api/search?{}&lang=ja&limit=0", q("返品")),
        format!("/help/api/search?{}&lang=ja&limit=11", q("返品")),
        format!("/help/api/search?{}&lang=ja&extra=1", q("返品")),
        "/help/api/search?lang=ja".to_owned(),
    ] {
        let (st, v) = api(&app, &path).await;
        assert_eq!(st, 400, "{path}: {v}");
        assert_eq!(v["code"], "invalid", "{path}: {v}");
    }
    let (st, _, body) = page(&app, &format!("/help/ja/search?{}", q(&long))).await;
    assert_eq!(st, 400);
    assert!(body.contains(r#"data-code="Invalid""#), "{body}");

    for (id, body, want) in [
        (&s.a, "{", 400),
        (&s.a, r#"{"helpful": "yes"}"#, 400),
        (&s.a, r#"{"helpful": true, "who": "x"}"#, 400),
        (&s.a, r#"{}"#, 400),
        (&s.c, r#"{"helpful": true}"#, 404),
        (&s.e, r#"{"helpful": true}"#, 404),
    ] {
        assert_eq!(feedback(&app, id, body).await, want, "{body}");
    }
    let form = |helpful: &str| {
        no_redirects()
            .post(format!("{}/help/ja/articles/{}/feedback", app.base, s.a))
            .form(&[("helpful", helpful)])
            .send()
    };
    assert_eq!(form("maybe").await.unwrap().status(), 400);
    let r = no_redirects()
        .post(format!("{}/help/ja/articles/{}/feedback", app.base, s.c))
        .form(&[("helpful", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(stats(&app).await.is_empty(), "a refusal was counted");
}

#[actix_rt::test]
async fn searches_and_answers_spend_the_address_budget() {
    let app = spawn_app(|s| {
        s.anonymous.help_requests_per_window = 3;
        s.anonymous.window_ms = 3_600_000;
    })
    .await;
    let s = seed(&app).await;
    let search = format!("/help/api/search?{}&lang=ja", q("返品"));
    for _ in 0..2 {
        assert_eq!(api(&app, &search).await.0, 200);
    }
    assert_eq!(feedback(&app, &s.a, r#"{"helpful": true}"#).await, 204);
    let r = app
        .http
        .get(format!("{}{search}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(feedback(&app, &s.a, r#"{"helpful": false}"#).await, 429);
    let (st, _, body) = page(&app, &format!("/help/ja/search?{}", q("返品"))).await;
    assert_eq!(st, 429);
    assert!(body.contains("RateLimited"), "{body}");
    // Reading an article spends nothing; the refused answer was not counted.
    assert_eq!(
        api(&app, &format!("/help/api/articles/{}", s.a)).await.0,
        200
    );
    assert_eq!(stats(&app).await[&s.a], (1, 1, 0));
}

#[actix_rt::test]
async fn views_and_answers_are_counted_and_survive_a_restart() {
    let app = spawn_app(|_| {}).await;
    let s = seed(&app).await;
    // The widget's read of the article is a view too.
    let canonical = {
        let (_, v) = api(&app, &format!("/help/api/articles/{}", s.b)).await;
        v["url"].as_str().unwrap().to_owned()
    };
    for _ in 0..2 {
        assert_eq!(page(&app, &canonical).await.0, 200);
    }
    // The form's answer goes back to the article, which thanks and is not a view.
    let r = no_redirects()
        .post(format!("{}/help/en/articles/{}/feedback", app.base, s.b))
        .form(&[("helpful", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("{canonical}?feedback=yes"));
    let (st, _, thanks) = page(&app, &back).await;
    assert_eq!(st, 200);
    assert!(thanks.contains("help-feedback-thanks") && !thanks.contains("help-helpful-yes"));
    assert_eq!(feedback(&app, &s.b, r#"{"helpful": false}"#).await, 204);
    assert_eq!(feedback(&app, &s.d, r#"{"helpful": false}"#).await, 204);
    let before = stats(&app).await;
    assert_eq!(before[&s.b], (3, 1, 1));
    assert_eq!(before[&s.d], (0, 0, 1));
    assert_eq!(before.len(), 2);

    // Supervisors and admins only; a bad range is refused.
    let agent = app.agent("helpagent", &["general"], json!({})).await;
    let r = app
        .http
        .get(format!("{}/api/v1/kb/stats?from=0&to=1", app.base))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    for range in [
        "from=5&to=5",
        "from=-1&to=5",
        "from=0&to=400000000000",
        "from=0",
    ] {
        let (st, _) = app.get(&format!("/api/v1/kb/stats?{range}")).await;
        assert_eq!(st, 400, "{range}");
    }

    // Another process counts on top of what the first wrote.
    let dir = app.stop();
    let app = spawn_app_in(dir, |_| {}).await;
    assert_eq!(stats(&app).await, before);
    let (st, _, body) = page(&app, &canonical).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(stats(&app).await[&s.b], (4, 1, 1), "{body}");
    let (_, v) = app
        .get(&format!(
            "/api/v1/kb/stats?from=0&to={}",
            86_400_000i64 * 365
        ))
        .await;
    assert_eq!(v["articles"], json!([]), "another year");
    let _ = (s.a, s.c, s.e);
}

#[actix_rt::test]
async fn a_disabled_help_center_is_not_found() {
    let app = spawn_app(|s| s.help.enabled = false).await;
    let s = seed(&app).await;
    for path in ["/help/", "/help/ja/", "/help/sitemap.xml"] {
        assert_eq!(page(&app, path).await.0, 404, "{path}");
    }
    assert_eq!(
        page(&app, &format!("/help/ja/articles/{}", s.a)).await.0,
        404
    );
    let (st, _) = api(&app, &format!("/help/api/search?{}&lang=ja", q("返品"))).await;
    assert_eq!(st, 404);
    assert_eq!(
        api(&app, &format!("/help/api/articles/{}", s.a)).await.0,
        404
    );
}

/// The pages in a real browser (clients/tests/help_center.mjs): language, search,
/// article, "was this helpful?", stored XSS in a title and a body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_center_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    let s = seed(&app).await;
    run_browser_script(
        &app,
        "help_center.mjs",
        &[],
        "help center browser test passed",
    )
    .await;
    let st = stats(&app).await;
    assert_eq!(
        st[&s.a],
        (1, 0, 1),
        "the Japanese article: seen, not helpful"
    );
    assert_eq!(st[&s.d], (1, 1, 0), "the XSS probe: seen, helpful");
    assert_eq!(st.len(), 2, "{st:?}");
}

/// The web chat's suggestions in a real browser (clients/tests/help_widget.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_suggestions_in_the_chat_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    let s = seed(&app).await;
    run_browser_script(
        &app,
        "help_widget.mjs",
        &[],
        "help widget browser test passed",
    )
    .await;
    let st = stats(&app).await;
    assert_eq!(st[&s.a], (1, 1, 0), "the Japanese article: seen, helpful");
    assert_eq!(st[&s.d], (1, 0, 1), "the XSS probe: seen, not helpful");
    assert_eq!(st.len(), 2, "{st:?}");
}
