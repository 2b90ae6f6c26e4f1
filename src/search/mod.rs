//! Conversation search (docs/search.md): full text over every conversation's messages,
//! notes and bot replies — Japanese and English, with the knowledge base's analysis —
//! filtered by channel, queue, agent, date, disposition, CSAT and customer attribute,
//! and limited to what the asking staff member may read.
//!
//! * [`index`]: the tantivy index (one document per conversation) and the query.
//! * [`feed`]: how conversations reach it: every node follows the store's report
//!   events (written at each state change of every conversation, on every node), so
//!   each node's index covers the whole cluster and is rebuilt from the store when its
//!   directory is missing.
//! * [`SearchSettings`]: the `[search]` limits.

pub mod feed;
pub mod index;

use serde::Deserialize;
use std::path::PathBuf;

pub use index::{ConversationDoc, ConversationIndex, Filters, SearchHit, SearchPage};

/// `[search]`: conversation search.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// Index conversations and answer `GET /api/v1/search/conversations` (off: 404).
    pub enabled: bool,
    /// Where the index lives (default `<data_dir>/search`). Deleting it rebuilds it from
    /// the store at the next start.
    pub dir: Option<PathBuf>,
    /// How often (ms) the node reads new report events and indexes the conversations
    /// they name: the longest a change takes to be searchable. 0: only when asked
    /// (tests).
    pub poll_ms: u64,
    /// Each read goes back this far (ms) before the last one's end, for events written
    /// late (a slow commit, another node's clock): at least the cluster's clock skew.
    pub overlap_ms: u64,
    /// A new (or rebuilt) index starts with the conversations of the last this many
    /// days.
    pub rebuild_days: u32,
    /// Report events read per store call.
    pub read_batch: usize,
    /// Conversations (re)indexed per round; the rest wait for the next.
    pub per_round: usize,
    /// Text kept per conversation (bytes; the oldest first). Searches find words only
    /// in what is kept.
    pub max_text_bytes: usize,
    /// Timeline events looked through per conversation (its customer's, newest first).
    pub max_scan_events: usize,
    /// The indexer's memory budget (bytes; tantivy's writer heap, at least 15 MB).
    pub writer_heap_bytes: usize,
    /// Most hits per page.
    pub max_limit: usize,
    /// Deepest `offset` (paging past it: narrow the search instead).
    pub max_offset: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: None,
            poll_ms: 2_000,
            overlap_ms: 60_000,
            rebuild_days: 400,
            read_batch: 2_000,
            per_round: 1_000,
            max_text_bytes: 32 * 1024,
            max_scan_events: 5_000,
            writer_heap_bytes: 32 * 1024 * 1024,
            max_limit: 100,
            max_offset: 1_000,
        }
    }
}

impl SearchSettings {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.writer_heap_bytes < 15_000_000 {
            return Err("search.writer_heap_bytes must be at least 15000000".into());
        }
        if self.read_batch == 0 || self.per_round == 0 || self.max_limit == 0 {
            return Err(
                "search.read_batch, search.per_round and search.max_limit must be > 0".into(),
            );
        }
        if self.max_scan_events == 0 || self.max_text_bytes == 0 || self.rebuild_days == 0 {
            return Err(
                "search.max_scan_events, search.max_text_bytes and search.rebuild_days must be > 0"
                    .into(),
            );
        }
        Ok(())
    }
}
