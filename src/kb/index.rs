//! The tantivy index over the articles, search with filters, and the confidence score.
//!
//! The index lives in memory: it is rebuilt from the `kb_article` records at start
//! ([`KnowledgeBase::rebuild`]) and updated after every committed write
//! ([`KnowledgeBase::upsert`], [`KnowledgeBase::remove`]), so it can always be thrown
//! away. Fields: `title` (boost 2), `body`, `tags` (boost 1.5), all analysed by
//! [`super::tokenizer`]; `language` and `channels` as exact terms for filtering (an
//! article for every channel carries the channel term `*`).
//!
//! ## Confidence
//! BM25 scores are unbounded and depend on the corpus, so each hit also gets a
//! confidence in `[0, 1]`:
//!
//! `confidence = coverage × (0.5 + 0.5 × margin)`
//!
//! * `coverage`: the share of the query's distinct terms that occur in the article
//!   (title, body or tags) — did the article talk about everything asked?
//! * `margin`: how far the hit leads the best other hit, `(s − s_other) / s` clamped to
//!   `[0, 1]` (1 when it is the only hit; 0 for every hit but the first) — is it
//!   clearly the answer rather than one of several equally likely ones?
//!
//! So a full match that leads clearly scores near 1, a full match tied with another
//! article 0.5, and a hit covering half the question at most 0.5. `kb.bot_confidence`
//! (default 0.6) is compared with it.

use super::tokenizer::{normalize, Analyzer, KbTokenizer};
use super::{Article, KbSettings, KB_ARTICLE};
use crate::domain::Channel;
use crate::store::{SharedStore, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, RwLock};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

const TOKENIZER: &str = "switchboard_kb";
/// Channel term of an article visible on every channel.
const ALL_CHANNELS: &str = "*";
/// The `public` term of an article the help center shows.
const PUBLIC: &str = "1";
/// Records read per page while rebuilding.
const PAGE: usize = 500;

/// One search hit (the REST shape of `GET /api/v1/kb/search`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub snippet: String,
    pub body: String,
    pub language: String,
    pub tags: Vec<String>,
    /// The BM25 score (corpus-dependent; compare hits of one search only).
    pub score: f32,
    /// See the module docs.
    pub confidence: f32,
    /// `confidence >= kb.bot_confidence`.
    pub confident: bool,
}

/// A search's hits, best first, and the tokenizer that analysed it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub hits: Vec<Hit>,
    /// The tokenizer that analysed the query.
    #[schema(value_type = String)]
    pub tokenizer: &'static str,
}

/// Confidence of a hit with BM25 `score`, given the best score among the other hits
/// and the share of query terms it covers. See the module docs.
pub fn confidence(coverage: f32, score: f32, best_other: Option<f32>) -> f32 {
    let margin = match best_other {
        None => 1.0,
        Some(_) if score <= 0.0 => 0.0,
        Some(o) => ((score - o) / score).clamp(0.0, 1.0),
    };
    (coverage.clamp(0.0, 1.0) * (0.5 + 0.5 * margin)).clamp(0.0, 1.0)
}

struct Fields {
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
    language: Field,
    channels: Field,
    /// [`PUBLIC`] on a public article.
    public: Field,
}

/// What a [`KnowledgeBase::resync`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resync {
    /// Articles stored.
    pub articles: usize,
    /// Articles indexed again (new or changed since the index last saw them).
    pub changed: usize,
    /// Articles removed from the index (no longer stored).
    pub removed: usize,
}

/// The knowledge base's search side.
pub struct KnowledgeBase {
    analyzer: Analyzer,
    fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// The indexed articles by id (hits are returned from here).
    articles: RwLock<BTreeMap<String, Article>>,
    /// Serialises REST writes: read version, commit, index.
    pub write_lock: tokio::sync::Mutex<()>,
    pub settings: KbSettings,
    /// What customers did with the public articles (the help center).
    pub stats: super::stats::ArticleStats,
}

impl KnowledgeBase {
    /// An empty index with the Japanese dictionary when available (see
    /// [`super::dictionary`]; loaded when the first Japanese text comes), else the
    /// bigram tokenizer.
    pub fn new(settings: &KbSettings) -> Self {
        let cache = settings
            .dictionary_cache
            .clone()
            .unwrap_or_else(super::dictionary::default_cache);
        let analyzer = match super::dictionary::segmenter(&settings.ipadic_dir, &cache) {
            Some(s) => Analyzer::morphological(s),
            None => Analyzer::bigram(),
        };
        Self::with_analyzer(settings, analyzer)
    }

    /// An empty index over `analyzer`.
    pub fn with_analyzer(settings: &KbSettings, analyzer: Analyzer) -> Self {
        let mut sb = Schema::builder();
        let text = |boost_stored: bool| {
            let o = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            );
            if boost_stored {
                o.set_stored()
            } else {
                o
            }
        };
        let fields = Fields {
            id: sb.add_text_field("id", STRING | STORED),
            title: sb.add_text_field("title", text(false)),
            body: sb.add_text_field("body", text(false)),
            tags: sb.add_text_field("tags", text(false)),
            language: sb.add_text_field("language", STRING),
            channels: sb.add_text_field("channels", STRING),
            public: sb.add_text_field("public", STRING),
        };
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register(
            TOKENIZER,
            tantivy::tokenizer::TextAnalyzer::from(KbTokenizer(analyzer.clone())),
        );
        let writer = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("an in-memory index writer");
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .expect("an in-memory index reader");
        Self {
            analyzer,
            fields,
            writer: Mutex::new(writer),
            reader,
            articles: RwLock::new(BTreeMap::new()),
            write_lock: tokio::sync::Mutex::new(()),
            settings: settings.clone(),
            stats: super::stats::ArticleStats::new(),
        }
    }

    /// `lindera-ipadic` or `cjk-bigram`.
    pub fn tokenizer_name(&self) -> &'static str {
        self.analyzer.name()
    }

    /// The analysis, shared with conversation search.
    pub fn analyzer(&self) -> Analyzer {
        self.analyzer.clone()
    }

    /// The analysed terms of `text` (for tests and the bot).
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.analyzer.terms(text)
    }

    /// Re-indexes every stored article; returns how many.
    pub async fn rebuild(&self, store: &SharedStore) -> Result<usize, StoreError> {
        Ok(self.resync(store).await?.articles)
    }

    /// Brings the index to what the store holds now: every stored article that differs
    /// from its indexed version is indexed again, every indexed one no longer stored is
    /// removed. Serialised with the REST writes and [`KnowledgeBase::refresh`] (by
    /// `write_lock`), so an older read never replaces a newer one.
    pub async fn resync(&self, store: &SharedStore) -> Result<Resync, StoreError> {
        let _serial = self.write_lock.lock().await;
        let mut after: Option<String> = None;
        let mut stored = BTreeMap::new();
        loop {
            let page = store.records(KB_ARTICLE, after.as_deref(), PAGE).await?;
            let full = page.len() == PAGE;
            for (key, bytes) in page {
                match serde_json::from_slice::<Article>(&bytes) {
                    Ok(a) => {
                        stored.insert(a.id.clone(), a);
                    }
                    Err(e) => tracing::warn!(key, error = %e, "unreadable kb_article skipped"),
                }
                after = Some(key);
            }
            if !full {
                break;
            }
        }
        let (put, delete) = {
            let indexed = self.articles.read().unwrap_or_else(|p| p.into_inner());
            let put: Vec<Article> = stored
                .values()
                .filter(|a| indexed.get(&a.id) != Some(*a))
                .cloned()
                .collect();
            let delete: Vec<String> = indexed
                .keys()
                .filter(|id| !stored.contains_key(*id))
                .cloned()
                .collect();
            (put, delete)
        };
        let out = Resync {
            articles: stored.len(),
            changed: put.len(),
            removed: delete.len(),
        };
        if out.changed + out.removed > 0 {
            self.apply(put, delete);
        }
        Ok(out)
    }

    /// Indexes the articles `ids` as the store has them now: each present one again,
    /// each absent (or unreadable) one removed.
    pub async fn refresh(&self, store: &SharedStore, ids: &[String]) -> Result<(), StoreError> {
        let _serial = self.write_lock.lock().await;
        let (mut put, mut delete) = (Vec::new(), Vec::new());
        for id in ids {
            match store.record(KB_ARTICLE, id).await? {
                Some(bytes) => match serde_json::from_slice::<Article>(&bytes) {
                    Ok(a) => put.push(a),
                    Err(e) => {
                        tracing::warn!(id, error = %e, "unreadable kb_article removed from the index");
                        delete.push(id.clone());
                    }
                },
                None => delete.push(id.clone()),
            }
        }
        self.apply(put, delete);
        Ok(())
    }

    /// Indexes `a` (replacing its previous version).
    pub fn upsert(&self, a: &Article) {
        self.apply(vec![a.clone()], Vec::new());
    }

    /// Removes article `id` from the index.
    pub fn remove(&self, id: &str) {
        self.apply(Vec::new(), vec![id.to_owned()]);
    }

    fn apply(&self, put: Vec<Article>, delete: Vec<String>) {
        let f = &self.fields;
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = self.articles.write().unwrap_or_else(|e| e.into_inner());
        for id in &delete {
            w.delete_term(Term::from_field_text(f.id, id));
            map.remove(id);
        }
        for a in put {
            w.delete_term(Term::from_field_text(f.id, &a.id));
            let mut d = TantivyDocument::default();
            d.add_text(f.id, &a.id);
            d.add_text(f.title, &a.title);
            d.add_text(f.body, &a.body);
            for t in &a.tags {
                d.add_text(f.tags, t);
            }
            d.add_text(f.language, &a.language);
            if a.channels.is_empty() {
                d.add_text(f.channels, ALL_CHANNELS);
            }
            for c in &a.channels {
                d.add_text(f.channels, c.as_str());
            }
            if a.public {
                d.add_text(f.public, PUBLIC);
            }
            if let Err(e) = w.add_document(d) {
                tracing::error!(error = %e, "kb index add failed");
            }
            map.insert(a.id.clone(), a);
        }
        if let Err(e) = w.commit().and_then(|_| self.reader.reload()) {
            tracing::error!(error = %e, "kb index commit failed");
        }
    }

    /// Up to `limit` articles matching `q`, best first, of language `lang` and visible
    /// on `channel` when given. The caller checks `q`'s size.
    pub fn search(
        &self,
        q: &str,
        lang: Option<&str>,
        channel: Option<Channel>,
        limit: usize,
    ) -> SearchResult {
        self.search_where(q, lang, channel, false, limit)
    }

    /// [`KnowledgeBase::search`] over the help center's articles only: public and
    /// visible on the web (`chat`).
    pub fn search_public(&self, q: &str, lang: &str, limit: usize) -> SearchResult {
        self.search_where(q, Some(lang), Some(Channel::Chat), true, limit)
    }

    /// The public articles of `lang` in the help center, by title; at most `limit`.
    pub fn public_articles(&self, lang: &str, limit: usize) -> Vec<Article> {
        let map = self.articles.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Article> = map
            .values()
            .filter(|a| a.language == lang && a.in_help_center())
            .cloned()
            .collect();
        drop(map);
        v.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
        v.truncate(limit);
        v
    }

    /// The indexed article `id`, if the help center shows it.
    pub fn public_article(&self, id: &str) -> Option<Article> {
        let map = self.articles.read().unwrap_or_else(|e| e.into_inner());
        map.get(id).filter(|a| a.in_help_center()).cloned()
    }

    fn search_where(
        &self,
        q: &str,
        lang: Option<&str>,
        channel: Option<Channel>,
        public_only: bool,
        limit: usize,
    ) -> SearchResult {
        let tokenizer = self.tokenizer_name();
        if self
            .articles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            // Nothing to find: the question is not analysed (nor the dictionary
            // loaded for it).
            return SearchResult {
                hits: Vec::new(),
                tokenizer,
            };
        }
        let mut terms: Vec<String> = self.analyzer.terms(q);
        let mut seen = HashSet::new();
        terms.retain(|t| seen.insert(t.clone()));
        if terms.is_empty() || limit == 0 {
            return SearchResult {
                hits: Vec::new(),
                tokenizer,
            };
        }
        let f = &self.fields;
        let mut text: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &terms {
            for (field, boost) in [(f.title, 2.0), (f.body, 1.0), (f.tags, 1.5)] {
                let tq = TermQuery::new(
                    Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                text.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(tq), boost)),
                ));
            }
        }
        let mut must: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(text)))];
        if let Some(l) = lang {
            must.push((Occur::Must, exact(f.language, l)));
        }
        if let Some(c) = channel {
            let either = BooleanQuery::new(vec![
                (Occur::Should, exact(f.channels, c.as_str())),
                (Occur::Should, exact(f.channels, ALL_CHANNELS)),
            ]);
            must.push((Occur::Must, Box::new(either)));
        }
        if public_only {
            must.push((Occur::Must, exact(f.public, PUBLIC)));
        }
        let query = BooleanQuery::new(must);
        let searcher = self.reader.searcher();
        let top = match searcher.search(&query, &TopDocs::with_limit(limit).order_by_score()) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "kb search failed");
                Vec::new()
            }
        };
        let map = self.articles.read().unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<(f32, Article)> = Vec::new();
        for (score, addr) in top {
            let Ok(doc) = searcher.doc::<TantivyDocument>(addr) else {
                continue;
            };
            let Some(id) = doc.get_first(f.id).and_then(|v| v.as_str()) else {
                continue;
            };
            if let Some(a) = map.get(id) {
                found.push((score, a.clone()));
            }
        }
        drop(map);
        let scores: Vec<f32> = found.iter().map(|(s, _)| *s).collect();
        let threshold = self.settings.bot_confidence;
        let hits = found
            .into_iter()
            .enumerate()
            .map(|(i, (score, a))| {
                let best_other = scores
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, s)| *s)
                    .reduce(f32::max);
                let own: HashSet<String> = self
                    .analyzer
                    .terms(&format!("{}\n{}\n{}", a.title, a.body, a.tags.join(" ")))
                    .into_iter()
                    .collect();
                let covered = terms.iter().filter(|t| own.contains(*t)).count();
                let coverage = covered as f32 / terms.len() as f32;
                let c = confidence(coverage, score, best_other);
                Hit {
                    snippet: snippet(&a.body, &terms),
                    id: a.id,
                    title: a.title,
                    body: a.body,
                    language: a.language,
                    tags: a.tags,
                    score,
                    confidence: c,
                    confident: c >= threshold,
                }
            })
            .collect();
        SearchResult { hits, tokenizer }
    }
}

fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Up to ~120 characters of `body` around the first query term found in it literally
/// (the start of the body when none is).
pub fn snippet(body: &str, terms: &[String]) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut norm = String::new();
    let mut origin = Vec::new(); // byte of `norm` -> char index in `body`
    for (i, c) in chars.iter().enumerate() {
        let n = normalize(&c.to_string());
        for _ in 0..n.len() {
            origin.push(i);
        }
        norm.push_str(&n);
    }
    let at = terms
        .iter()
        .filter_map(|t| norm.find(t.as_str()))
        .min()
        .and_then(|b| origin.get(b).copied())
        .unwrap_or(0);
    let start = at.saturating_sub(30);
    let end = (start + 120).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_bounded_and_rewards_coverage_and_lead() {
        assert_eq!(confidence(1.0, 5.0, None), 1.0);
        assert_eq!(confidence(1.0, 5.0, Some(5.0)), 0.5);
        assert!((confidence(1.0, 10.0, Some(5.0)) - 0.75).abs() < 1e-6);
        assert!((confidence(0.5, 10.0, None) - 0.5).abs() < 1e-6);
        assert_eq!(confidence(0.0, 10.0, None), 0.0);
        // A hit trailing another never gets the margin.
        assert_eq!(confidence(1.0, 3.0, Some(9.0)), 0.5);
        for (c, s, o) in [
            (2.0, 1.0, Some(-1.0)),
            (-1.0, 0.0, Some(0.0)),
            (1.0, 0.0, Some(1.0)),
        ] {
            let v = confidence(c, s, o);
            assert!((0.0..=1.0).contains(&v), "{v}");
        }
    }

    fn article(id: &str, title: &str, body: &str, lang: &str, channels: Vec<Channel>) -> Article {
        Article {
            id: id.into(),
            title: title.into(),
            body: body.into(),
            tags: vec![],
            language: lang.into(),
            channels,
            public: false,
            version: 1,
            updated_at: 0,
            updated_by: "t".into(),
        }
    }

    #[test]
    fn bigram_index_search_filters_and_confidence() {
        let kb = KnowledgeBase::with_analyzer(&KbSettings::default(), Analyzer::bigram());
        kb.upsert(&article(
            "1",
            "Returns",
            "How to return an item within 30 days.",
            "en",
            vec![],
        ));
        kb.upsert(&article(
            "2",
            "Shipping fees",
            "Shipping is free over 5000 yen.",
            "en",
            vec![Channel::Sms],
        ));
        kb.upsert(&article(
            "3",
            "返品について",
            "返品は30日以内に承ります。",
            "ja",
            vec![],
        ));
        let r = kb.search("returns", None, None, 10);
        assert_eq!(r.tokenizer, "cjk-bigram");
        assert_eq!(r.hits[0].id, "1");
        assert!(r.hits[0].confident);
        assert!(kb
            .search("shipping", None, Some(Channel::Chat), 10)
            .hits
            .is_empty());
        assert_eq!(
            kb.search("shipping", None, Some(Channel::Sms), 10).hits[0].id,
            "2"
        );
        assert_eq!(kb.search("返品", Some("ja"), None, 10).hits[0].id, "3");
        assert!(kb.search("返品", Some("en"), None, 10).hits.is_empty());
        kb.remove("3");
        assert!(kb.search("返品", None, None, 10).hits.is_empty());
        // Half the question unknown: not confident.
        let r = kb.search("returns zebra", None, None, 10);
        assert_eq!(r.hits[0].id, "1");
        assert!(!r.hits[0].confident, "{:?}", r.hits[0]);
    }

    #[test]
    fn the_help_center_searches_and_lists_public_web_articles_only() {
        let kb = KnowledgeBase::with_analyzer(&KbSettings::default(), Analyzer::bigram());
        let public = |a: Article| Article { public: true, ..a };
        kb.upsert(&public(article(
            "1",
            "Returns",
            "Return within 30 days.",
            "en",
            vec![],
        )));
        kb.upsert(&article(
            "2",
            "Returns (staff)",
            "Return desk steps.",
            "en",
            vec![],
        ));
        kb.upsert(&public(article(
            "3",
            "Phone returns",
            "Press 3 to return.",
            "en",
            vec![Channel::Voice],
        )));
        kb.upsert(&public(article(
            "4",
            "Chat returns",
            "Return by chat.",
            "en",
            vec![Channel::Chat],
        )));
        let ids = |hits: Vec<Hit>| hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
        let mut found = ids(kb.search_public("return", "en", 10).hits);
        found.sort();
        assert_eq!(found, ["1", "4"]);
        assert_eq!(
            ids(kb.search("return", None, None, 10).hits).len(),
            4,
            "staff see all"
        );
        assert!(kb.search_public("return", "ja", 10).hits.is_empty());
        let listed: Vec<String> = kb
            .public_articles("en", 10)
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, ["4", "1"], "by title");
        assert_eq!(kb.public_articles("en", 1).len(), 1);
        assert!(kb.public_article("2").is_none() && kb.public_article("3").is_none());
        // Made private: out of the help center at once.
        kb.upsert(&article(
            "1",
            "Returns",
            "Return within 30 days.",
            "en",
            vec![],
        ));
        assert_eq!(ids(kb.search_public("return", "en", 10).hits), ["4"]);
        assert!(kb.public_article("1").is_none());
    }

    #[tokio::test]
    async fn resync_indexes_only_what_differs_from_the_store() {
        use crate::store::embedded::{EmbeddedOptions, EmbeddedStore};
        use crate::store::{Batch, RecordWrite};
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = std::sync::Arc::new(
            EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open"),
        );
        let put = |a: &Article| {
            RecordWrite::put(KB_ARTICLE, a.id.clone(), serde_json::to_vec(a).unwrap())
        };
        let (returns, fees) = (
            article("1", "Returns", "Within 30 days.", "en", vec![]),
            article("2", "Fees", "Free over 5000 yen.", "en", vec![]),
        );
        let commit = |records: Vec<RecordWrite>| {
            let store = store.clone();
            async move {
                let batch = Batch {
                    records,
                    ..Default::default()
                };
                store.commit(batch).await.unwrap()
            }
        };
        commit(vec![put(&returns), put(&fees)]).await;
        let kb = KnowledgeBase::with_analyzer(&KbSettings::default(), Analyzer::bigram());
        let first = kb.resync(&store).await.unwrap();
        assert_eq!((first.articles, first.changed, first.removed), (2, 2, 0));
        let again = kb.resync(&store).await.unwrap();
        assert_eq!((again.changed, again.removed), (0, 0), "nothing differs");

        // Changed and deleted behind the index's back; one it never stored is dropped.
        let mut changed = fees.clone();
        changed.title = "Shipping".into();
        changed.version = 2;
        kb.upsert(&article("9", "Stray", "Nowhere stored.", "en", vec![]));
        commit(vec![put(&changed), RecordWrite::delete(KB_ARTICLE, "1")]).await;
        let r = kb.resync(&store).await.unwrap();
        assert_eq!((r.articles, r.changed, r.removed), (1, 1, 2));
        assert!(kb.search("returns", None, None, 10).hits.is_empty());
        assert!(kb.search("stray", None, None, 10).hits.is_empty());
        assert_eq!(kb.search("shipping", None, None, 10).hits[0].id, "2");
    }

    #[test]
    fn snippet_centres_on_a_term() {
        let body = format!("{}needle and more", "x".repeat(200));
        let s = snippet(&body, &["needle".into()]);
        assert!(s.contains("needle"));
        assert!(s.starts_with('…'));
        assert_eq!(snippet("short", &["zzz".into()]), "short");
    }
}
