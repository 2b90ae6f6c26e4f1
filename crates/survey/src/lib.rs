//! Post-interaction CSAT surveys, the pure part: settings, the question's wording per
//! channel and language, parsing a customer's answer ("4", "５", "★★★", "4 great
//! service"), and the durable survey document (record kind [`KIND`], key = the
//! conversation id).
//!
//! No I/O here: the customer actor sends the survey and stores the answer
//! (`actors/customer/survey.rs`); the REST and HTML edge is `api/survey.rs`.

use domain::{AgentId, Channel, ConversationId, CustomerId, Millis, QueueName, SurveyPath};
use serde::{Deserialize, Serialize};

/// Record kind of survey documents (key = conversation id).
pub const KIND: &str = "survey";

/// `[survey]`: post-interaction CSAT surveys (docs/engagement.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveySettings {
    /// Send a survey when a conversation is resolved.
    pub enabled: bool,
    /// A reply on SMS/LINE/Messenger this long after the survey went out is taken as
    /// its answer (not a new message); also how long an email survey link stays valid.
    pub answer_window_ms: u64,
    /// Longest accepted comment, in bytes.
    pub max_comment_bytes: usize,
    /// Language of the question when the customer has none (`ja` or `en`).
    pub default_language: String,
}

impl Default for SurveySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            answer_window_ms: 24 * 3_600_000,
            max_comment_bytes: 1_000,
            default_language: "ja".into(),
        }
    }
}

/// Longest answer window a survey may have: 30 days.
pub const MAX_ANSWER_WINDOW_MS: u64 = 30 * 24 * 3_600_000;

impl SurveySettings {
    pub fn validate(&self) -> Result<(), String> {
        match self.field_errors().into_iter().next() {
            Some((field, why)) => Err(format!("survey.{field} {why}")),
            None => Ok(()),
        }
    }

    /// Every wrong field, by name, with why (empty: valid).
    pub fn field_errors(&self) -> std::collections::BTreeMap<&'static str, String> {
        let mut out = std::collections::BTreeMap::new();
        if self.answer_window_ms == 0 || self.answer_window_ms > MAX_ANSWER_WINDOW_MS {
            out.insert(
                "answer_window_ms",
                format!("must be 1..={MAX_ANSWER_WINDOW_MS} (30 days)"),
            );
        }
        if self.max_comment_bytes == 0 || self.max_comment_bytes > 64 * 1024 {
            out.insert("max_comment_bytes", "must be 1..=65536".into());
        }
        if Language::parse(&self.default_language).is_none() {
            out.insert("default_language", "must be ja or en".into());
        }
        out
    }
}

/// The scale every survey uses: 1 (poor) to [`SCALE_MAX`] (excellent).
pub const SCALE_MAX: u8 = 5;

/// Languages the engine writes customer-facing wording in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ja,
    En,
}

impl Language {
    /// `ja`, `ja-JP`, `en`, `en-US`… (case-insensitive); anything else is `None`.
    pub fn parse(s: &str) -> Option<Language> {
        let s = s.trim().to_ascii_lowercase();
        let primary = s.split(['-', '_']).next().unwrap_or("");
        match primary {
            "ja" => Some(Language::Ja),
            "en" => Some(Language::En),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }
    /// The customer's language: the `language` (or `lang`) attribute, else `default`.
    pub fn of_customer(c: &domain::Customer, default: &str) -> Language {
        c.attributes
            .get("language")
            .or_else(|| c.attributes.get("lang"))
            .and_then(|l| Language::parse(l))
            .or_else(|| Language::parse(default))
            .unwrap_or(Language::Ja)
    }
}

/// The question's text for `channel` in `lang`. `link` is the email survey page.
pub fn question(channel: Channel, lang: Language, link: Option<&str>) -> String {
    // A link (email), buttons in the chat socket's survey frame, or a reply by number.
    let in_chat = channel.capabilities().survey == SurveyPath::InChat;
    match (link, in_chat, lang) {
        (Some(l), _, Language::Ja) => format!(
            "本日の対応はいかがでしたか。1（不満）から5（満足）で評価してください：\n{l}\n（このリンクは一度だけ使えます）"
        ),
        (Some(l), _, Language::En) => format!(
            "How did we do? Please rate our support from 1 (poor) to 5 (excellent):\n{l}\n(The link can be used once.)"
        ),
        (None, true, Language::Ja) => {
            "本日の対応はいかがでしたか？1（不満）〜5（満足）で評価してください。".into()
        }
        (None, true, Language::En) => {
            "How did we do? Rate our support from 1 (poor) to 5 (excellent).".into()
        }
        (None, false, Language::Ja) => {
            "本日の対応はいかがでしたか？1（不満）〜5（満足）の数字でご返信ください。".into()
        }
        (None, false, Language::En) => {
            "How did we do? Reply with a number from 1 (poor) to 5 (excellent).".into()
        }
    }
}

/// What a phone call's keypad survey says, in `lang`: the question after the agent
/// hangs up, the reminder after a key out of range (or none), and the thanks.
pub fn phone_question(lang: Language) -> &'static str {
    match lang {
        Language::Ja => {
            "本日の対応はいかがでしたか。1（不満）から5（満足）の数字を押してください。"
        }
        Language::En => "How did we do? Please press a number from 1 for poor to 5 for excellent.",
    }
}

/// See [`phone_question`].
pub fn phone_reprompt(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "1から5の数字を押してください。",
        Language::En => "Please press a number from 1 to 5.",
    }
}

/// See [`phone_question`].
pub fn phone_thanks(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "ご回答ありがとうございました。失礼いたします。",
        Language::En => "Thank you for your answer. Goodbye.",
    }
}

/// The one reminder sent on a messaging channel after an answer out of range.
pub fn reprompt(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "1〜5の数字でご回答ください。",
        Language::En => "Please answer with a number from 1 to 5.",
    }
}

/// What a customer's text means as a survey answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A score in range, with the rest of the text as a comment.
    Score { score: u8, comment: Option<String> },
    /// Looks like a rating (digits, stars) but outside 1..=scale.
    OutOfRange,
    /// Not a rating at all (a new question from the customer, say).
    NotAnAnswer,
}

/// Folds full-width digits (`０`–`９`) to ASCII.
fn ascii_digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

/// Parses a reply to the survey: a leading number (ASCII or full-width digits) or a run
/// of stars (`★`), optionally followed by a comment.
pub fn parse_answer(text: &str, scale_max: u8) -> Answer {
    let t = text.trim();
    let mut chars = t.char_indices().peekable();
    let mut value: u64 = 0;
    let mut end = 0;
    let mut any = false;
    if t.starts_with('★') || t.starts_with('⭐') {
        while let Some(&(i, c)) = chars.peek() {
            if c == '★' || c == '⭐' {
                value += 1;
                end = i + c.len_utf8();
                any = true;
                chars.next();
            } else if c == '☆' || c == '\u{fe0f}' {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
    } else {
        let negative = t.starts_with('-') || t.starts_with('－');
        if negative {
            chars.next();
        }
        while let Some(&(i, c)) = chars.peek() {
            match ascii_digit(c) {
                Some(d) => {
                    value = value.saturating_mul(10).saturating_add(u64::from(d));
                    end = i + c.len_utf8();
                    any = true;
                    chars.next();
                }
                None => break,
            }
        }
        if any && negative {
            return Answer::OutOfRange;
        }
    }
    if !any {
        return Answer::NotAnAnswer;
    }
    let rest = &t[end..];
    // "4.5", "3/5" style: a rating, but not a whole score in range.
    if rest.starts_with(['.', ',', '．']) && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Answer::OutOfRange;
    }
    if !(1..=u64::from(scale_max)).contains(&value) {
        return Answer::OutOfRange;
    }
    let comment = rest
        .trim_start_matches(|c: char| {
            c.is_whitespace()
                || matches!(c, ',' | '.' | ':' | '-' | '、' | '。' | '：' | '!' | '！')
        })
        .trim();
    Answer::Score {
        score: value as u8,
        comment: (!comment.is_empty()).then(|| comment.to_owned()),
    }
}

/// Whether a score given over REST or the chat widget is in range.
pub fn check_score(score: i64, scale_max: u8) -> Result<u8, String> {
    if (1..=i64::from(scale_max)).contains(&score) {
        Ok(score as u8)
    } else {
        Err(format!("score must be an integer from 1 to {scale_max}"))
    }
}

/// State of a survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyStatus {
    Sent,
    Answered,
}

/// The durable survey document of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyRecord {
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub queue: QueueName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// The conversation's difficulty, for its CSAT row in `group=difficulty` reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<domain::Proficiency>,
    pub language: Language,
    pub status: SurveyStatus,
    pub scale_max: u8,
    pub sent_at: Millis,
    /// Secret part of the email link (`/survey/{conversation}.{secret}`); never shown
    /// over REST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<Millis>,
    /// The channel the answer came in on (`chat`, `sms`, `email` for the link page…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_on: Option<Channel>,
}

/// A fresh unguessable secret (128 random bits, hex).
pub fn new_secret() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares secrets without an early exit on the first differing byte.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Splits an email survey token `{conversation}.{secret}`.
pub fn split_token(token: &str) -> Option<(ConversationId, &str)> {
    let (c, s) = token.split_once('.')?;
    let conv = ConversationId::parse(c).ok()?;
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some((conv, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(s: u8, c: Option<&str>) -> Answer {
        Answer::Score {
            score: s,
            comment: c.map(str::to_owned),
        }
    }

    #[test]
    fn digits_full_width_digits_and_stars() {
        assert_eq!(parse_answer("1", 5), score(1, None));
        assert_eq!(parse_answer(" 5 ", 5), score(5, None));
        assert_eq!(parse_answer("５", 5), score(5, None));
        assert_eq!(parse_answer("★★★", 5), score(3, None));
        assert_eq!(parse_answer("★★★☆☆", 5), score(3, None));
        assert_eq!(
            parse_answer("4 great service", 5),
            score(4, Some("great service"))
        );
        assert_eq!(
            parse_answer("４、とても丁寧でした", 5),
            score(4, Some("とても丁寧でした"))
        );
    }

    #[test]
    fn out_of_range_and_not_answers() {
        for t in [
            "0",
            "6",
            "10",
            "-1",
            "4.5",
            "★★★★★★",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_answer(t, 5), Answer::OutOfRange, "{t}");
        }
        for t in ["abc", "", "  ", "hello 5", "もう一つ質問があります"] {
            assert_eq!(parse_answer(t, 5), Answer::NotAnAnswer, "{t}");
        }
        assert!(check_score(0, 5).is_err());
        assert!(check_score(6, 5).is_err());
        assert_eq!(check_score(3, 5), Ok(3));
    }

    #[test]
    fn languages_and_questions() {
        assert_eq!(Language::parse("ja-JP"), Some(Language::Ja));
        assert_eq!(Language::parse("EN_us"), Some(Language::En));
        assert_eq!(Language::parse("fr"), None);
        assert!(question(Channel::Sms, Language::Ja, None).contains("1（不満）"));
        assert!(question(Channel::Sms, Language::En, None).contains("Reply with a number"));
        let q = question(Channel::Email, Language::En, Some("https://x/survey/t"));
        assert!(q.contains("https://x/survey/t"));
    }

    #[test]
    fn tokens_split_and_compare() {
        let c = ConversationId::new();
        let s = new_secret();
        let t = format!("{c}.{s}");
        assert_eq!(split_token(&t), Some((c, s.as_str())));
        assert!(split_token("nope").is_none());
        assert!(split_token(&format!("{c}.short")).is_none());
        assert!(same_secret(&s, &s.clone()));
        assert!(!same_secret(&s, &new_secret()));
    }
}
