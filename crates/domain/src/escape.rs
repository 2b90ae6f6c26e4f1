//! Printing text that came from outside (an email header, a provider's reply) into a
//! log line or a protocol reply without letting it forge anything: [`Escaped`] renders
//! control characters (C0, DEL, C1: ANSI ESC, CR, LF, NUL...), Unicode line and
//! paragraph separators and bidi overrides as visible escapes (`\x1b`, `\r`, `\n`,
//! `\0`, `\u{202e}`) and caps the length, so one value is one line of plain text.
//!
//! The cap of log values is process-wide ([`set_max_chars`], from the
//! `security.log_value_max_chars` setting at start, like `security.redact_logs`);
//! a caller with a harder bound (an SMTP reply line) gives its own with
//! [`Escaped::with_max`]. Personal text that must not be logged at all (bodies) goes
//! through the engine's `Redacted`, which escapes too when redaction is off.

use std::fmt::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default of `security.log_value_max_chars`: characters of one outside value kept in
/// a log line.
pub const DEFAULT_MAX_CHARS: usize = 256;

static MAX_CHARS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_CHARS);

/// Sets the process-wide cap of [`Escaped::new`] (at least 1).
pub fn set_max_chars(max: usize) {
    MAX_CHARS.store(max.max(1), Ordering::Relaxed);
}

/// The process-wide cap of [`Escaped::new`], characters.
pub fn max_chars() -> usize {
    MAX_CHARS.load(Ordering::Relaxed)
}

/// Outside text printed safely: every character that could end the line, move the
/// cursor, recolour the terminal or reorder what a reader sees is shown as an escape;
/// a backslash is doubled so an escape in the output is never ambiguous; past `max`
/// characters the rest is replaced by `...(+N bytes)`.
#[derive(Clone, Copy)]
pub struct Escaped<'a> {
    text: &'a str,
    max: usize,
}

impl<'a> Escaped<'a> {
    /// `text` capped at the process-wide [`max_chars`] (for log fields).
    pub fn new(text: &'a str) -> Self {
        Self::with_max(text, max_chars())
    }

    /// `text` capped at `max` characters (for a bound of its own, e.g. a reply line).
    pub fn with_max(text: &'a str, max: usize) -> Self {
        Self { text, max }
    }

    /// Whether printing changes nothing: no character needs escaping and the text is
    /// within the cap.
    pub fn is_verbatim(&self) -> bool {
        self.text.chars().count() <= self.max && !self.text.chars().any(needs_escape)
    }
}

/// Characters that never reach the output as themselves.
fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(c as u32,
            // line and paragraph separators
            0x2028 | 0x2029
            // bidi marks, embeddings, overrides and isolates
            | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069
            // zero-width no-break space / byte order mark
            | 0xFEFF)
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (i, c)) in self.text.char_indices().enumerate() {
            if n == self.max {
                return write!(f, "...(+{} bytes)", self.text.len() - i);
            }
            match c {
                '\\' => f.write_str("\\\\")?,
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                c if c.is_ascii_control() => write!(f, "\\x{:02x}", c as u32)?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        let evil = "id\x1b[31mred\rbare\nlf\0nul\x07\x7f\u{85}\u{202e}rtl\\";
        let shown = Escaped::with_max(evil, 100).to_string();
        assert_eq!(
            shown,
            "id\\x1b[31mred\\rbare\\nlf\\0nul\\x07\\x7f\\u{85}\\u{202e}rtl\\\\"
        );
        assert!(!shown.chars().any(needs_escape_but_backslash));
        assert!(!Escaped::with_max(evil, 100).is_verbatim());
    }

    fn needs_escape_but_backslash(c: char) -> bool {
        c != '\\' && needs_escape(c)
    }

    #[test]
    fn plain_text_is_unchanged_and_long_text_capped() {
        let id = "jp-1@example.jp 山田";
        assert_eq!(Escaped::with_max(id, 100).to_string(), id);
        assert!(Escaped::with_max(id, 100).is_verbatim());
        assert_eq!(
            Escaped::with_max("山田太郎", 2).to_string(),
            "山田...(+6 bytes)"
        );
        assert!(!Escaped::with_max("山田太郎", 2).is_verbatim());
        assert_eq!(Escaped::with_max("", 0).to_string(), "");
        assert_eq!(
            Escaped::new(&"x".repeat(10_000)).to_string().len(),
            DEFAULT_MAX_CHARS + "...(+9744 bytes)".len()
        );
    }
}
