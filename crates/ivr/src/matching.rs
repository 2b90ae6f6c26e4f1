//! Matching what a caller said (Twilio `SpeechResult`) or typed against an option's
//! phrases: case-, width- and kana-insensitive, spaces and punctuation ignored, so
//! "ＯＲＤＥＲ", "order" and "Order." match the same phrase, and "チュウモン" matches
//! "ちゅうもん".

/// The comparable form of `s`: full-width ASCII folded to half-width, katakana to
/// hiragana, lower case, whitespace and punctuation dropped.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c as u32 {
            // Full-width ASCII variants.
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            // Katakana ァ..ヶ to hiragana ぁ..ゖ.
            0x30A1..=0x30F6 => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        };
        if c.is_whitespace() || c.is_ascii_punctuation() || is_cjk_punctuation(c) {
            continue;
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn is_cjk_punctuation(c: char) -> bool {
    matches!(
        c,
        '、' | '。' | '・' | '「' | '」' | '『' | '』' | '（' | '）' | '〜' | '…'
    )
}

/// How well `heard` matches `phrase`: the phrase's normalized length when the
/// normalized utterance contains it, else `None`. Longer phrases win over shorter ones.
pub fn score(heard: &str, phrase: &str) -> Option<usize> {
    let p = normalize(phrase);
    if p.is_empty() {
        return None;
    }
    normalize(heard).contains(&p).then(|| p.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_case_kana_and_punctuation_fold() {
        assert_eq!(normalize("ＯＲＤＥＲ Status."), "orderstatus");
        assert_eq!(normalize("チュウモン、です。"), "ちゅうもんです");
        assert_eq!(normalize("ご注文"), "ご注文");
        assert_eq!(normalize("１２３"), "123");
    }

    #[test]
    fn contained_phrases_score_by_length() {
        assert_eq!(score("えーと、注文の確認をしたいです", "注文"), Some(2));
        assert_eq!(score("I want to check my ORDER please", "order"), Some(5));
        assert_eq!(score("ちゅうもん", "チュウモン"), Some(5));
        assert_eq!(score("billing", "order"), None);
        assert_eq!(score("anything", "  "), None);
    }
}
