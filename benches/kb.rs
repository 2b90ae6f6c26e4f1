//! Benchmark of the knowledge base (`switchboard::kb::KnowledgeBase`): the cost of the
//! Japanese dictionary (IPADIC compiled from Debian's mecab-ipadic into a fresh cache
//! directory, then loaded from that cache), of writing articles (one `upsert` = one
//! tantivy commit, as the REST edge does), and of searching (Japanese and English
//! queries, percentiles over many searches) with the morphological analyzer and with
//! the bigram fallback.
//!
//! It measures only; behaviour is tested by the unit tests in `src/kb/` and
//! tests/api/kb.rs. Articles are synthetic but realistic: Japanese and English FAQ
//! sentences drawn from a small vocabulary by a deterministic generator.
//!
//! Run: `cargo bench --bench kb` (needs `mecab-ipadic`; without it the morphological
//! rows are skipped with the reason printed).

mod support;

use std::time::Instant;
use support::{pct, Rng};
use switchboard::domain::Channel;
use switchboard::kb::tokenizer::Analyzer;
use switchboard::kb::{Article, KbSettings, KnowledgeBase};

const ARTICLES: usize = 2_000;
const SEARCHES: usize = 2_000;

const JA_NOUNS: &[&str] = &[
    "返品",
    "送料",
    "配送",
    "注文",
    "支払い",
    "請求書",
    "会員登録",
    "パスワード",
    "ポイント",
    "クーポン",
    "在庫",
    "予約",
    "解約",
    "領収書",
    "ギフト包装",
    "交換",
    "保証",
    "営業時間",
];
const JA_FRAMES: &[&str] = &[
    "{}の方法について説明します。",
    "{}はマイページから変更できます。",
    "{}に関するお問い合わせが増えています。",
    "{}の手続きには本人確認が必要です。",
];
const EN_NOUNS: &[&str] = &[
    "returns",
    "shipping",
    "delivery",
    "order",
    "payment",
    "invoice",
    "account",
    "password",
    "points",
    "coupon",
    "stock",
    "booking",
    "cancellation",
    "receipt",
    "gift wrapping",
    "exchange",
    "warranty",
    "opening hours",
];
const EN_FRAMES: &[&str] = &[
    "How to manage your {} online.",
    "You can change your {} from your account page.",
    "Questions about {} are answered here.",
    "Identity checks are needed for {} requests.",
];

fn article(i: usize, rng: &mut Rng) -> Article {
    let ja = i.is_multiple_of(2);
    let (nouns, frames) = if ja {
        (JA_NOUNS, JA_FRAMES)
    } else {
        (EN_NOUNS, EN_FRAMES)
    };
    let topic = rng.pick(nouns);
    let body: Vec<String> = (0..6)
        .map(|_| rng.pick(frames).replace("{}", rng.pick(nouns)))
        .collect();
    Article {
        id: format!("bench-{i:05}"),
        title: format!("{topic} ({i})"),
        body: body.join(if ja { "" } else { " " }),
        tags: vec![topic.to_owned()],
        language: if ja { "ja" } else { "en" }.into(),
        channels: if i.is_multiple_of(3) {
            vec![Channel::Chat]
        } else {
            Vec::new()
        },
        public: i.is_multiple_of(2),
        version: 1,
        updated_at: 0,
        updated_by: "bench".into(),
    }
}

fn run(name: &str, kb: KnowledgeBase) {
    let mut rng = Rng(0x5eed);
    let t = Instant::now();
    for i in 0..ARTICLES {
        kb.upsert(&article(i, &mut rng));
    }
    let write_ms = t.elapsed().as_secs_f64() * 1e3 / ARTICLES as f64;
    for (lang, queries) in [
        (
            "ja",
            &[
                "返品したい",
                "送料はいくらですか",
                "パスワードを忘れました",
                "ポイントの使い方",
            ][..],
        ),
        (
            "en",
            &[
                "how do I return an order",
                "shipping cost",
                "forgot my password",
                "gift wrapping",
            ][..],
        ),
    ] {
        let mut us = Vec::with_capacity(SEARCHES);
        let mut hits = 0usize;
        for i in 0..SEARCHES {
            let q = queries[i % queries.len()];
            let t = Instant::now();
            let r = kb.search(q, Some(lang), Some(Channel::Chat), 5);
            us.push(t.elapsed().as_secs_f64() * 1e6);
            hits += r.hits.len();
        }
        us.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {name} | {lang} | {ARTICLES} | {write_ms:.2} ms | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} |",
            pct(&us, 50.0),
            pct(&us, 99.0),
            us[us.len() - 1],
            hits as f64 / SEARCHES as f64
        );
    }
}

fn main() {
    let settings = KbSettings::default();
    let cache = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let built = switchboard::kb::dictionary::segmenter(&settings.ipadic_dir, cache.path());
    let build_s = t.elapsed().as_secs_f64();
    println!("| analyzer | query language | articles | write (upsert + commit) | search p50 | search p99 | search max | hits/search |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    match built {
        Some(seg) => {
            run(
                "lindera-ipadic",
                KnowledgeBase::with_analyzer(&settings, Analyzer::morphological(seg)),
            );
            println!();
            println!(
                "IPADIC compiled from {} into a fresh cache: {build_s:.1} s",
                settings.ipadic_dir.display()
            );
        }
        None => println!(
            "(lindera-ipadic skipped: no dictionary sources at {})",
            settings.ipadic_dir.display()
        ),
    }
    run(
        "cjk-bigram",
        KnowledgeBase::with_analyzer(&settings, Analyzer::bigram()),
    );
}
