//! Text analysis for the knowledge base: one tokenizer for indexing and for queries,
//! Japanese-aware.
//!
//! * Normalisation first ([`normalize`]): full-width ASCII and the ideographic space
//!   fold to ASCII (NFKC-ish width folding), half-width katakana is left as written,
//!   Latin letters are lowercased.
//! * English words lose their plural ending ([`plural_stem`], the "S" stemmer): `costs`
//!   and `cost`, `fees` and `fee`, `deliveries` and `delivery` meet, in the index and
//!   in the query alike. Nothing else is stemmed, so `shipping` stays `shipping`.
//! * Japanese: a morphological analyser (lindera) over the IPADIC dictionary, built at
//!   run time from Debian's `mecab-ipadic` sources (EUC-JP CSV) into a cache directory
//!   (see [`crate::kb::dictionary`]). Content words only (nouns, verbs, adjectives,
//!   adverbs, unknown words); particles, auxiliaries and symbols are dropped; verbs and
//!   adjectives are indexed by their base form (したい → する, 返品し → 返品 + する).
//! * Fallback when the dictionary sources are absent: CJK runs become overlapping
//!   character bigrams (a lone character stays a unigram).
//! * Latin/digit runs are words in both modes.
//!
//! [`Analyzer::name`] reports which one is in use (`lindera-ipadic` or `cjk-bigram`).

use super::dictionary::LazySegmenter;
pub use crate::domain::text::{is_cjk, is_japanese, normalize};
use lindera::segmenter::Segmenter;
use std::sync::Arc;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Light verbs and auxiliaries that carry no topic (kept out of the index and queries).
const JA_STOP_BASES: &[&str] = &[
    "する",
    "ある",
    "いる",
    "なる",
    "できる",
    "れる",
    "られる",
    "せる",
    "ない",
    "こと",
    "もの",
    "よう",
    "の",
    "ん",
    "さ",
    "くださる",
    "いただく",
    "もらう",
    "くれる",
    "たい",
    // Question words and request verbs: how a question is asked, not what about.
    "いくら",
    "どう",
    "どうして",
    "なぜ",
    "どれ",
    "どの",
    "どんな",
    "教える",
    "知る",
    "思う",
    "願う",
    "お願い",
    "ほしい",
    "わかる",
    "分かる",
];

/// English words too common to say anything about an article.
const EN_STOP: &[&str] = &[
    "a", "an", "the", "is", "are", "do", "does", "i", "you", "my", "your", "to", "of", "in", "on",
    "for", "and", "or", "it", "what", "how", "can", "be", "me", "we", "our", "at", "with", "want",
    "please", "there", "much", "many", "tell", "about", "know", "need", "would", "like", "could",
    "should", "get", "this", "that", "from", "have", "has", "when", "where", "which", "who", "why",
    "will", "am", "was", "were", "if", "any", "some", "here", "d", "s", "t", "m", "does", "did",
    "not", "no", "yes", "hi", "hello", "thanks", "thank",
];

/// The analysis in use; cheap to clone (the dictionary is shared).
#[derive(Clone)]
pub struct Analyzer {
    segmenter: Option<Arc<LazySegmenter>>,
}

impl Analyzer {
    /// Morphological analysis over `segmenter`'s dictionary (loaded when the first
    /// Japanese text comes).
    pub fn morphological(segmenter: Arc<LazySegmenter>) -> Self {
        Self {
            segmenter: Some(segmenter),
        }
    }

    /// CJK bigrams (no dictionary).
    pub fn bigram() -> Self {
        Self { segmenter: None }
    }

    /// `lindera-ipadic` or `cjk-bigram`.
    pub fn name(&self) -> &'static str {
        if self.segmenter.is_some() {
            "lindera-ipadic"
        } else {
            "cjk-bigram"
        }
    }

    /// The terms of `text` in order, with byte offsets into the normalised text.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.tokens(text).into_iter().map(|t| t.text).collect()
    }

    fn tokens(&self, text: &str) -> Vec<Token> {
        let norm = normalize(text);
        let mut out = Vec::new();
        // Split into runs: CJK runs go to the analyser, alphanumeric runs are words.
        let mut start = None::<(usize, bool)>;
        let mut runs = Vec::new();
        for (i, c) in norm.char_indices() {
            let kind = if is_cjk(c) {
                Some(true)
            } else if c.is_alphanumeric() {
                Some(false)
            } else {
                None
            };
            match (start, kind) {
                (Some((_, k)), Some(k2)) if k == k2 => {}
                (Some((s, k)), _) => {
                    runs.push((s, i, k));
                    start = kind.map(|k2| (i, k2));
                }
                (None, Some(k2)) => start = Some((i, k2)),
                (None, None) => {}
            }
        }
        if let Some((s, k)) = start {
            runs.push((s, norm.len(), k));
        }
        for (s, e, cjk) in runs {
            let run = &norm[s..e];
            if !cjk {
                if !EN_STOP.contains(&run) {
                    push(&mut out, plural_stem(run), s, e);
                }
            } else if let Some(seg) = self.segmenter.as_ref().and_then(|l| l.get()) {
                self.morph(seg, run, s, &mut out);
            } else {
                bigrams(run, s, &mut out);
            }
        }
        for (i, t) in out.iter_mut().enumerate() {
            t.position = i;
        }
        out
    }

    fn morph(&self, seg: &Segmenter, run: &str, base: usize, out: &mut Vec<Token>) {
        let Ok(tokens) = seg.segment(std::borrow::Cow::Borrowed(run)) else {
            bigrams(run, base, out);
            return;
        };
        for mut t in tokens {
            let (s, e) = (base + t.byte_start, base + t.byte_end);
            let surface = t.surface.to_string();
            let d = t.details();
            let pos = d.first().copied().unwrap_or("*");
            let sub = d.get(1).copied().unwrap_or("*");
            let lemma = d
                .get(6)
                .copied()
                .filter(|b| !b.is_empty() && *b != "*")
                .unwrap_or(surface.as_str())
                .to_owned();
            let keep = match pos {
                "名詞" => !matches!(sub, "非自立" | "代名詞" | "接尾" | "数"),
                "動詞" | "形容詞" => sub != "非自立",
                "副詞" | "UNK" => true,
                _ => pos.starts_with("UNK") || d.len() < 2,
            };
            if keep && !JA_STOP_BASES.contains(&lemma.as_str()) {
                push(out, lemma, s, e);
            }
        }
    }
}

fn push(out: &mut Vec<Token>, text: String, s: usize, e: usize) {
    out.push(Token {
        offset_from: s,
        offset_to: e,
        position: 0,
        text,
        position_length: 1,
    });
}

/// Overlapping character bigrams of a CJK run (a single character stays a unigram).
fn bigrams(run: &str, base: usize, out: &mut Vec<Token>) {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    if chars.len() == 1 {
        push(out, run.to_owned(), base, base + run.len());
        return;
    }
    for w in chars.windows(2) {
        let (s, _) = w[0];
        let e = w[1].0 + w[1].1.len_utf8();
        push(out, run[s..e].to_owned(), base + s, base + e);
    }
}

/// The tantivy side of [`Analyzer`].
#[derive(Clone)]
pub struct KbTokenizer(pub Analyzer);

/// Tokens produced up front.
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next.saturating_sub(1)]
    }
}

impl Tokenizer for KbTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream {
            tokens: self.0.tokens(text),
            next: 0,
        }
    }
}

/// The plural of an English word folded to its singular, by the "S" stemmer (Harman,
/// 1991): `-ies` → `-y` (not `-eies`, `-aies`), `-es` → `-e` (not `-aes`, `-ees`,
/// `-oes`), `-s` → `` (not `-us`, `-ss`). Words of three letters or fewer, and words with
/// a character other than an ASCII letter, are kept as written.
pub fn plural_stem(word: &str) -> String {
    if word.len() <= 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_owned();
    }
    let ends = |suffix: &str| word.ends_with(suffix);
    if ends("ies") && !ends("eies") && !ends("aies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    if ends("es") && !ends("aes") && !ends("ees") && !ends("oes") {
        return word[..word.len() - 1].to_owned();
    }
    if ends("s") && !ends("us") && !ends("ss") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_plurals_meet_their_singulars() {
        for (plural, singular) in [
            ("costs", "cost"),
            ("fees", "fee"),
            ("deliveries", "delivery"),
            ("orders", "order"),
            ("returns", "return"),
        ] {
            assert_eq!(plural_stem(plural), plural_stem(singular), "{plural}");
        }
        for kept in [
            "shipping",
            "address",
            "status",
            "bus",
            "yes",
            "日本語",
            "x86s",
        ] {
            assert_eq!(plural_stem(kept), kept);
        }
        let a = Analyzer::bigram();
        assert_eq!(a.terms("Shipping costs"), a.terms("shipping cost"));
    }

    #[test]
    fn width_folding_and_lowercase() {
        assert_eq!(normalize("ＡＢＣ１２３　Ok"), "abc123 ok");
    }

    #[test]
    fn bigram_fallback_splits_cjk_runs_and_keeps_words() {
        let a = Analyzer::bigram();
        assert_eq!(a.name(), "cjk-bigram");
        assert_eq!(
            a.terms("返品方法 Returns"),
            vec!["返品", "品方", "方法", "return"]
        );
        assert_eq!(a.terms("の"), vec!["の"]);
        assert!(a.terms("the a is").is_empty());
    }

    #[test]
    fn japanese_detection_by_script() {
        assert!(is_japanese("返品したい"));
        assert!(is_japanese("ｶﾀｶﾅ"));
        assert!(!is_japanese("I want a refund"));
    }
}
