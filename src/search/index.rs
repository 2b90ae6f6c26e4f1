//! The conversation index: one tantivy document per conversation, on disk (memory-
//! mapped segments; the writer's heap is `search.writer_heap_bytes`), holding its text
//! (messages, email subjects, notes, bot replies, survey comments; at most
//! `search.max_text_bytes`) analysed like the knowledge base's, and exact terms for the
//! filters. The feed's position is the commit's payload, so a restart goes on where it
//! stopped.
//!
//! A query's words must all be found (AND); hits are ranked by BM25, or newest first
//! without words. An agent's search is limited to conversations an `assigned` event
//! gave them (the access rule of `crate::api::access`).

use super::SearchSettings;
use crate::domain::{AgentId, Channel, ConversationId, CustomerId};
use crate::kb::tokenizer::{Analyzer, KbTokenizer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

const TOKENIZER: &str = "sb_search";
/// Bumped when the schema or the analysis changes: an index of another version is
/// rebuilt from the store.
const VERSION: u32 = 1;

/// What is indexed of one conversation (built by the feed from the store).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationDoc {
    pub conversation: ConversationId,
    pub customer: CustomerId,
    pub customer_name: Option<String>,
    pub channel: Channel,
    pub queue: String,
    pub state: String,
    /// Every agent the conversation was assigned to, and its agent now.
    pub agents: Vec<AgentId>,
    pub disposition: Option<String>,
    /// The survey's score, if answered.
    pub csat: Option<u8>,
    pub created_at: i64,
    /// The customer's attributes (`key=value`, compared without case).
    pub attributes: BTreeMap<String, String>,
    pub text: String,
}

/// The filters of a search; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub channel: Option<Channel>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub disposition: Option<String>,
    /// Created at or after (ms).
    pub from: Option<i64>,
    /// Created before (ms).
    pub to: Option<i64>,
    pub csat_min: Option<u8>,
    pub csat_max: Option<u8>,
    /// `(key, value)` of a customer attribute.
    pub attribute: Option<(String, String)>,
    /// An agent's own search: only conversations assigned to them.
    pub only_agent: Option<String>,
}

/// One found conversation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub conversation_id: String,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub channel: String,
    pub queue: String,
    pub state: String,
    pub agents: Vec<String>,
    pub disposition: Option<String>,
    pub csat: Option<u64>,
    /// Unix ms.
    pub created_at: i64,
    /// Up to ~120 characters around the first word found.
    pub snippet: String,
    /// BM25 (compare within one search); absent without words.
    pub score: Option<f32>,
}

/// A page of hits and how many matched in all.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub total: usize,
}

struct Fields {
    conversation: Field,
    customer: Field,
    customer_name: Field,
    channel: Field,
    queue: Field,
    state: Field,
    agents: Field,
    disposition: Field,
    csat: Field,
    created_at: Field,
    attributes: Field,
    text: Field,
}

/// The index and its writer.
pub struct ConversationIndex {
    analyzer: Analyzer,
    fields: Fields,
    index: Index,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// Held while open: one engine per directory (`None` in memory).
    _lock: Option<std::fs::File>,
}

/// The file whose lock says an engine has the directory.
const LOCK: &str = ".switchboard-search.lock";

/// The feed's position as the commit payload.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    version: u32,
    /// Report events before this (ms) are indexed.
    cursor: i64,
}

fn schema() -> (Schema, Fields) {
    let mut sb = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
        .set_stored();
    let fields = Fields {
        conversation: sb.add_text_field("conversation", STRING | STORED),
        customer: sb.add_text_field("customer", STRING | STORED),
        customer_name: sb.add_text_field("customer_name", STORED),
        channel: sb.add_text_field("channel", STRING | STORED),
        queue: sb.add_text_field("queue", STRING | STORED),
        state: sb.add_text_field("state", STRING | STORED),
        agents: sb.add_text_field("agents", STRING | STORED),
        disposition: sb.add_text_field("disposition", STRING | STORED),
        csat: sb.add_u64_field("csat", INDEXED | STORED | FAST),
        created_at: sb.add_i64_field("created_at", INDEXED | STORED | FAST),
        attributes: sb.add_text_field("attributes", STRING),
        text: sb.add_text_field("text", text),
    };
    (sb.build(), fields)
}

fn attribute_term(key: &str, value: &str) -> String {
    format!("{}={}", key.to_lowercase(), value.to_lowercase())
}

impl ConversationIndex {
    /// The index in `dir` (created, or re-created when it is of another version or
    /// unreadable), analysing with `analyzer`; and the feed's cursor (`None`: a new
    /// index, to be filled from the store).
    pub fn open(
        dir: &Path,
        analyzer: Analyzer,
        settings: &SearchSettings,
    ) -> anyhow::Result<(Self, Option<i64>)> {
        let (schema, fields) = schema();
        std::fs::create_dir_all(dir)?;
        // Before anything is read or wiped: another engine may have this directory.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK))?;
        lock.try_lock().map_err(|e| {
            anyhow::anyhow!(
                "the search index in {} is in use by another engine ({e}); give each its own search.dir or node name",
                dir.display()
            )
        })?;
        let existing = tantivy::directory::MmapDirectory::open(dir)
            .ok()
            .and_then(|d| Index::open(d).ok())
            .and_then(|index| {
                let payload: Payload =
                    serde_json::from_str(index.load_metas().ok()?.payload.as_deref().unwrap_or(""))
                        .ok()?;
                (payload.version == VERSION && index.schema() == schema)
                    .then_some((index, payload.cursor))
            });
        let (index, cursor) = match existing {
            Some((index, cursor)) => (index, Some(cursor)),
            None => {
                // Another version, or nothing readable: start again from the store.
                for entry in std::fs::read_dir(dir)? {
                    let p = entry?.path();
                    if p.file_name().is_some_and(|n| n == LOCK) {
                        continue;
                    }
                    if p.is_dir() {
                        std::fs::remove_dir_all(&p)?;
                    } else {
                        std::fs::remove_file(&p)?;
                    }
                }
                (Index::create_in_dir(dir, schema)?, None)
            }
        };
        let mut me = Self::around(index, fields, analyzer, settings)?;
        me._lock = Some(lock);
        Ok((me, cursor))
    }

    /// An index in memory (benchmarks, tests).
    pub fn in_memory(analyzer: Analyzer, settings: &SearchSettings) -> anyhow::Result<Self> {
        let (schema, fields) = schema();
        Self::around(Index::create_in_ram(schema), fields, analyzer, settings)
    }

    fn around(
        index: Index,
        fields: Fields,
        analyzer: Analyzer,
        settings: &SearchSettings,
    ) -> anyhow::Result<Self> {
        index.tokenizers().register(
            TOKENIZER,
            tantivy::tokenizer::TextAnalyzer::from(KbTokenizer(analyzer.clone())),
        );
        let writer = index.writer_with_num_threads(1, settings.writer_heap_bytes)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            analyzer,
            fields,
            index,
            writer: Mutex::new(writer),
            reader,
            _lock: None,
        })
    }

    /// `lindera-ipadic` or `cjk-bigram`.
    pub fn tokenizer_name(&self) -> &'static str {
        self.analyzer.name()
    }

    /// Replaces the documents of these conversations (not yet searchable: see
    /// [`ConversationIndex::commit`]).
    pub fn put(&self, docs: &[ConversationDoc]) -> tantivy::Result<()> {
        let f = &self.fields;
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for d in docs {
            let id = d.conversation.to_string();
            w.delete_term(Term::from_field_text(f.conversation, &id));
            let mut doc = TantivyDocument::default();
            doc.add_text(f.conversation, &id);
            doc.add_text(f.customer, d.customer.to_string());
            if let Some(n) = &d.customer_name {
                doc.add_text(f.customer_name, n);
            }
            doc.add_text(f.channel, d.channel.as_str());
            doc.add_text(f.queue, &d.queue);
            doc.add_text(f.state, &d.state);
            for a in &d.agents {
                doc.add_text(f.agents, a.as_str());
            }
            if let Some(x) = &d.disposition {
                doc.add_text(f.disposition, x);
            }
            if let Some(c) = d.csat {
                doc.add_u64(f.csat, u64::from(c));
            }
            doc.add_i64(f.created_at, d.created_at);
            for (k, v) in &d.attributes {
                doc.add_text(f.attributes, attribute_term(k, v));
            }
            doc.add_text(f.text, &d.text);
            w.add_document(doc)?;
        }
        Ok(())
    }

    /// Removes the documents of these conversations.
    pub fn remove(&self, ids: &[ConversationId]) {
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            w.delete_term(Term::from_field_text(
                self.fields.conversation,
                &id.to_string(),
            ));
        }
    }

    /// Removes every conversation of `customer` (an erasure), committed at once.
    pub fn forget_customer(&self, customer: CustomerId) -> tantivy::Result<()> {
        {
            let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            w.delete_term(Term::from_field_text(
                self.fields.customer,
                &customer.to_string(),
            ));
        }
        self.commit(None)
    }

    /// Makes what was put searchable; with `cursor`, records the feed's position with
    /// it (otherwise the last recorded one stays).
    pub fn commit(&self, cursor: Option<i64>) -> tantivy::Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let cursor = match cursor {
            Some(c) => c,
            None => self.cursor().unwrap_or(0),
        };
        let payload = serde_json::to_string(&Payload {
            version: VERSION,
            cursor,
        })
        .expect("payload serialises");
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        drop(w);
        self.reader.reload()
    }

    /// The feed position of the last commit.
    pub fn cursor(&self) -> Option<i64> {
        let metas = self.index.load_metas().ok()?;
        serde_json::from_str::<Payload>(metas.payload.as_deref()?)
            .ok()
            .map(|p| p.cursor)
    }

    /// Conversations in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page `offset..offset + limit` of the conversations matching `q` (every
    /// analysed word of it; empty: any) and `filters`.
    pub fn search(
        &self,
        q: &str,
        filters: &Filters,
        offset: usize,
        limit: usize,
    ) -> tantivy::Result<SearchPage> {
        let f = &self.fields;
        let mut terms = self.analyzer.terms(q);
        let mut seen = HashSet::new();
        terms.retain(|t| seen.insert(t.clone()));
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &terms {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.text, t),
                    IndexRecordOption::WithFreqs,
                )),
            ));
        }
        let exact = |field: Field, v: &str| -> (Occur, Box<dyn Query>) {
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                )),
            )
        };
        if let Some(c) = filters.channel {
            must.push(exact(f.channel, c.as_str()));
        }
        if let Some(x) = &filters.queue {
            must.push(exact(f.queue, x));
        }
        if let Some(x) = &filters.agent {
            must.push(exact(f.agents, x));
        }
        if let Some(x) = &filters.only_agent {
            must.push(exact(f.agents, x));
        }
        if let Some(x) = &filters.disposition {
            must.push(exact(f.disposition, x));
        }
        if let Some((k, v)) = &filters.attribute {
            must.push(exact(f.attributes, &attribute_term(k, v)));
        }
        if filters.from.is_some() || filters.to.is_some() {
            let lo = filters.from.map_or(Bound::Unbounded, |t| {
                Bound::Included(Term::from_field_i64(f.created_at, t))
            });
            let hi = filters.to.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(f.created_at, t))
            });
            must.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        if filters.csat_min.is_some() || filters.csat_max.is_some() {
            let lo = Term::from_field_u64(f.csat, u64::from(filters.csat_min.unwrap_or(0)));
            let hi = Term::from_field_u64(f.csat, u64::from(filters.csat_max.unwrap_or(u8::MAX)));
            must.push((
                Occur::Must,
                Box::new(RangeQuery::new(Bound::Included(lo), Bound::Included(hi))),
            ));
        }
        if must.is_empty() {
            must.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(must);
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit.max(1)).and_offset(offset);
        let (found, total): (Vec<(Option<f32>, tantivy::DocAddress)>, usize) = if terms.is_empty() {
            let (docs, total) = searcher.search(
                &query,
                &(
                    top.order_by_fast_field::<i64>("created_at", Order::Desc),
                    Count,
                ),
            )?;
            (docs.into_iter().map(|(_, a)| (None, a)).collect(), total)
        } else {
            let (docs, total) = searcher.search(&query, &(top.order_by_score(), Count))?;
            (docs.into_iter().map(|(s, a)| (Some(s), a)).collect(), total)
        };
        let mut hits = Vec::with_capacity(found.len());
        for (score, addr) in found {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let body = text(f.text).unwrap_or_default();
            hits.push(SearchHit {
                conversation_id: text(f.conversation).unwrap_or_default(),
                customer_id: text(f.customer).unwrap_or_default(),
                customer_name: text(f.customer_name),
                channel: text(f.channel).unwrap_or_default(),
                queue: text(f.queue).unwrap_or_default(),
                state: text(f.state).unwrap_or_default(),
                agents: doc
                    .get_all(f.agents)
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                disposition: text(f.disposition),
                csat: doc.get_first(f.csat).and_then(|v| v.as_u64()),
                created_at: doc
                    .get_first(f.created_at)
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0),
                snippet: crate::kb::index::snippet(&body, &terms),
                score,
            });
        }
        Ok(SearchPage { hits, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: u128, text: &str, agent: &str, at: i64) -> ConversationDoc {
        ConversationDoc {
            conversation: ConversationId(uuid::Uuid::from_u128(n)),
            customer: CustomerId(uuid::Uuid::from_u128(1000 + n)),
            customer_name: Some(format!("Customer {n}")),
            channel: if n.is_multiple_of(2) {
                Channel::Chat
            } else {
                Channel::Email
            },
            queue: "support".into(),
            state: "resolved".into(),
            agents: vec![AgentId::parse(agent).unwrap()],
            disposition: Some(
                if n.is_multiple_of(3) {
                    "refund"
                } else {
                    "info"
                }
                .into(),
            ),
            csat: Some((n % 5 + 1) as u8),
            created_at: at,
            attributes: BTreeMap::from([("Plan".into(), "Gold".into())]),
            text: text.into(),
        }
    }

    fn ids(p: &SearchPage) -> Vec<String> {
        p.hits
            .iter()
            .map(|h| h.customer_name.clone().unwrap())
            .collect()
    }

    #[test]
    fn words_filters_roles_paging_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let s = SearchSettings::default();
        let (ix, cursor) = ConversationIndex::open(dir.path(), Analyzer::bigram(), &s).unwrap();
        assert_eq!(cursor, None, "a new index");
        ix.put(&[
            doc(1, "My card was charged twice", "alice", 100),
            doc(2, "Where is my parcel? The card is fine", "bob", 200),
            doc(3, "返品したいです。カードで払いました", "alice", 300),
            doc(4, "Refund my card please", "bob", 400),
        ])
        .unwrap();
        ix.commit(Some(7)).unwrap();
        let all = Filters::default();
        let p = ix.search("card", &all, 0, 10).unwrap();
        assert_eq!(p.total, 3);
        assert!(p.hits.iter().all(|h| h.score.is_some()));
        assert_eq!(
            ids(&ix.search("card twice", &all, 0, 10).unwrap()),
            ["Customer 1"]
        );
        assert_eq!(
            ids(&ix.search("返品", &all, 0, 10).unwrap()),
            ["Customer 3"]
        );
        // No words: newest first; paging.
        assert_eq!(
            ids(&ix.search("", &all, 1, 2).unwrap()),
            ["Customer 3", "Customer 2"]
        );
        let only = |f: Filters| ids(&ix.search("", &f, 0, 10).unwrap());
        assert_eq!(
            only(Filters {
                channel: Some(Channel::Email),
                ..Default::default()
            }),
            ["Customer 3", "Customer 1"]
        );
        assert_eq!(
            only(Filters {
                only_agent: Some("bob".into()),
                from: Some(200),
                to: Some(400),
                ..Default::default()
            }),
            ["Customer 2"]
        );
        assert_eq!(
            only(Filters {
                disposition: Some("refund".into()),
                csat_min: Some(4),
                ..Default::default()
            }),
            ["Customer 3"]
        );
        assert_eq!(
            only(Filters {
                attribute: Some(("plan".into(), "GOLD".into())),
                ..Default::default()
            })
            .len(),
            4
        );
        // Replaced, not duplicated; removed with its customer.
        ix.put(&[doc(1, "Nothing about payments", "alice", 100)])
            .unwrap();
        ix.commit(None).unwrap();
        assert_eq!(ix.search("card", &all, 0, 10).unwrap().total, 2);
        ix.forget_customer(CustomerId(uuid::Uuid::from_u128(1002)))
            .unwrap();
        assert_eq!(ix.len(), 3);
        drop(ix);
        // Reopened: the documents and the cursor are there.
        let (ix, cursor) = ConversationIndex::open(dir.path(), Analyzer::bigram(), &s).unwrap();
        assert_eq!(cursor, Some(7));
        assert_eq!(ix.len(), 3);
    }
}
