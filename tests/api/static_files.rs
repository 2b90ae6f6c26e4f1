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
