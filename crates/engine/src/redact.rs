//! Log redaction. Message bodies, tokens and other personal text never go into a log
//! line as such: call sites wrap them in [`Redacted`], which prints `<redacted N
//! bytes>` while `security.redact_logs` is on (the default) and the text itself only
//! when an operator turned redaction off to debug a development instance.
//!
//! Outside text that may be logged (an email's Message-ID, a provider's error) goes
//! through [`Escaped`] (the domain crate's, re-exported here so the SMTP crate, the
//! connectors and the engine share one): control characters shown as escapes, length
//! capped. `Redacted` escapes the text it prints when redaction is off, too.

pub use crate::domain::escape::{set_max_chars, Escaped, DEFAULT_MAX_CHARS};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Sets process-wide redaction (from `security.redact_logs` at start).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether log redaction is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A value that is printed in logs only if redaction is off (then escaped, not capped).
pub struct Redacted<'a>(pub &'a str);

impl std::fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if enabled() {
            write!(f, "<redacted {} bytes>", self.0.len())
        } else {
            // Debugging aid only: the whole text, but still one line of plain text.
            std::fmt::Display::fmt(&Escaped::with_max(self.0, usize::MAX), f)
        }
    }
}

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_by_length() {
        assert!(enabled());
        assert_eq!(Redacted("こんにちは").to_string(), "<redacted 15 bytes>");
    }
}
