//! Turning a raw RFC 5322 message into a [`ParsedEmail`]: sender, recipients, subject,
//! threading ids, the customer's text and attachment metadata.
//!
//! Decoding (charsets such as ISO-2022-JP and Shift_JIS, quoted-printable, base64,
//! RFC 2047 encoded words, multipart structure) is `mail-parser`'s job; this file only
//! chooses what to keep and applies our limits. It owns no I/O and never panics: every
//! input gives a `ParsedEmail` or a typed [`EmailError`].
//!
//! The text kept is the first text/plain body, else the first HTML body turned into
//! plain text (tags stripped, entities decoded), else empty; then quoted reply history
//! is removed ([`strip_quoted`]) and the result is capped at `max_text_bytes`.
//! Attachments keep their decoded bytes (the whole message is already bounded by the
//! server's `max_message_bytes`); which of them are stored is the engine's file policy.

use domain::{Channel, IdentityKey};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};

/// What the engine needs from one inbound email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedEmail {
    /// Message-ID without the angle brackets (the SMTP server assigns one to a message
    /// that has none).
    pub message_id: Option<String>,
    /// In-Reply-To ids, without angle brackets: the message this one answers.
    pub in_reply_to: Vec<String>,
    /// References ids, without angle brackets, oldest first: the whole thread.
    pub references: Vec<String>,
    /// The From address, trimmed and lowercased like `IdentityKey::parse` does.
    pub from_address: String,
    /// The From display name, decoded, if any.
    pub from_name: Option<String>,
    /// To addresses, lowercased.
    pub to: Vec<String>,
    /// Decoded subject.
    pub subject: Option<String>,
    /// The customer's text: plain text (or HTML made plain), quoted history removed,
    /// line ends `\n`, at most `max_text_bytes` bytes.
    pub text: String,
    /// Attachments: name, type, decoded size and bytes.
    pub attachments: Vec<AttachmentInfo>,
    /// The Date header, epoch milliseconds, if present and valid.
    pub date: Option<i64>,
    /// True for automatic mail (Auto-Submitted other than "no", Precedence bulk / list /
    /// junk / auto_reply, X-Autoreply, or a bounce with a null sender): never answer it.
    pub auto_submitted: bool,
}

/// One attachment's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// File name from Content-Disposition or Content-Type, decoded.
    pub name: Option<String>,
    /// `type/subtype`, lowercased; `application/octet-stream` if the part has none.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// The decoded bytes (not serialised: a parsed message's summary stays small).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Why a message could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// No usable From address: we would not know who the customer is.
    #[error("message has no From address")]
    NoFrom,
    /// Not a message at all, or a header we cannot use.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Larger than the limit.
    #[error("message too large: {size} bytes, limit {limit}")]
    TooLarge { size: usize, limit: usize },
}

/// Appended to text cut at `max_text_bytes`.
pub const TRUNCATED_MARKER: &str = "\n[…truncated]";

/// Parses `raw` (the DATA of one message). Never panics.
pub fn parse_message(raw: &[u8], max_text_bytes: usize) -> Result<ParsedEmail, EmailError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EmailError::Malformed("empty message".to_owned()));
    }
    // mail-parser is written not to panic; a third-party bug must still not take down a
    // session, so a panic becomes a typed error too.
    std::panic::catch_unwind(|| parse_inner(raw, max_text_bytes)).unwrap_or_else(|_| {
        Err(EmailError::Malformed(
            "message could not be decoded".to_owned(),
        ))
    })
}

fn parse_inner(raw: &[u8], max_text_bytes: usize) -> Result<ParsedEmail, EmailError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| EmailError::Malformed("no header section found".to_owned()))?;

    let from = message.from().and_then(|a| a.first());
    let from_raw = from.and_then(|a| a.address()).ok_or(EmailError::NoFrom)?;
    let from_address = IdentityKey::parse(Channel::Email, from_raw)
        .map_err(|e| EmailError::Malformed(format!("From address: {}", e.reason)))?
        .address;
    let from_name = from
        .and_then(|a| a.name())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);

    let to = message
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|a| a.address())
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();

    let text = match message.body_text(0) {
        Some(text) => text.into_owned(),
        None => message
            .body_html(0)
            .map(|html| mail_parser::decoders::html::html_to_text(&html))
            .unwrap_or_default(),
    };
    let text = truncate(
        strip_quoted(&text.replace("\r\n", "\n")).trim_end(),
        max_text_bytes,
    );

    let attachments = message
        .attachments()
        .map(|part| AttachmentInfo {
            name: part.attachment_name().map(str::to_owned),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_lowercase(),
            size: part.len() as u64,
            bytes: part.contents().to_vec(),
        })
        .collect();

    Ok(ParsedEmail {
        message_id: message
            .message_id()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty()),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from_address,
        from_name,
        to,
        subject: message.subject().map(str::to_owned),
        text,
        attachments,
        date: message
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp().saturating_mul(1000)),
        auto_submitted: is_automatic(&message),
    })
}

/// Message ids of an In-Reply-To / References header (mail-parser strips the `<>`).
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

/// RFC 3834 Auto-Submitted, the older Precedence header and the common X-Autoreply.
fn is_automatic(message: &mail_parser::Message<'_>) -> bool {
    let raw = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let auto_submitted = raw("Auto-Submitted").is_some_and(|v| {
        let keyword = v.split(';').next().unwrap_or("").trim();
        !keyword.is_empty() && keyword != "no"
    });
    let precedence = raw("Precedence").is_some_and(|v| {
        matches!(
            v.as_str(),
            "bulk" | "list" | "junk" | "auto_reply" | "auto-reply"
        )
    });
    let x_auto = raw("X-Autoreply").is_some() || raw("X-Autorespond").is_some();
    auto_submitted || precedence || x_auto
}

/// Cuts `text` to at most `max` bytes at a character boundary, ending with
/// [`TRUNCATED_MARKER`] when it was cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let room = max.saturating_sub(TRUNCATED_MARKER.len());
    let mut cut = room;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = text[..cut].to_owned();
    if max >= TRUNCATED_MARKER.len() {
        out.push_str(TRUNCATED_MARKER);
    }
    out
}

/// Removes quoted reply history at the end of `text`, conservatively:
///
/// - trailing lines starting with `>` (and blank lines among them) go, together with an
///   attribution line just before them: `On ... wrote:`, `...さんは書きました:` or
///   `-----Original Message-----`;
/// - an Outlook separator line `-----Original Message-----` (its own line) and
///   everything after it go, since Outlook does not prefix the quote with `>`;
/// - quotes in the middle (inline answers) stay;
/// - if nothing would be left, the text is returned whole.
pub fn strip_quoted(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();

    if let Some(sep) = lines.iter().position(|l| is_outlook_separator(l)) {
        lines.truncate(sep);
    }

    let mut end = lines.len();
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut cut = end;
    let mut quoted = false;
    while cut > 0 {
        let line = lines[cut - 1].trim_start();
        if line.starts_with('>') {
            quoted = true;
        } else if !line.is_empty() {
            break;
        }
        cut -= 1;
    }
    if quoted {
        // Blank lines between the attribution and the quote are common.
        let mut before = cut;
        while before > 0 && lines[before - 1].trim().is_empty() {
            before -= 1;
        }
        if before > 0 && is_attribution(lines[before - 1]) {
            cut = before - 1;
        }
        lines.truncate(cut);
    }

    let kept = lines.join("\n");
    if kept.trim().is_empty() {
        text.to_owned()
    } else {
        kept.trim_end().to_owned()
    }
}

fn is_outlook_separator(line: &str) -> bool {
    let l = line.trim();
    l.eq_ignore_ascii_case("-----Original Message-----")
        || l.eq_ignore_ascii_case("----- Original Message -----")
}

fn is_attribution(line: &str) -> bool {
    let l = line.trim();
    (l.starts_with("On ") && l.ends_with("wrote:"))
        || l.ends_with("さんは書きました:")
        || l.ends_with("さんは書きました：")
        || l.ends_with("書きました:")
        || l.ends_with("書きました：")
        || is_outlook_separator(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{JAPANESE_MULTIPART, JAPANESE_PDF_LEN, JAPANESE_TEXT};

    #[test]
    fn japanese_iso2022jp_multipart() {
        let p = parse_message(JAPANESE_MULTIPART, 16 * 1024).unwrap();
        assert_eq!(p.from_address, "taro.yamada@example.jp");
        assert_eq!(p.from_name.as_deref(), Some("山田太郎"));
        assert_eq!(p.to, vec!["support@switchboard.local".to_owned()]);
        assert_eq!(p.subject.as_deref(), Some("注文について"));
        assert_eq!(p.text, JAPANESE_TEXT);
        assert_eq!(p.message_id.as_deref(), Some("jp-1@example.jp"));
        assert_eq!(p.date, Some(1_711_933_200_000));
        assert!(!p.auto_submitted);
        assert_eq!(p.attachments.len(), 1);
        let a = &p.attachments[0];
        assert_eq!(a.name.as_deref(), Some("請求書.pdf"));
        assert_eq!(a.content_type, "application/pdf");
        assert_eq!(
            (a.size, a.bytes.len() as u64),
            (JAPANESE_PDF_LEN, JAPANESE_PDF_LEN)
        );
    }

    #[test]
    fn shift_jis_body() {
        // "配送状況を教えてください" in Shift_JIS.
        let raw = b"From: a@example.jp\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\
            Content-Transfer-Encoding: 8bit\r\n\r\n\
            \x94\x7a\x91\x97\x8f\xf3\x8b\xb5\x82\xf0\x8b\xb3\x82\xa6\x82\xc4\x82\xad\x82\xbe\x82\xb3\x82\xa2";
        let p = parse_message(raw, 1024).unwrap();
        assert_eq!(p.text, "配送状況を教えてください");
    }

    #[test]
    fn html_only_quoted_printable_utf8() {
        let raw = b"From: \"Hanako\" <hanako@example.com>\r\n\
            To: Support <support@switchboard.local>, other@example.com\r\n\
            Subject: =?UTF-8?Q?=E8=BF=94=E5=93=81?=\r\n\
            Content-Type: text/html; charset=UTF-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n\
            <html><head><style>p {color: red}</style></head><body>\
            <p>=E8=BF=94=E5=93=81=E3=81=97=E3=81=9F=E3=81=84 &amp; =\r\n\
            refund&#12354;</p><br><b>Thanks</b></body></html>\r\n";
        let p = parse_message(raw, 1024).unwrap();
        assert_eq!(p.subject.as_deref(), Some("返品"));
        assert_eq!(p.from_name.as_deref(), Some("Hanako"));
        assert_eq!(
            p.to,
            vec![
                "support@switchboard.local".to_owned(),
                "other@example.com".to_owned()
            ]
        );
        assert_eq!(p.text, "返品したい & refundあ\n\nThanks");
        assert!(!p.text.contains('<'));
        assert!(!p.text.contains("color"));
    }

    #[test]
    fn reply_threading_ids_and_quote_stripped() {
        let raw = b"From: taro@example.jp\r\n\
            Subject: Re: order\r\n\
            Message-ID: <reply-2@example.jp>\r\n\
            In-Reply-To: <c.abc.def@switchboard.local>\r\n\
            References: <first@example.jp>\r\n <c.abc.def@switchboard.local>\r\n\r\n\
            Thank you, it arrived.\r\n\r\n\
            On Mon, 1 Apr 2024 at 10:00, Support <support@switchboard.local> wrote:\r\n\
            > Your order has shipped.\r\n\
            >\r\n\
            > Regards\r\n";
        let p = parse_message(raw, 1024).unwrap();
        assert_eq!(p.message_id.as_deref(), Some("reply-2@example.jp"));
        assert_eq!(
            p.in_reply_to,
            vec!["c.abc.def@switchboard.local".to_owned()]
        );
        assert_eq!(
            p.references,
            vec![
                "first@example.jp".to_owned(),
                "c.abc.def@switchboard.local".to_owned()
            ]
        );
        assert_eq!(p.text, "Thank you, it arrived.");
    }

    #[test]
    fn auto_replies_are_flagged() {
        let cases: [(&[u8], bool); 6] = [
            (b"Auto-Submitted: auto-replied\r\n", true),
            (b"Auto-Submitted: auto-generated; owner-email=x@y\r\n", true),
            (b"Auto-Submitted: no\r\n", false),
            (b"Precedence: bulk\r\n", true),
            (b"Precedence: first-class\r\n", false),
            (b"X-Autoreply: yes\r\n", true),
        ];
        for (header, expected) in cases {
            let mut raw = b"From: a@example.com\r\nSubject: Out of office\r\n".to_vec();
            raw.extend_from_slice(header);
            raw.extend_from_slice(b"\r\nI am away.\r\n");
            let p = parse_message(&raw, 1024).unwrap();
            assert_eq!(
                p.auto_submitted,
                expected,
                "{}",
                String::from_utf8_lossy(header)
            );
        }
    }

    #[test]
    fn broken_input_gives_typed_errors_or_best_effort() {
        assert_eq!(
            parse_message(b"", 1024),
            Err(EmailError::Malformed("empty message".to_owned()))
        );
        assert_eq!(
            parse_message(b" \r\n\r\n", 1024),
            Err(EmailError::Malformed("empty message".to_owned()))
        );
        assert_eq!(
            parse_message(b"Subject: hi\r\n\r\nbody\r\n", 1024),
            Err(EmailError::NoFrom)
        );
        assert_eq!(
            parse_message(b"\x00\xff\xfe garbage \x01\x02", 1024),
            Err(EmailError::NoFrom)
        );
        assert!(matches!(
            parse_message(b"From: not-an-address\r\n\r\nx", 1024),
            Err(EmailError::NoFrom) | Err(EmailError::Malformed(_))
        ));
        // Unterminated multipart: the text part before the missing end is still read.
        let raw = b"From: a@example.com\r\n\
            Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
            --XX\r\nContent-Type: text/plain\r\n\r\nhello there\r\n--XX\r\n\
            Content-Type: application/octet-stream\r\n\r\nAAAA";
        let p = parse_message(raw, 1024).unwrap();
        assert_eq!(p.text, "hello there");
        assert_eq!(p.from_address, "a@example.com");
    }

    #[test]
    fn long_text_is_truncated_with_marker() {
        let mut raw = b"From: a@example.com\r\n\r\n".to_vec();
        raw.extend_from_slice("あ".repeat(100).as_bytes());
        let p = parse_message(&raw, 50).unwrap();
        assert!(p.text.len() <= 50);
        assert!(p.text.ends_with(TRUNCATED_MARKER));
        // 50 - 15 (marker) = 35 bytes of room: 11 whole characters of 3 bytes.
        assert_eq!(p.text, format!("{}{}", "あ".repeat(11), TRUNCATED_MARKER));
        let p = parse_message(&raw, 300).unwrap();
        assert_eq!(p.text, "あ".repeat(100));
    }

    #[test]
    fn strip_quoted_cases() {
        assert_eq!(
            strip_quoted("はい、届きました。\n\n山田 さんは書きました:\n> 発送しました。\n"),
            "はい、届きました。"
        );
        assert_eq!(
            strip_quoted("ok\n-----Original Message-----\nFrom: x\nSent: y\n\nold text"),
            "ok"
        );
        assert_eq!(strip_quoted("ok\n\n> old\n> older"), "ok");
        // Inline answers stay.
        assert_eq!(
            strip_quoted("> question?\nanswer\n> second?\nyes"),
            "> question?\nanswer\n> second?\nyes"
        );
        // Only a quote: keep everything.
        assert_eq!(strip_quoted("> all quoted\n"), "> all quoted\n");
        // An attribution-like line with no quote after it stays.
        assert_eq!(strip_quoted("On Monday he wrote:"), "On Monday he wrote:");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), max in 0usize..64) {
            let _ = parse_message(&raw, max);
        }

        #[test]
        fn parse_never_panics_on_mime_like_input(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("From: a@b.c\r\n".to_owned()),
                    proptest::strategy::Just("Content-Type: multipart/mixed; boundary=b\r\n".to_owned()),
                    proptest::strategy::Just("--b\r\n".to_owned()),
                    proptest::strategy::Just("--b--\r\n".to_owned()),
                    proptest::strategy::Just("Content-Transfer-Encoding: base64\r\n".to_owned()),
                    proptest::strategy::Just("Content-Type: text/html; charset=iso-2022-jp\r\n".to_owned()),
                    proptest::strategy::Just("Subject: =?ISO-2022-JP?B?GyRC?=\r\n".to_owned()),
                    proptest::strategy::Just("\r\n".to_owned()),
                    "[ -~]{0,40}\r\n",
                    "<[a-z/!-]{0,5}>&[a-z#0-9]{0,6};?",
                ],
                0..40,
            ),
            max in 0usize..64,
        ) {
            let raw = parts.concat();
            if let Ok(p) = parse_message(raw.as_bytes(), max) {
                proptest::prop_assert!(p.text.len() <= max.max(TRUNCATED_MARKER.len()));
            }
        }
    }

    /// A message whose multiparts nest `depth` deep, the innermost holding `text` and a
    /// part of `b64_len` base64 characters.
    fn nested(depth: usize, b64_len: usize) -> Vec<u8> {
        let mut m = String::from("From: a@example.jp\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n");
        for i in 0..depth {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        m.push_str("Content-Type: text/plain\r\n\r\ninner text\r\n");
        m.push_str(&format!("--b{}\r\n", depth.saturating_sub(1)));
        m.push_str("Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n");
        m.push_str("Content-Disposition: attachment; filename=\"big.pdf\"\r\n\r\n");
        m.push_str(&"QUFB".repeat(b64_len / 4));
        m.push_str("\r\n");
        for i in (0..depth).rev() {
            m.push_str(&format!("--b{i}--\r\n"));
        }
        m.into_bytes()
    }

    #[test]
    fn deep_nesting_and_huge_base64_are_parsed_without_a_crash() {
        // Deeper than any real mail; a recursive parser without a limit would overflow
        // the stack and abort the process (no panic to catch).
        for depth in [1, 50, 5_000] {
            let raw = nested(depth, 4 * 1024);
            match parse_message(&raw, 16 * 1024) {
                Ok(p) => assert!(p.attachments.len() <= 1, "depth {depth}: {p:?}"),
                Err(e) => assert!(matches!(e, EmailError::Malformed(_)), "{e}"),
            }
        }
        // 8 MiB of base64 (6 MiB decoded) in one part: decoded once, size reported.
        let raw = nested(3, 8 * 1024 * 1024);
        let p = parse_message(&raw, 16 * 1024).expect("parsed");
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].size, 6 * 1024 * 1024);
        assert_eq!(p.attachments[0].bytes.len(), 6 * 1024 * 1024);
    }
}
