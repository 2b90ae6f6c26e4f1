//! The public help center (docs/help-center.md): read-only pages of the knowledge-base
//! articles marked `public` and visible on the web (`chat`), per language, with search
//! and "was this helpful?"; and the small JSON API the web chat's suggestions use. No
//! staff data leaves here: a page or answer carries an article's id, title, body,
//! language and URL only — never its author, tags, version or a private article (which
//! is "not found", like an unknown one).
//!
//! * `GET /help/` → the home of the visitor's language (`Accept-Language`).
//! * `GET /help/{lang}/`, `/help/{lang}/search?q=`, `/help/{lang}/articles/{id}-{slug}`
//!   (a wrong or missing slug is a 301 to the canonical URL), `POST
//!   /help/{lang}/articles/{id}/feedback` (form, then 303 back to the article).
//! * `GET /help/sitemap.xml`.
//! * `GET /help/api/search`, `GET /help/api/articles/{id}`, `POST
//!   /help/api/articles/{id}/feedback`.
//!
//! Pages are askama templates (`templates/help/`, escaped), sent under a CSP without
//! script. Searches and answers take the client address's `help` budget (429 over it);
//! an article shown counts a view and an answer counts for or against it
//! (`crate::kb::stats`).

use super::error::ApiError;
use super::{html, AppState};
use crate::domain::ErrorCode;
use crate::kb::stats::Tally;
use crate::kb::{Article, LANGUAGES};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

/// The pages' Content-Security-Policy: no script at all, inline style, forms post back
/// here.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Longest slug kept in a URL, in characters.
const MAX_SLUG: usize = 80;

/// Registers the help center's routes (before the static clients' catch-all).
pub fn routes(cfg: &mut web::ServiceConfig) {
    describe_metrics();
    cfg.route("/help", web::get().to(home_of_visitor))
        .route("/help/", web::get().to(home_of_visitor))
        .route("/help/sitemap.xml", web::get().to(sitemap))
        .route("/help/api/search", web::get().to(api_search))
        .route("/help/api/articles/{id}", web::get().to(api_article))
        .route(
            "/help/api/articles/{id}/feedback",
            web::post().to(api_feedback),
        )
        .route("/help/{lang}", web::get().to(home_slash))
        .route("/help/{lang}/", web::get().to(home))
        .route("/help/{lang}/search", web::get().to(search_page))
        .route(
            "/help/{lang}/articles/{article}",
            web::get().to(article_page),
        )
        .route(
            "/help/{lang}/articles/{id}/feedback",
            web::post().to(feedback_form),
        )
        .route("/help/{rest:.*}", web::to(not_found_page));
}

/// The help center's Prometheus counters, described once per process.
fn describe_metrics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        crate::metrics::install();
        metrics::describe_counter!(
            "switchboard_help_searches_total",
            "Help-center searches (pages and the web chat's suggestions), by whether any article was found."
        );
        metrics::describe_counter!(
            "switchboard_help_views_total",
            "Public articles shown: the help center's page or the web chat's inline article."
        );
        metrics::describe_counter!(
            "switchboard_help_feedback_total",
            "\"Did this answer your question?\" answers, by answer and where they were given."
        );
    });
}

// ------------------------------------------------------------------ words

/// The fixed words of the pages, per language.
pub struct Texts {
    center: &'static str,
    other_language: &'static str,
    search_label: &'static str,
    search: &'static str,
    chat: &'static str,
    empty: &'static str,
    results: &'static str,
    no_results: &'static str,
    helpful: &'static str,
    yes: &'static str,
    no: &'static str,
    thanks: &'static str,
    not_found: &'static str,
    bad_query: &'static str,
    rate_limited: &'static str,
    unavailable: &'static str,
}

const JA: Texts = Texts {
    center: "ヘルプセンター",
    other_language: "English",
    search_label: "記事を検索",
    search: "検索",
    chat: "解決しない場合は、チャットでお問い合わせください",
    empty: "公開されている記事はまだありません。",
    results: "検索結果",
    no_results: "該当する記事が見つかりませんでした。別の言葉でお試しください。",
    helpful: "この記事で解決しましたか？",
    yes: "はい",
    no: "いいえ",
    thanks: "ご意見ありがとうございました。",
    not_found: "記事が見つかりません。",
    bad_query: "検索する言葉を入力してください（長すぎる言葉は検索できません）。",
    rate_limited: "リクエストが多すぎます。しばらくしてからお試しください。",
    unavailable: "ただいまご利用いただけません。しばらくしてからお試しください。",
};

const EN: Texts = Texts {
    center: "Help center",
    other_language: "日本語",
    search_label: "Search articles",
    search: "Search",
    chat: "Still need help? Chat with us",
    empty: "No articles are published yet.",
    results: "Search results",
    no_results: "No article matched. Try other words.",
    helpful: "Did this answer your question?",
    yes: "Yes",
    no: "No",
    thanks: "Thank you for your feedback.",
    not_found: "This article does not exist.",
    bad_query: "Type what to search for (a very long text cannot be searched).",
    rate_limited: "Too many requests. Please try again in a moment.",
    unavailable: "The help center is not available right now. Please try again later.",
};

fn texts(lang: &str) -> &'static Texts {
    if lang == "ja" {
        &JA
    } else {
        &EN
    }
}

fn other(lang: &str) -> &'static str {
    if lang == "ja" {
        "en"
    } else {
        "ja"
    }
}

// ------------------------------------------------------------------ URLs

/// The words of `title` as a URL segment: letters and digits (any script) lowercased,
/// every run of anything else one `-`, at most [`MAX_SLUG`] characters.
pub fn slug(title: &str) -> String {
    let mut s = String::new();
    let mut dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !s.is_empty() {
                s.push('-');
            }
            dash = false;
            s.push(c);
        } else {
            dash = true;
        }
        if s.chars().count() >= MAX_SLUG {
            break;
        }
    }
    s
}

/// `s` with every byte but ASCII letters, digits and `-` percent-encoded.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical path of an article's page.
pub fn article_path(a: &Article) -> String {
    let slug = slug(&a.title);
    if slug.is_empty() {
        format!("/help/{}/articles/{}", a.language, a.id)
    } else {
        format!("/help/{}/articles/{}-{}", a.language, a.id, encode(&slug))
    }
}

/// The language of the visitor: the first of `Accept-Language` by preference that the
/// help center has, else `help.default_language`.
fn preferred(req: &HttpRequest, default: &str) -> &'static str {
    let header = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut tags: Vec<(f32, usize, &str)> = header
        .split(',')
        .take(20)
        .enumerate()
        .filter_map(|(i, part)| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            Some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (q, _, tag) in tags {
        if q <= 0.0 {
            continue;
        }
        let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
        if let Some(l) = LANGUAGES.iter().find(|l| **l == primary) {
            return l;
        }
    }
    LANGUAGES
        .iter()
        .find(|l| **l == default)
        .copied()
        .unwrap_or("en")
}

fn language(lang: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|l| **l == lang).copied()
}

// ------------------------------------------------------------------ pages

/// A link to the same page in another language.
pub struct Alternate {
    lang: &'static str,
    href: String,
}

/// What `templates/help/layout.html` shows around every page.
pub struct Frame {
    lang: &'static str,
    other_lang: &'static str,
    t: &'static Texts,
    page_title: String,
    description: String,
    /// Indexable (a canonical link); search results and errors are `noindex`.
    index: bool,
    canonical: String,
    alternates: Vec<Alternate>,
    /// The search box's text.
    query: String,
    max_query: usize,
}

impl Frame {
    fn new(state: &AppState, lang: &'static str, title: &str) -> Self {
        let t = texts(lang);
        Frame {
            lang,
            other_lang: other(lang),
            t,
            page_title: if title.is_empty() {
                t.center.to_owned()
            } else {
                format!("{title} | {}", t.center)
            },
            description: String::new(),
            index: false,
            canonical: String::new(),
            alternates: Vec::new(),
            query: String::new(),
            max_query: state.server.kb().settings.max_query_bytes,
        }
    }
}

/// A listed or found article.
pub struct Listed {
    title: String,
    href: String,
    snippet: String,
}

/// `templates/help/home.html`.
#[derive(Template)]
#[template(path = "help/home.html")]
struct HomePage {
    lang: &'static str,
    frame: Frame,
    articles: Vec<Listed>,
}

/// `templates/help/search.html`.
#[derive(Template)]
#[template(path = "help/search.html")]
struct SearchPage {
    lang: &'static str,
    frame: Frame,
    results: Vec<Listed>,
}

/// `templates/help/article.html`.
#[derive(Template)]
#[template(path = "help/article.html")]
struct ArticlePage {
    lang: &'static str,
    frame: Frame,
    title: String,
    paragraphs: Vec<String>,
    thanked: bool,
    feedback_action: String,
}

/// `templates/help/error.html`.
#[derive(Template)]
#[template(path = "help/error.html")]
struct ErrorPage {
    lang: &'static str,
    frame: Frame,
    code: String,
    text: &'static str,
}

/// A page with the help center's caching: public for `help.cache_seconds`, unless
/// `private` (an answer's thanks, an error).
fn send(state: &AppState, status: StatusCode, private: bool, page: &impl Template) -> HttpResponse {
    let mut r = html::page(status, CSP, page);
    let secs = state.server.settings.help.cache_seconds;
    if !private && secs > 0 && r.status().is_success() {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_str(&format!("public, max-age={secs}"))
                .expect("an ASCII header"),
        );
    }
    r
}

fn error_page(state: &AppState, lang: &'static str, e: &ApiError) -> HttpResponse {
    let t = texts(lang);
    let text = match e.code {
        ErrorCode::NotFound => t.not_found,
        ErrorCode::Invalid | ErrorCode::TooLarge | ErrorCode::BadJson => t.bad_query,
        ErrorCode::RateLimited => t.rate_limited,
        _ => t.unavailable,
    };
    let page = ErrorPage {
        lang,
        frame: Frame::new(state, lang, ""),
        code: format!("{:?}", e.code),
        text,
    };
    let mut r = send(state, super::error::status_of(e.code), true, &page);
    if let Some(secs) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    r
}

/// The language of a page path, if the center is on and has it; else the 404 page.
fn open(state: &AppState, lang: &str) -> Result<&'static str, Box<HttpResponse>> {
    let Some(lang) = language(lang) else {
        return Err(Box::new(error_page(
            state,
            "en",
            &ApiError::not_found("page"),
        )));
    };
    match disabled(state) {
        Some(e) => Err(Box::new(error_page(state, lang, &e))),
        None => Ok(lang),
    }
}

fn disabled(state: &AppState) -> Option<ApiError> {
    (!state.server.settings.help.enabled).then(|| ApiError::not_found("help center"))
}

/// `GET /help/`: the visitor's language's home.
async fn home_of_visitor(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let lang = preferred(&req, &state.server.settings.help.default_language);
    if let Some(e) = disabled(&state) {
        return error_page(&state, lang, &e);
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("/help/{lang}/")))
        .insert_header((header::VARY, "Accept-Language"))
        .finish()
}

/// `GET /help/{lang}`: to `/help/{lang}/`.
async fn home_slash(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    match language(&path) {
        Some(lang) if state.server.settings.help.enabled => HttpResponse::MovedPermanently()
            .insert_header((header::LOCATION, format!("/help/{lang}/")))
            .finish(),
        _ => error_page(&state, "en", &ApiError::not_found("page")),
    }
}

/// Any other path under `/help/`.
async fn not_found_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let lang = preferred(&req, &state.server.settings.help.default_language);
    error_page(&state, lang, &ApiError::not_found("page"))
}

/// `GET /help/{lang}/`: every public article of the language, by title.
async fn home(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let lang = match open(&state, &path) {
        Ok(l) => l,
        Err(page) => return *page,
    };
    let kb = state.server.kb();
    let articles = kb
        .public_articles(lang, state.server.settings.help.max_listed)
        .into_iter()
        .map(|a| Listed {
            href: article_path(&a),
            title: a.title,
            snippet: String::new(),
        })
        .collect();
    let mut frame = Frame::new(&state, lang, "");
    frame.index = true;
    frame.canonical = format!("/help/{lang}/");
    frame.alternates = LANGUAGES
        .iter()
        .map(|l| Alternate {
            lang: l,
            href: format!("/help/{l}/"),
        })
        .collect();
    let page = HomePage {
        lang,
        frame,
        articles,
    };
    send(&state, StatusCode::OK, false, &page)
}

/// A search's query string.
#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    q: String,
}

/// Checks `q` and takes the client's `help` budget.
fn admit(state: &AppState, req: &HttpRequest, q: &str) -> Result<(), ApiError> {
    let max = state.server.kb().settings.max_query_bytes;
    if q.trim().is_empty() {
        return Err(ApiError::invalid("q must not be empty"));
    }
    if q.len() > max {
        return Err(ApiError::invalid(format!("q is longer than {max} bytes")));
    }
    take_budget(state, req)
}

fn take_budget(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let server = &state.server;
    if let Some(ip) = crate::security::client::client_ip(req, &server.security.proxies) {
        server
            .budgets
            .take(crate::budget::Door::Help, ip, server.now())
            .map_err(|r| ApiError::rate_limited(r.message(), r.retry_after_secs))?;
    }
    Ok(())
}

/// The public hits of `q` (already admitted).
/// Each hit is checked against the index's article once more (public, on the web)
/// before anything of it is shown.
fn found(state: &AppState, q: &str, lang: &str, limit: usize) -> Vec<PublicHit> {
    let kb = state.server.kb();
    let hits: Vec<PublicHit> = kb
        .search_public(q, lang, limit)
        .hits
        .into_iter()
        .filter_map(|h| kb.public_article(&h.id).map(|a| (h, a)))
        .map(|(h, a)| PublicHit {
            url: article_path(&a),
            id: h.id,
            title: h.title,
            snippet: h.snippet,
        })
        .collect();
    metrics::counter!(
        "switchboard_help_searches_total",
        "found" => if hits.is_empty() { "no" } else { "yes" }
    )
    .increment(1);
    hits
}

/// `GET /help/{lang}/search?q=`: the results page (not indexed by search engines).
async fn search_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
) -> HttpResponse {
    let lang = match open(&state, &path) {
        Ok(l) => l,
        Err(page) => return *page,
    };
    let Ok(query) = query else {
        return error_page(&state, lang, &ApiError::invalid("bad query string"));
    };
    let q = query.into_inner().q;
    if let Err(e) = admit(&state, &req, &q) {
        return error_page(&state, lang, &e);
    }
    let results = found(&state, &q, lang, state.server.settings.help.max_results)
        .into_iter()
        .map(|h| Listed {
            href: h.url,
            title: h.title,
            snippet: h.snippet,
        })
        .collect();
    let mut frame = Frame::new(&state, lang, texts(lang).results);
    frame.query = q;
    let page = SearchPage {
        lang,
        frame,
        results,
    };
    send(&state, StatusCode::OK, false, &page)
}

/// An article's page after an answer (`?feedback=yes|no`): the thanks, not counted as
/// a view.
#[derive(Debug, Deserialize)]
struct ArticleQuery {
    #[serde(default)]
    feedback: Option<String>,
}

/// The public article `id` in `lang`, or 404 (unknown, private, not on the web, or in
/// another language).
fn public_in(state: &AppState, lang: &str, id: &str) -> Result<Article, ApiError> {
    state
        .server
        .kb()
        .public_article(id)
        .filter(|a| a.language == lang)
        .ok_or_else(|| ApiError::not_found("article"))
}

/// `GET /help/{lang}/articles/{id}-{slug}`.
async fn article_page(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: Result<web::Query<ArticleQuery>, actix_web::Error>,
) -> HttpResponse {
    let (lang, segment) = path.into_inner();
    let lang = match open(&state, &lang) {
        Ok(l) => l,
        Err(page) => return *page,
    };
    // `{uuid}` or `{uuid}-{slug}`: the id is everything before the 37th character.
    let id = match segment.char_indices().nth(36) {
        Some((i, '-')) => &segment[..i],
        Some(_) => segment.as_str(),
        None => segment.as_str(),
    };
    let a = match public_in(&state, lang, id) {
        Ok(a) => a,
        Err(e) => return error_page(&state, lang, &e),
    };
    let canonical = article_path(&a);
    let wanted = match slug(&a.title) {
        s if s.is_empty() => a.id.clone(),
        s => format!("{}-{s}", a.id),
    };
    let thanked = query.ok().and_then(|q| q.into_inner().feedback).is_some();
    if segment != wanted {
        return HttpResponse::MovedPermanently()
            .insert_header((header::LOCATION, canonical))
            .finish();
    }
    if !thanked {
        state
            .server
            .kb()
            .stats
            .count(&a.id, state.server.now().0, Tally::View);
        metrics::counter!("switchboard_help_views_total", "from" => "help_center").increment(1);
    }
    let mut frame = Frame::new(&state, lang, &a.title);
    frame.description = crate::kb::index::snippet(&a.body, &[]);
    frame.index = !thanked;
    frame.canonical = canonical;
    let page = ArticlePage {
        lang,
        feedback_action: format!("/help/{lang}/articles/{}/feedback", a.id),
        paragraphs: paragraphs(&a.body),
        title: a.title,
        frame,
        thanked,
    };
    send(&state, StatusCode::OK, thanked, &page)
}

/// The body's paragraphs: blocks separated by a blank line, trimmed, empty ones dropped.
pub fn paragraphs(body: &str) -> Vec<String> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The article page's answer.
#[derive(Debug, Deserialize)]
struct FeedbackForm {
    #[serde(default)]
    helpful: String,
}

/// Counts an answer for public article `id`.
fn answer(state: &AppState, a: &Article, helpful: bool, from: &'static str) {
    let tally = if helpful {
        Tally::Helpful
    } else {
        Tally::NotHelpful
    };
    state
        .server
        .kb()
        .stats
        .count(&a.id, state.server.now().0, tally);
    metrics::counter!(
        "switchboard_help_feedback_total",
        "helpful" => if helpful { "yes" } else { "no" },
        "from" => from
    )
    .increment(1);
}

/// `POST /help/{lang}/articles/{id}/feedback` (form `helpful=yes|no`): counted, then
/// 303 back to the article, which thanks instead of asking.
async fn feedback_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Result<web::Form<FeedbackForm>, actix_web::Error>,
) -> HttpResponse {
    let (lang, id) = path.into_inner();
    let lang = match open(&state, &lang) {
        Ok(l) => l,
        Err(page) => return *page,
    };
    let a = match public_in(&state, lang, &id) {
        Ok(a) => a,
        Err(e) => return error_page(&state, lang, &e),
    };
    let helpful = match form.as_ref().map(|f| f.helpful.as_str()) {
        Ok("yes") => true,
        Ok("no") => false,
        _ => {
            return error_page(
                &state,
                lang,
                &ApiError::invalid("helpful must be yes or no"),
            )
        }
    };
    if let Err(e) = take_budget(&state, &req) {
        return error_page(&state, lang, &e);
    }
    answer(&state, &a, helpful, "help_center");
    let to = format!(
        "{}?feedback={}",
        article_path(&a),
        if helpful { "yes" } else { "no" }
    );
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// `GET /help/sitemap.xml`: the homes and every public article, for search engines.
/// Absolute URLs start with `help.public_url`, else `http://` and the request's `Host`.
async fn sitemap(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let settings = &state.server.settings.help;
    if !settings.enabled {
        return error_page(&state, "en", &ApiError::not_found("page"));
    }
    let base = match &settings.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!(
            "http://{}",
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| h
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
                .unwrap_or("localhost")
        ),
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let mut url = |path: &str| {
        xml.push_str("<url><loc>");
        xml.push_str(&xml_escape(&format!("{base}{path}")));
        xml.push_str("</loc></url>\n");
    };
    for lang in LANGUAGES {
        url(&format!("/help/{lang}/"));
        for a in state.server.kb().public_articles(lang, settings.max_listed) {
            url(&article_path(&a));
        }
    }
    xml.push_str("</urlset>\n");
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(xml)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

// ------------------------------------------------------------------ JSON

/// `GET /help/api/search` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiSearch {
    q: String,
    lang: String,
    #[serde(default)]
    limit: Option<usize>,
}

/// A public hit: nothing but what the help center's page shows.
#[derive(Debug, Serialize)]
struct PublicHit {
    id: String,
    title: String,
    snippet: String,
    url: String,
}

/// A public article.
#[derive(Debug, Serialize)]
struct PublicArticle {
    id: String,
    title: String,
    body: String,
    language: String,
    url: String,
}

fn json_enabled(state: &AppState) -> Result<(), ApiError> {
    disabled(state).map_or(Ok(()), Err)
}

/// `GET /help/api/search?q=&lang=&limit=`: `{hits: [{id, title, snippet, url}],
/// tokenizer}`.
async fn api_search(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ApiSearch>,
) -> Result<HttpResponse, ApiError> {
    json_enabled(&state)?;
    let query = query.into_inner();
    let lang = language(&query.lang).ok_or_else(|| ApiError::invalid("lang must be ja or en"))?;
    let max = state.server.settings.help.max_results;
    let limit = query.limit.unwrap_or(5);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be within 1..={max}")));
    }
    admit(&state, &req, &query.q)?;
    let kb = state.server.kb();
    let tokenizer = kb.tokenizer_name();
    let hits = found(&state, &query.q, lang, limit);
    let mut r = HttpResponse::Ok();
    cache(&state, &mut r);
    Ok(r.json(serde_json::json!({"hits": hits, "tokenizer": tokenizer})))
}

fn cache(state: &AppState, r: &mut actix_web::HttpResponseBuilder) {
    let secs = state.server.settings.help.cache_seconds;
    if secs > 0 {
        r.insert_header((header::CACHE_CONTROL, format!("public, max-age={secs}")));
    } else {
        r.insert_header((header::CACHE_CONTROL, "no-store"));
    }
}

/// `GET /help/api/articles/{id}`: `{id, title, body, language, url}` of a public
/// article (a view, counted from the chat widget); 404 otherwise.
async fn api_article(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_enabled(&state)?;
    let a = state
        .server
        .kb()
        .public_article(&path)
        .ok_or_else(|| ApiError::not_found("article"))?;
    state
        .server
        .kb()
        .stats
        .count(&a.id, state.server.now().0, Tally::View);
    metrics::counter!("switchboard_help_views_total", "from" => "widget").increment(1);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PublicArticle {
            url: article_path(&a),
            id: a.id,
            title: a.title,
            body: a.body,
            language: a.language,
        }))
}

/// `POST /help/api/articles/{id}/feedback` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiFeedback {
    helpful: bool,
}

/// `POST /help/api/articles/{id}/feedback {helpful}`: 204 once counted.
async fn api_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<ApiFeedback>,
) -> Result<HttpResponse, ApiError> {
    json_enabled(&state)?;
    let a = state
        .server
        .kb()
        .public_article(&path)
        .ok_or_else(|| ApiError::not_found("article"))?;
    take_budget(&state, &req)?;
    answer(&state, &a, body.helpful, "widget");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_words_of_any_script() {
        assert_eq!(slug("Shipping costs & fees!"), "shipping-costs-fees");
        assert_eq!(slug("返品方法について"), "返品方法について");
        assert_eq!(slug("  <b>Hi</b>  "), "b-hi-b");
        assert_eq!(slug("!!!"), "");
        assert_eq!(slug(&"a".repeat(200)).chars().count(), MAX_SLUG);
        assert_eq!(encode("返-a b"), "%E8%BF%94-a%20b");
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(paragraphs("a\r\n\r\nb\n\n\n\nc\nd\n"), ["a", "b", "c\nd"]);
        assert!(paragraphs(" \n\n ").is_empty());
    }

    #[test]
    fn accept_language_is_followed_by_preference() {
        let req = |h: &str| {
            actix_web::test::TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, h))
                .to_http_request()
        };
        assert_eq!(preferred(&req("ja-JP,ja;q=0.9,en;q=0.8"), "en"), "ja");
        assert_eq!(preferred(&req("fr;q=1, en;q=0.5, ja;q=0.7"), "en"), "ja");
        assert_eq!(preferred(&req("fr, de"), "ja"), "ja");
        assert_eq!(preferred(&req("ja;q=0, en"), "ja"), "en");
        assert_eq!(preferred(&req("garbage;;q=x"), "en"), "en");
    }

    #[test]
    fn hostile_article_text_is_escaped() {
        let t = texts("en");
        let page = ArticlePage {
            lang: "en",
            frame: Frame {
                lang: "en",
                other_lang: "ja",
                t,
                page_title: "<script>x</script>".into(),
                description: "\"><script>".into(),
                index: true,
                canonical: "/help/en/articles/a-\"><script>".into(),
                alternates: Vec::new(),
                query: "\"><script>".into(),
                max_query: 10,
            },
            title: "<img src=x onerror=alert(1)>".into(),
            paragraphs: vec!["<script>alert(2)</script>".into()],
            thanked: false,
            feedback_action: "/x".into(),
        }
        .render()
        .unwrap();
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "{page}"
        );
    }
}
