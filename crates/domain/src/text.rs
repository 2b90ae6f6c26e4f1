//! Text folding shared by everything that compares what people type: the knowledge
//! base's tokenizer, the FAQ bot's hand-off keywords. Pure functions over `&str`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_and_case() {
        assert_eq!(normalize("ＡＢＣ　Def"), "abc def");
        assert!(is_japanese("返品したい"));
        assert!(is_japanese("ｶﾀｶﾅ"));
        assert!(!is_japanese("refund"));
    }
}
