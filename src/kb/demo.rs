//! Demo FAQ articles (`--demo`), Japanese and English, created only if absent (fixed
//! ids), so the FAQ bot and agent suggestions have something to find.

use super::{Article, KB_ARTICLE};
use crate::actors::Engine;
use crate::store::{Batch, RecordWrite};

/// (id, language, title, body, tags)
const ARTICLES: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "00000000-0000-4000-8000-00000000a001",
        "ja",
        "返品方法について",
        "商品の返品は、お届けから30日以内であれば承ります。マイページの注文履歴から返品を申請し、同梱の返品伝票を貼って発送してください。",
        &["返品", "返金"],
    ),
    (
        "00000000-0000-4000-8000-00000000a002",
        "ja",
        "送料について",
        "送料は全国一律550円です。5,000円以上のご注文は送料無料になります。",
        &["送料", "配送"],
    ),
    (
        "00000000-0000-4000-8000-00000000a003",
        "ja",
        "営業時間について",
        "カスタマーサポートの営業時間は平日9時から18時までです。土日祝日はお休みをいただいております。",
        &["営業時間"],
    ),
    (
        "00000000-0000-4000-8000-00000000b001",
        "en",
        "How to return an item",
        "You can return an item within 30 days of delivery. Request a return from your order history and ship the parcel with the enclosed return label.",
        &["returns", "refund"],
    ),
    (
        "00000000-0000-4000-8000-00000000b002",
        "en",
        "Shipping fees",
        "Shipping costs 550 yen anywhere in Japan. Orders of 5,000 yen or more ship free.",
        &["shipping", "delivery"],
    ),
    (
        "00000000-0000-4000-8000-00000000b003",
        "en",
        "Opening hours",
        "Our support team is open on weekdays from 9:00 to 18:00. We are closed on weekends and public holidays.",
        &["hours"],
    ),
];

/// The demo articles as [`Article`]s.
pub fn articles(now: u64) -> Vec<Article> {
    ARTICLES
        .iter()
        .map(|(id, lang, title, body, tags)| Article {
            id: (*id).into(),
            title: (*title).into(),
            body: (*body).into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            language: (*lang).into(),
            channels: Vec::new(),
            public: true,
            version: 1,
            updated_at: now,
            updated_by: "demo".into(),
        })
        .collect()
}

/// Stores and indexes the demo articles that do not exist yet.
pub async fn seed(engine: &Engine, kb: &super::KnowledgeBase) -> anyhow::Result<()> {
    let mut batch = Batch::default();
    let mut added = Vec::new();
    for a in articles(engine.now().0.max(0) as u64) {
        if engine.store.record(KB_ARTICLE, &a.id).await?.is_none() {
            batch.records.push(RecordWrite::put(
                KB_ARTICLE,
                a.id.clone(),
                serde_json::to_vec(&a)?,
            ));
            added.push(a);
        }
    }
    if !batch.is_empty() {
        engine.store.commit(batch).await?;
        for a in &added {
            kb.upsert(a);
        }
    }
    Ok(())
}
