//! How conversations reach the index: every node reads the store's report events —
//! written at each state change of every conversation (offered, answered, transferred,
//! resolved, abandoned, reopened, surveyed…) by whichever node served it — and
//! re-indexes the conversations they name from the store (record, customer, timeline).
//! So each node's index covers the whole cluster, survives the loss of any other node,
//! and a missing index is rebuilt from the last `search.rebuild_days` of events.
//!
//! A conversation's text is searchable as of its latest state change: a message in the
//! middle of a chat is found once the conversation next changes (at the latest when it
//! is resolved). Each round reads from `search.overlap_ms` before the last round's end
//! (events committed late, other nodes' clocks); an event already seen is skipped. The
//! position is committed with the index only when every conversation read so far is
//! indexed, so a crash re-reads rather than skips.
//!
//! An erased customer's conversations are removed at once on the node that erased it
//! and, through [`Forget`], on every other member; a conversation whose record or
//! customer is gone is removed when it is next named.

use super::{ConversationDoc, ConversationIndex, SearchSettings};
use crate::domain::{ConversationId, CustomerId, EventId, EventKind, Millis};
use crate::store::{SharedStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
/// Timeline events read per store call while building a document.
const PAGE: usize = 500;

/// An erased customer: remove their conversations from the index (kind
/// `search.forget`, sent to every member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forget {
    pub customer: CustomerId,
    /// Its conversations, those of customers merged into it included.
    pub conversations: Vec<ConversationId>,
}

impl crate::peers::Wire for Forget {
    const KIND: &'static str = "search.forget";
    type Reply = ();
}

struct State {
    /// Report events before this are read.
    cursor: i64,
    /// Named by events read, not indexed yet.
    pending: BTreeSet<ConversationId>,
    /// Events of the overlap window already read, with their time.
    seen: HashMap<EventId, i64>,
}

/// The index with its feed.
pub struct Feed {
    pub index: ConversationIndex,
    store: SharedStore,
    settings: SearchSettings,
    state: tokio::sync::Mutex<State>,
    /// The state's cursor and pending count after the last round (read without waiting
    /// for a round).
    shown_cursor: AtomicI64,
    shown_pending: AtomicUsize,
}

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub events: usize,
    pub indexed: usize,
    pub removed: usize,
    /// Conversations still waiting.
    pub pending: usize,
}

impl Feed {
    /// `cursor`: where the index's last commit left the feed; `None` (a new index):
    /// `search.rebuild_days` before `now`.
    pub fn new(
        index: ConversationIndex,
        store: SharedStore,
        settings: SearchSettings,
        cursor: Option<i64>,
        now: i64,
    ) -> Self {
        let cursor =
            cursor.unwrap_or_else(|| (now - i64::from(settings.rebuild_days) * DAY_MS).max(0));
        Feed {
            index,
            store,
            settings,
            state: tokio::sync::Mutex::new(State {
                cursor,
                pending: BTreeSet::new(),
                seen: HashMap::new(),
            }),
            shown_cursor: AtomicI64::new(cursor),
            shown_pending: AtomicUsize::new(0),
        }
    }

    /// Report events before this time (ms) are indexed, unless conversations are still
    /// waiting (`pending`).
    pub fn position(&self) -> (i64, usize) {
        (
            self.shown_cursor.load(Ordering::SeqCst),
            self.shown_pending.load(Ordering::SeqCst),
        )
    }

    /// Reads the report events up to `now` (until `search.per_round` conversations
    /// wait) and indexes up to `search.per_round` of the conversations they name.
    pub async fn round(self: &Arc<Self>, now: i64) -> anyhow::Result<Round> {
        let s = &self.settings;
        let mut st = self.state.lock().await;
        let mut round = Round::default();
        let mut from = (st.cursor - s.overlap_ms as i64).max(0);
        while from < now && st.pending.len() < s.per_round {
            let mut to = now;
            let events = loop {
                let evs = self
                    .store
                    .report_events(None, Millis(from), Millis(to), s.read_batch + 1)
                    .await?;
                if evs.len() <= s.read_batch || to - from <= 1 {
                    break evs;
                }
                to = from + (to - from) / 2;
            };
            for e in events {
                if st.seen.insert(e.id, e.at.0).is_none() {
                    round.events += 1;
                    st.pending.insert(e.conversation);
                }
            }
            st.cursor = st.cursor.max(to);
            from = to;
        }
        let horizon = st.cursor - s.overlap_ms as i64;
        st.seen.retain(|_, at| *at >= horizon);

        let batch: Vec<ConversationId> = st.pending.iter().take(s.per_round).copied().collect();
        let mut docs = Vec::new();
        let mut gone = Vec::new();
        for id in &batch {
            match build(&self.store, *id, s).await? {
                Some(d) => docs.push(d),
                None => gone.push(*id),
            }
        }
        round.indexed = docs.len();
        round.removed = gone.len();
        let done = st.pending.len() == batch.len();
        let cursor = done.then_some(st.cursor);
        let write = round.events > 0 || !batch.is_empty() || done;
        // Indexing and the commit's fsync run off the async threads.
        let me = self.clone();
        tokio::task::spawn_blocking(move || -> tantivy::Result<()> {
            me.index.put(&docs)?;
            me.index.remove(&gone);
            if write {
                me.index.commit(cursor)?;
            }
            Ok(())
        })
        .await??;
        for id in &batch {
            st.pending.remove(id);
        }
        round.pending = st.pending.len();
        self.shown_pending.store(round.pending, Ordering::SeqCst);
        self.shown_cursor.store(st.cursor, Ordering::SeqCst);
        Ok(round)
    }

    /// Rounds until every event before `now` is read and nothing waits.
    pub async fn catch_up(self: &Arc<Self>, now: i64) -> anyhow::Result<()> {
        loop {
            let r = self.round(now).await?;
            if r.pending == 0 && self.position().0 >= now {
                return Ok(());
            }
        }
    }

    /// Removes an erased customer's conversations.
    pub fn forget(&self, f: &Forget) {
        self.index.remove(&f.conversations);
        if let Err(e) = self.index.forget_customer(f.customer) {
            tracing::error!(error = %e, "an erased customer's conversations stay in the search index");
        }
    }
}

/// The document of conversation `id` as the store has it; `None` when the conversation
/// or its customer is gone (erased).
pub async fn build(
    store: &SharedStore,
    id: ConversationId,
    s: &SearchSettings,
) -> Result<Option<ConversationDoc>, StoreError> {
    let Some(c) = store.conversation(id).await? else {
        return Ok(None);
    };
    let Some(customer) = store.customer(c.customer_id).await? else {
        return Ok(None);
    };
    let mut texts: Vec<String> = Vec::new();
    let mut agents: BTreeSet<String> = c.agent.iter().map(|a| a.as_str().to_owned()).collect();
    let mut csat = None;
    let mut before = None;
    let mut scanned = 0;
    while scanned < s.max_scan_events {
        let page = crate::actors::timeline::timeline(store, c.customer_id, before, PAGE).await?;
        scanned += page.len();
        for e in page.iter().filter(|e| e.conversation_id == Some(id)) {
            match &e.kind {
                EventKind::MessageIn { text, subject, .. } => {
                    texts.push(text.clone());
                    if let Some(sub) = subject {
                        texts.push(sub.clone());
                    }
                }
                EventKind::MessageOut { text, .. }
                | EventKind::Note { text, .. }
                | EventKind::BotReply { text, .. } => texts.push(text.clone()),
                EventKind::Assigned { agent_id } => {
                    agents.insert(agent_id.as_str().to_owned());
                }
                EventKind::SurveyAnswered { score, comment, .. } => {
                    csat = csat.or(Some(*score));
                    if let Some(cm) = comment {
                        texts.push(cm.clone());
                    }
                }
                _ => {}
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => before = Some(last.id),
            _ => break,
        }
    }
    // Read newest first; kept oldest first, up to the budget.
    texts.reverse();
    let mut text = String::new();
    for t in texts {
        if text.len() + t.len() + 1 > s.max_text_bytes {
            let room = s.max_text_bytes.saturating_sub(text.len() + 1);
            let mut cut = room.min(t.len());
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            text.push('\n');
            text.push_str(&t[..cut]);
            break;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&t);
    }
    Ok(Some(ConversationDoc {
        conversation: c.id,
        customer: c.customer_id,
        customer_name: customer.display_name.clone(),
        channel: c.channel,
        queue: c.queue.as_str().to_owned(),
        state: c.state.as_str().to_owned(),
        agents: agents
            .into_iter()
            .filter_map(|a| crate::domain::AgentId::parse(&a).ok())
            .collect(),
        disposition: c.disposition.clone(),
        csat,
        created_at: c.created_at.0,
        attributes: customer.attributes.clone(),
        text,
    }))
}

/// Where a node keeps its index: `search.dir`, else `<data_dir>/search/<node name>` (so
/// engines that share a data directory — several CQL nodes on one volume — each keep
/// their own; a restart under the same name finds its index again).
pub fn dir_of(s: &SearchSettings, data_dir: &std::path::Path, node: &str) -> std::path::PathBuf {
    s.dir.clone().unwrap_or_else(|| {
        let name: String = node
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        data_dir.join("search").join(name)
    })
}

/// Opens the index in `dir` and starts its rounds every `search.poll_ms`; serves
/// [`Forget`] from other members.
pub async fn start(
    s: &SearchSettings,
    dir: std::path::PathBuf,
    store: &SharedStore,
    analyzer: crate::kb::tokenizer::Analyzer,
    now: i64,
    clock: crate::domain::time::SharedClock,
    peers: Option<&crate::peers::Peers>,
) -> anyhow::Result<Arc<Feed>> {
    let s = s.clone();
    let (index, cursor) = {
        let s = s.clone();
        tokio::task::spawn_blocking(move || ConversationIndex::open(&dir, analyzer, &s)).await??
    };
    let rebuilding = cursor.is_none();
    let feed = Arc::new(Feed::new(index, store.clone(), s.clone(), cursor, now));
    tracing::info!(
        conversations = feed.index.len(),
        rebuilding,
        "conversation search index opened"
    );
    if let Some(peers) = peers {
        let weak = Arc::downgrade(&feed);
        peers.serve(move |_key, f: Forget| {
            let feed = weak.upgrade();
            async move {
                if let Some(feed) = feed {
                    feed.forget(&f);
                }
                Ok(())
            }
        });
    }
    if s.poll_ms > 0 {
        crate::metrics::install();
        metrics::describe_gauge!(
            "switchboard_search_pending_conversations",
            "Conversations named by report events and not yet (re)indexed for search."
        );
        metrics::describe_counter!(
            "switchboard_search_queries_total",
            "Conversation searches answered."
        );
        metrics::describe_gauge!(
            "switchboard_search_lag_seconds",
            "How far the search index's feed is behind the clock."
        );
        let weak = Arc::downgrade(&feed);
        let every = std::time::Duration::from_millis(s.poll_ms);
        actix::spawn(async move {
            loop {
                actix_rt::time::sleep(every).await; // the poll period, not synchronisation
                let Some(feed) = weak.upgrade() else {
                    return;
                };
                let now = clock.now().0;
                match feed.round(now).await {
                    Ok(r) => {
                        let (cursor, pending) = feed.position();
                        metrics::gauge!("switchboard_search_pending_conversations")
                            .set(pending as f64);
                        metrics::gauge!("switchboard_search_lag_seconds")
                            .set(((now - cursor).max(0) as f64) / 1000.0);
                        if r.indexed + r.removed > 0 {
                            tracing::debug!(
                                indexed = r.indexed,
                                removed = r.removed,
                                "search round"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "search round failed; retried next round"),
                }
            }
        });
    }
    Ok(feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_name_has_its_own_directory_and_a_held_one_is_refused() {
        let s = SearchSettings::default();
        let data = std::path::Path::new("/var/lib/sb");
        assert_eq!(
            dir_of(&s, data, "host-1:8080"),
            data.join("search").join("host-1_8080")
        );
        assert_eq!(dir_of(&s, data, "../x"), data.join("search").join(".._x"));
        let own = SearchSettings {
            dir: Some("/elsewhere".into()),
            ..Default::default()
        };
        assert_eq!(
            dir_of(&own, data, "n"),
            std::path::PathBuf::from("/elsewhere")
        );
        // A directory another writer holds cannot be opened (the engine then runs
        // without search rather than not at all).
        let tmp = tempfile::tempdir().unwrap();
        let bigram = crate::kb::tokenizer::Analyzer::bigram;
        let (_held, _) = ConversationIndex::open(tmp.path(), bigram(), &s).unwrap();
        assert!(ConversationIndex::open(tmp.path(), bigram(), &s).is_err());
    }
}
