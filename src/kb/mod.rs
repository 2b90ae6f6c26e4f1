//! The knowledge base: FAQ articles stored as `kb_article` records (the store is the
//! truth) and a full-text index over them (tantivy, in memory, rebuilt from the store
//! at start and updated on every write). One knowledge base for every channel; an
//! article may be limited to some channels and is written in one language.
//!
//! * [`tokenizer`]: the Japanese/English analysis (lindera + IPADIC, or CJK bigrams).
//! * [`dictionary`]: building and sharing the IPADIC dictionary.
//! * [`index`]: the tantivy index, search and the confidence score.
//! * [`stats`]: views and "was this helpful?" answers of the public articles.
//! * [`KbSettings`]: the `[kb]` limits; [`HelpSettings`]: the `[help]` center's.
//!
//! Only `kb_article` records are served (the bot, the IVR, search). An agent's change is
//! a [`Draft`] (record kind [`KB_DRAFT`]) that nobody outside the staff sees until a
//! supervisor publishes it (`crate::api::kb`).
//!
//! In a cluster every node keeps its own index: a node that changes an article tells
//! the other members ([`ArticlesChanged`]), and each re-reads those articles from the
//! store ([`serve`]). A member that misses the message (unreachable through every
//! resend of the broadcast, not yet seen by the writer as it joined, or the writer
//! killed between its commit and the broadcast) catches up at its next resync: every
//! `kb.resync_ms` each node compares its index with the stored articles and indexes
//! what differs ([`KnowledgeBase::resync`]).

pub mod demo;
pub mod dictionary;
pub mod index;
pub mod stats;
pub mod tokenizer;

use crate::domain::Channel;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use index::{Hit, KnowledgeBase, SearchResult};

/// Articles written or deleted on another node: re-read them from the store (kind
/// `kb.changed`, sent to every member's membership key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticlesChanged {
    pub ids: Vec<String>,
}

impl crate::peers::Wire for ArticlesChanged {
    const KIND: &'static str = "kb.changed";
    type Reply = ();
}

/// Answers [`ArticlesChanged`] from other nodes: each named article is indexed again
/// as the store has it now (or removed, if it is gone); and every `kb.resync_ms`
/// brings the whole index to the store's articles (what a missed message left out).
/// Both hold the index and the store weakly, so they keep nothing alive at a stop.
pub fn serve(
    kb: &std::sync::Arc<KnowledgeBase>,
    store: &crate::store::SharedStore,
    peers: &crate::peers::Peers,
) {
    resync_every(kb, store);
    let kb = std::sync::Arc::downgrade(kb);
    let store = store.clone();
    peers.serve(move |_key, changed: ArticlesChanged| {
        let (kb, store) = (kb.upgrade(), store.clone());
        async move {
            let Some(kb) = kb else {
                return Ok(());
            };
            kb.refresh(&store, &changed.ids)
                .await
                .map_err(|e| crate::peers::Refusal {
                    code: "unavailable".into(),
                    message: format!("the articles could not be read: {e}"),
                })
        }
    });
}

/// Every `kb.resync_ms` (0: never), indexes what differs between the index and the
/// stored articles; ends when the index or the store is dropped.
fn resync_every(kb: &std::sync::Arc<KnowledgeBase>, store: &crate::store::SharedStore) {
    if kb.settings.resync_ms == 0 {
        return;
    }
    crate::metrics::install();
    metrics::describe_counter!(
        "switchboard_kb_resync_fixes_total",
        "Articles a knowledge-base resync indexed again or removed: changes whose kb.changed message this node missed."
    );
    let every = std::time::Duration::from_millis(kb.settings.resync_ms);
    let (kb, store) = (
        std::sync::Arc::downgrade(kb),
        std::sync::Arc::downgrade(store),
    );
    actix::spawn(async move {
        loop {
            actix_rt::time::sleep(every).await; // the resync period, not synchronisation
            let (Some(kb), Some(store)) = (kb.upgrade(), store.upgrade()) else {
                return;
            };
            match kb.resync(&store).await {
                Ok(r) if r.changed + r.removed > 0 => {
                    metrics::counter!("switchboard_kb_resync_fixes_total")
                        .increment((r.changed + r.removed) as u64);
                    tracing::info!(
                        changed = r.changed,
                        removed = r.removed,
                        "kb resync caught up"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "kb resync could not read the store"),
            }
        }
    });
}

/// Record kind of an article (key = article id, a UUID string).
pub use switchboard_engine::articles::KIND as KB_ARTICLE;

/// Record kind of a proposed change (key = draft id, a UUID string). Never indexed and
/// never read by the bot or the IVR.
pub const KB_DRAFT: &str = "kb_draft";

/// A change an agent proposed: a new article (`article_id` absent) or new content for
/// article `article_id` at `base_version`. Published (or discarded) by a supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Draft {
    pub id: String,
    /// The article this would replace; absent for a new article.
    #[serde(default)]
    pub article_id: Option<String>,
    /// The version of `article_id` the change was made on; publishing after the
    /// article moved on is a 409 `conflict`.
    #[serde(default)]
    pub base_version: Option<u64>,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `ja` or `en`.
    pub language: String,
    #[serde(default)]
    #[schema(value_type = Vec<crate::schema::ChannelName>, inline)]
    pub channels: Vec<Channel>,
    /// Whether the published article is shown to customers in the help center.
    #[serde(default)]
    pub public: bool,
    pub proposed_by: String,
    pub proposed_at: u64,
}

/// One article, stored as JSON in the records table. Other features read `title`,
/// `body` and `language` of this exact shape directly from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `ja` or `en`.
    pub language: String,
    /// Channel names (`chat`, `sms`, ...); empty = every channel.
    #[serde(default)]
    #[schema(value_type = Vec<crate::schema::ChannelName>, inline)]
    pub channels: Vec<Channel>,
    /// Shown to anyone in the public help center (`/help/`) and the web chat's
    /// suggestions, when it is also visible on `chat`; `false` (the default, and every
    /// article written before the help center): staff, the bot and the IVR only.
    #[serde(default)]
    pub public: bool,
    pub version: u64,
    pub updated_at: u64,
    pub updated_by: String,
}

impl Article {
    /// Whether the article may be shown on `channel`.
    pub fn visible_on(&self, channel: Channel) -> bool {
        self.channels.is_empty() || self.channels.contains(&channel)
    }

    /// Whether the help center shows it: public and visible on the web (`chat`).
    pub fn in_help_center(&self) -> bool {
        self.public && self.visible_on(Channel::Chat)
    }
}

/// Languages an article may be written in.
pub use switchboard_engine::articles::LANGUAGES;

/// `[kb]`: knowledge-base limits and the Japanese dictionary.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KbSettings {
    /// Longest search query accepted, in bytes (longer → 400 `invalid`, nothing searched).
    pub max_query_bytes: usize,
    /// Largest article (title + body + tags), in bytes.
    pub max_article_bytes: usize,
    /// Longest title, in bytes.
    pub max_title_bytes: usize,
    /// Most tags on an article (each at most 64 bytes).
    pub max_tags: usize,
    /// Most hits one search returns (`limit` is capped to this).
    pub max_results: usize,
    /// Agents' `POST`/`PUT` of an article are stored as drafts for a supervisor to
    /// publish (202), instead of being refused (403). Drafts are never served to
    /// customers (bot, IVR) nor found by search.
    pub agents_propose_drafts: bool,
    /// Most drafts waiting for a supervisor; past it an agent's proposal is refused
    /// (413 `too_large`) until some are published or discarded.
    pub max_drafts: usize,
    /// Confidence (0..=1, see docs/kb.md) at or above which the FAQ bot answers with
    /// the top hit; a hit's `confident` flag uses it too.
    pub bot_confidence: f32,
    /// Debian `mecab-ipadic` sources (EUC-JP). Absent → the bigram tokenizer.
    pub ipadic_dir: PathBuf,
    /// Where the compiled dictionary is cached (default: `<tmp>/switchboard-ipadic`,
    /// shared by every engine of the machine).
    pub dictionary_cache: Option<PathBuf>,
    /// In a cluster, how often (milliseconds) each node compares its index with the
    /// stored articles and indexes what differs: the longest an article changed on
    /// another node stays stale here when that node's message was missed. 0: never.
    pub resync_ms: u64,
}

impl Default for KbSettings {
    fn default() -> Self {
        Self {
            max_query_bytes: 1024,
            max_article_bytes: 64 * 1024,
            max_title_bytes: 300,
            max_tags: 20,
            max_results: 20,
            agents_propose_drafts: true,
            max_drafts: 500,
            bot_confidence: 0.6,
            ipadic_dir: PathBuf::from("/usr/share/mecab/dic/ipadic"),
            dictionary_cache: None,
            resync_ms: 30_000,
        }
    }
}

impl KbSettings {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.bot_confidence) {
            return Err("kb.bot_confidence must be within 0..=1".into());
        }
        if self.max_results == 0 || self.max_query_bytes == 0 || self.max_tags == 0 {
            return Err("kb.max_results, kb.max_query_bytes and kb.max_tags must be > 0".into());
        }
        if self.agents_propose_drafts && self.max_drafts == 0 {
            return Err("kb.max_drafts must be > 0 while kb.agents_propose_drafts is on".into());
        }
        Ok(())
    }
}

/// `[help]`: the public help center (`/help/`, docs/help-center.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HelpSettings {
    /// Serve `/help/` and `/help/api/` (off: 404, and the web chat shows no
    /// suggestions).
    pub enabled: bool,
    /// Most articles the home page of a language lists (by title).
    pub max_listed: usize,
    /// Most hits of a search (the page's and the chat widget's `limit`).
    pub max_results: usize,
    /// How often (milliseconds) this node writes its article views and answers to the
    /// store: the most a `kill -9` loses. 0: never (tests flush by reading the stats).
    pub flush_ms: u64,
    /// Most stored stats rows one `GET /api/v1/kb/stats` reads (a range with more is
    /// 400 `invalid`).
    pub max_stats_rows: usize,
    /// Longest range of `GET /api/v1/kb/stats`, in days.
    pub max_stats_days: u32,
    /// How long browsers and proxies may keep a page or a search answer (seconds, the
    /// `Cache-Control: public, max-age` of every `GET`): an article changed or made
    /// private may be seen that much longer. 0: `no-store`.
    pub cache_seconds: u32,
    /// The language (`ja`, `en`) of a visitor whose `Accept-Language` names neither.
    pub default_language: String,
    /// The help center's public origin (`https://help.example.com`) for the sitemap's
    /// absolute URLs; unset: `http://` and the request's `Host`.
    pub public_url: Option<String>,
}

impl Default for HelpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_listed: 200,
            max_results: 10,
            flush_ms: 10_000,
            max_stats_rows: 100_000,
            max_stats_days: 366,
            cache_seconds: 60,
            default_language: "ja".into(),
            public_url: None,
        }
    }
}

impl HelpSettings {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_listed == 0 || self.max_results == 0 || self.max_stats_rows == 0 {
            return Err(
                "help.max_listed, help.max_results and help.max_stats_rows must be > 0".into(),
            );
        }
        if self.max_stats_days == 0 {
            return Err("help.max_stats_days must be > 0".into());
        }
        if !LANGUAGES.contains(&self.default_language.as_str()) {
            return Err("help.default_language must be \"ja\" or \"en\"".into());
        }
        if let Some(u) = &self.public_url {
            if !(u.starts_with("https://") || u.starts_with("http://"))
                || u.contains(['<', '>', '"', ' '])
            {
                return Err("help.public_url must be an http(s) origin".into());
            }
        }
        Ok(())
    }
}

/// Start-up: loads the dictionary (off the async threads; the first start on a machine
/// compiles it) and indexes every stored article.
pub async fn open(
    settings: &KbSettings,
    store: &crate::store::SharedStore,
) -> anyhow::Result<std::sync::Arc<KnowledgeBase>> {
    let settings = settings.clone();
    let kb = tokio::task::spawn_blocking(move || KnowledgeBase::new(&settings)).await?;
    let kb = std::sync::Arc::new(kb);
    let n = kb.rebuild(store).await?;
    tracing::info!(
        articles = n,
        tokenizer = kb.tokenizer_name(),
        "knowledge base indexed"
    );
    Ok(kb)
}

/// The bot asks the index for the single best article.
impl switchboard_engine::ports::Answers for KnowledgeBase {
    fn best(
        &self,
        text: &str,
        language: &str,
        channel: crate::domain::Channel,
    ) -> Option<crate::bot::Candidate> {
        self.search(text, Some(language), Some(channel), 1)
            .hits
            .into_iter()
            .next()
            .map(|h| crate::bot::Candidate {
                id: h.id,
                title: h.title,
                body: h.body,
                confident: h.confident,
            })
    }
}
