//! Text folding shared by everything that compares what people type: the knowledge
//! base's tokenizer, the FAQ bot's hand-off keywords; the weighted length X counts a
//! post's size in; RFC 3986 percent-encoding. Pure functions over `&str`.

/// Folds full-width ASCII (U+FF01..U+FF5E) and U+3000 to ASCII, lowercases.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Han, hiragana, katakana (and the prolonged sound mark).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF | 0xFF66..=0xFF9F)
}

/// Whether `text` is (mostly) Japanese: any kana or han character.
pub fn is_japanese(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// The language a customer's text is written in, the one rule every self-service
/// front uses: `ja` with any kana or han, `en` with Latin letters and none, `None`
/// when it says nothing (digits, emoji, punctuation) — each caller names its fallback.
pub fn language_guess(text: &str) -> Option<&'static str> {
    if is_japanese(text) {
        Some("ja")
    } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
        Some("en")
    } else {
        None
    }
}

/// The length X counts a post as (its "weighted length", limit 280): one per
/// character of Latin, Greek, Cyrillic and the other scripts below U+1100 and of
/// common punctuation, two per other character (CJK, emoji), 23 per link however
/// long. An emoji written as several joined code points counts more here than at X:
/// a reply is refused a little early, never sent too long.
pub fn x_weighted_len(text: &str) -> usize {
    const LINK: usize = 23;
    let light = |c: char| matches!(c as u32, 0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037);
    let mut total = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let rest = &text[i..];
        if rest.starts_with("https://") || rest.starts_with("http://") {
            total += LINK;
            while chars.peek().is_some_and(|(_, c)| !c.is_whitespace()) {
                chars.next();
            }
            continue;
        }
        total += if light(c) { 1 } else { 2 };
    }
    total
}

/// RFC 3986 percent-encoding of every byte but the unreserved `A-Z a-z 0-9 - . _ ~`
/// (a URL's path or query value, an OAuth 1.0a signature's parts).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_is_guessed_from_the_script() {
        assert_eq!(language_guess("送料はいくら"), Some("ja"));
        assert_eq!(language_guess("Suica 残高"), Some("ja"));
        assert_eq!(language_guess("shipping cost"), Some("en"));
        assert_eq!(language_guess("1"), None);
        assert_eq!(language_guess("１２３ ！"), None);
    }

    #[test]
    fn folds_width_and_case() {
        assert_eq!(normalize("ＡＢＣ　Def"), "abc def");
        assert!(is_japanese("返品したい"));
        assert!(is_japanese("ｶﾀｶﾅ"));
        assert!(!is_japanese("refund"));
    }

    #[test]
    fn x_counts_cjk_twice_and_links_as_23() {
        assert_eq!(x_weighted_len("hello"), 5);
        assert_eq!(x_weighted_len("返品"), 4);
        assert_eq!(
            x_weighted_len("see https://example.com/a/very/long/path ok"),
            4 + 23 + 3
        );
        assert_eq!(x_weighted_len("“quoted”"), 8);
        assert_eq!(x_weighted_len(&"あ".repeat(140)), 280);
    }
}
