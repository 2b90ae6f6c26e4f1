//! The web clients as the engine serves them: every script an entry page loads, followed
//! through its relative `import`s, answers 200 as JavaScript. A module added to
//! `clients/` is embedded and served with no list to update, and a missing or excluded
//! one fails here rather than in a browser.

use crate::helpers::{spawn_app, TestApp};
use std::collections::{BTreeSet, VecDeque};

/// GET `path`, asserting 200; the response's content type and body.
async fn fetch(app: &TestApp, path: &str) -> (String, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    (kind, r.text().await.unwrap())
}

/// `path` (a URL path) resolved against the folder of `from` (`/agent/app.js`).
fn resolve(from: &str, path: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop(); // the file name
    for seg in path.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// What follows `marker` up to the closing quote, wherever `marker` ends in a quote.
fn quoted_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let quote = marker.chars().last()?;
    Some(&rest[..rest.find(quote)?])
}

/// The relative specifiers of a module's `import … from './x.js'` and `import './x.js'`.
fn relative_imports(source: &str) -> Vec<&str> {
    source
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("import ") || l.starts_with("} from "))
        .filter_map(|l| quoted_after(l, "from '").or_else(|| quoted_after(l, "import '")))
        .filter(|s| s.starts_with("./") || s.starts_with("../"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_module_the_clients_import_is_served() {
    let app = spawn_app(|_| {}).await;
    let mut queue = VecDeque::new();
    for page in ["/agent/", "/chat/", "/supervisor/"] {
        let (_, html) = fetch(&app, page).await;
        for line in html.lines().filter(|l| l.contains("<script")) {
            if let Some(src) = quoted_after(line, "src=\"") {
                queue.push_back(resolve(&format!("{page}index.html"), src));
            }
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (kind, source) = fetch(&app, &path).await;
        assert!(kind.contains("javascript"), "{path}: {kind}");
        for spec in relative_imports(&source) {
            queue.push_back(resolve(&path, spec));
        }
    }
    for module in [
        "/agent/frames.js",
        "/agent/timeline.js",
        "/shared/staff-login.js",
        "/chat/ivr.js",
    ] {
        assert!(
            seen.contains(module),
            "{module} not reached from an entry page: {seen:?}"
        );
    }
}

/// Every page carries a Content-Security-Policy without inline script; the staff pages
/// may not be framed at all, the chat only by the engine and the allowed origins
/// (docs/security.md, "Output safety"). The browser tests run every page under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_a_content_security_policy_and_frame_ancestors() {
    let app = spawn_app(|s| {
        s.security.allowed_origins = vec!["https://shop.example".into()];
    })
    .await;
    for (page, ancestors) in [
        ("/agent/", "frame-ancestors 'none'"),
        ("/supervisor/", "frame-ancestors 'none'"),
        ("/chat/", "frame-ancestors 'self' https://shop.example"),
    ] {
        let r = app
            .http
            .get(format!("{}{page}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{page}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{page}: {csp}");
        assert!(csp.ends_with(ancestors), "{page}: {csp}");
        // No softphone configured: the pages reach no other host.
        assert!(csp.contains("connect-src 'self';"), "{page}: {csp}");
        let framing = r
            .headers()
            .get("x-frame-options")
            .map(|v| v.to_str().unwrap());
        assert_eq!(framing, (page != "/chat/").then_some("DENY"), "{page}");
    }
    // Scripts and styles are not documents: no policy needed.
    let r = app
        .http
        .get(format!("{}/agent/app.js", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-security-policy").is_none());
}
