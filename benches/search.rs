//! Benchmark of conversation search (`switchboard::search::ConversationIndex`): how
//! long indexing 10,000 and 100,000 conversations takes, the index's size on disk, and
//! the latency of searches (Japanese and English words, words with filters, filters
//! alone newest first, an agent's own search) as percentiles over many queries, with
//! the morphological analyzer (when mecab-ipadic is installed) and the bigram
//! fallback. The index is on disk, as the engine keeps it.
//!
//! It measures only; behaviour is tested by `src/search/index.rs`'s unit test and
//! tests/api/search.rs. Conversations are synthetic: customer messages and agent
//! replies in Japanese or English drawn from a small vocabulary by a deterministic
//! generator, spread over channels, queues, agents, dispositions and 30 days.
//!
//! Run: `cargo bench --bench search`.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;
use support::{pct, Rng};
use switchboard::domain::{AgentId, Channel, ConversationId, CustomerId};
use switchboard::kb::tokenizer::Analyzer;
use switchboard::search::{ConversationDoc, ConversationIndex, Filters, SearchSettings};

const SEARCHES: usize = 2_000;

const JA: &[&str] = &[
    "注文した商品がまだ届きません。",
    "返品の方法を教えてください。",
    "請求書の金額が違うようです。",
    "パスワードを忘れてログインできません。",
    "届いた商品が壊れていました。",
    "ポイントの使い方がわかりません。",
    "解約の手続きをしたいです。",
    "サイズを交換したいです。",
];
const EN: &[&str] = &[
    "My order has not arrived yet.",
    "How do I return an item?",
    "The invoice amount looks wrong.",
    "I forgot my password and cannot sign in.",
    "The item arrived broken.",
    "How do I use my points?",
    "I want to cancel my subscription.",
    "Can I exchange the size?",
];
const CHANNELS: [Channel; 5] = [
    Channel::Chat,
    Channel::Email,
    Channel::Sms,
    Channel::Line,
    Channel::Voice,
];
const AGENTS: [&str; 20] = [
    "a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09", "a10", "a11", "a12", "a13",
    "a14", "a15", "a16", "a17", "a18", "a19", "a20",
];

fn doc(i: usize, rng: &mut Rng) -> ConversationDoc {
    let ja = i.is_multiple_of(2);
    let lines = if ja { JA } else { EN };
    let text: Vec<&str> = (0..4).map(|_| rng.pick(lines)).collect();
    ConversationDoc {
        conversation: ConversationId(uuid::Uuid::from_u128(i as u128 + 1)),
        customer: CustomerId(uuid::Uuid::from_u128(1_000_000_000 + i as u128)),
        customer_name: Some(format!("Customer {i}")),
        channel: CHANNELS[(rng.next() % 5) as usize],
        queue: ["support", "billing", "support-ja"][(rng.next() % 3) as usize].into(),
        state: "resolved".into(),
        agents: vec![AgentId::parse(AGENTS[(rng.next() % 20) as usize]).unwrap()],
        disposition: Some(
            ["resolved", "refund", "exchange", "info"][(rng.next() % 4) as usize].into(),
        ),
        csat: (!i.is_multiple_of(3)).then_some((rng.next() % 5 + 1) as u8),
        created_at: 1_760_000_000_000 + (rng.next() % (30 * 86_400_000)) as i64,
        attributes: BTreeMap::from([(
            "plan".into(),
            if i.is_multiple_of(7) { "gold" } else { "basic" }.into(),
        )]),
        text: text.join(if ja { "" } else { " " }),
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn run(name: &str, analyzer: Analyzer, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = SearchSettings::default();
    let (ix, _) = ConversationIndex::open(dir.path(), analyzer, &settings).expect("index");
    let mut rng = Rng(0x5eed);
    let t = Instant::now();
    let docs: Vec<ConversationDoc> = (0..n).map(|i| doc(i, &mut rng)).collect();
    for chunk in docs.chunks(1_000) {
        ix.put(chunk).expect("put");
        ix.commit(Some(0)).expect("commit");
    }
    let index_s = t.elapsed().as_secs_f64();
    let size_mib = dir_size(dir.path()) as f64 / (1024.0 * 1024.0);
    let none = Filters::default();
    let filtered = Filters {
        channel: Some(Channel::Email),
        disposition: Some("refund".into()),
        from: Some(1_760_000_000_000 + 10 * 86_400_000),
        to: Some(1_760_000_000_000 + 20 * 86_400_000),
        ..Default::default()
    };
    let agent = Filters {
        only_agent: Some("a07".into()),
        ..Default::default()
    };
    let gold = Filters {
        attribute: Some(("plan".into(), "gold".into())),
        csat_min: Some(4),
        ..Default::default()
    };
    let cases: [(&str, &[&str], &Filters); 5] = [
        (
            "ja words",
            &[
                "返品したい",
                "パスワード ログイン",
                "請求書の金額",
                "サイズ 交換",
            ],
            &none,
        ),
        (
            "en words",
            &[
                "return item",
                "forgot password",
                "invoice amount",
                "exchange size",
            ],
            &none,
        ),
        (
            "words + channel, disposition, dates",
            &["返品", "invoice", "password", "交換"],
            &filtered,
        ),
        (
            "agent's own, words",
            &["返品", "invoice", "password", "交換"],
            &agent,
        ),
        ("filters only, newest first", &[""], &gold),
    ];
    for (case, queries, filters) in cases {
        let mut us = Vec::with_capacity(SEARCHES);
        let mut total = 0usize;
        for i in 0..SEARCHES {
            let t = Instant::now();
            let page = ix
                .search(queries[i % queries.len()], filters, 0, 20)
                .expect("search");
            us.push(t.elapsed().as_secs_f64() * 1e6);
            total += page.total;
        }
        us.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {name} | {n} | {index_s:.1} s | {size_mib:.1} MiB | {case} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} |",
            pct(&us, 50.0),
            pct(&us, 99.0),
            us[us.len() - 1],
            total as f64 / SEARCHES as f64
        );
    }
}

fn main() {
    let kb = switchboard::kb::KbSettings::default();
    let cache = tempfile::tempdir().expect("temp dir");
    let seg = switchboard::kb::dictionary::segmenter(&kb.ipadic_dir, cache.path());
    println!("| analyzer | conversations | index (put + commit per 1,000) | on disk | search | p50 | p99 | max | matched/search |");
    println!("|---|---:|---:|---:|---|---:|---:|---:|---:|");
    for n in [10_000, 100_000] {
        if let Some(seg) = &seg {
            run("lindera-ipadic", Analyzer::morphological(seg.clone()), n);
        }
        run("cjk-bigram", Analyzer::bigram(), n);
    }
    if seg.is_none() {
        println!(
            "(lindera-ipadic skipped: no dictionary sources at {})",
            kb.ipadic_dir.display()
        );
    }
}
