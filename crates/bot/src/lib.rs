//! The FAQ bot's pure core: settings, the durable session, and the decision for one
//! customer message — answer from the knowledge base, say honestly that it is not
//! sure, or hand off to a person. No I/O here; the customer actor
//! (`switchboard::actors::customer::bot`) feeds it a search result and carries out the
//! decision.
//!
//! A bot session lives before a conversation is enqueued: it has a conversation id
//! from its first message (every bot turn's timeline events carry it), but no
//! conversation record, queue entry or report event exists until the hand-off, when
//! the conversation is opened under that same id and enqueued exactly like any other.
//! A contact the bot resolved therefore never appears as offered or abandoned in the
//! reports; its turns are in the customer's timeline (`message_in` + `bot_reply`).

use domain::text::{is_japanese, normalize};
use domain::{Channel, ConversationId, CustomerId, Millis, QueueName};
use serde::{Deserialize, Serialize};

/// Record kind of a bot session (key = customer id).
pub const BOT_SESSION: &str = "bot_session";

/// `[bot]`: where the FAQ bot answers and when it hands off.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotSettings {
    /// Off by default.
    pub enabled: bool,
    /// Messaging channels it answers on (`chat`, `sms`, `line`, `messenger`).
    pub channels: Vec<Channel>,
    /// Queues it answers for (the queue a new conversation would open in); empty =
    /// every queue.
    pub queues: Vec<QueueName>,
    /// Not-sure answers after which it hands off (0 = never for this reason).
    pub max_unanswered_turns: u32,
    /// Turns after which it hands off whatever happened (bounds the session record).
    pub max_turns: u32,
    /// Words that ask for a person (matched case- and width-insensitively; Latin
    /// keywords as whole words, Japanese ones anywhere in the message).
    pub handoff_keywords: Vec<String>,
    /// Longest article body the bot sends, in characters (longer ones are cut with
    /// "…": an SMS or chat bubble is no place for a manual).
    pub max_answer_chars: usize,
    /// A session idle this long (since its last turn) is over: the next message
    /// starts a new one (unanswered count back to 0).
    pub session_idle_ms: u64,
    /// The button under the bot's answers on channels that show quick replies
    /// (WhatsApp, LINE, Messenger, Instagram): tapping it sends its label, which must
    /// ask for a person under `handoff_keywords`. Empty: no button in that language.
    pub handoff_button: HandoffButton,
}

/// [`BotSettings::handoff_button`] in both client languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffButton {
    pub ja: String,
    pub en: String,
}

impl Default for HandoffButton {
    fn default() -> Self {
        Self {
            ja: "担当者と話す".into(),
            en: "Talk to an agent".into(),
        }
    }
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            channels: vec![
                Channel::Chat,
                Channel::Sms,
                Channel::Line,
                Channel::Messenger,
            ],
            queues: Vec::new(),
            max_unanswered_turns: 2,
            max_turns: 20,
            handoff_keywords: ["agent", "human", "オペレーター", "担当者", "人と話したい"]
                .map(String::from)
                .to_vec(),
            max_answer_chars: 1000,
            session_idle_ms: 24 * 3_600_000,
            handoff_button: HandoffButton::default(),
        }
    }
}

impl BotSettings {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.channels.iter().any(|c| !c.capabilities().bot) {
            return Err(format!(
                "bot.channels: only {}",
                domain::channels_where(|k| k.bot)
            ));
        }
        if self.max_turns == 0 || self.max_turns > 100 {
            return Err("bot.max_turns must be 1 to 100".into());
        }
        if self.max_answer_chars < 20 {
            return Err("bot.max_answer_chars must be at least 20".into());
        }
        if self.handoff_keywords.iter().any(|k| k.trim().is_empty()) {
            return Err("bot.handoff_keywords must not contain empty words".into());
        }
        for (lang, label) in [
            ("ja", &self.handoff_button.ja),
            ("en", &self.handoff_button.en),
        ] {
            if !label.is_empty() && !wants_human(label, &self.handoff_keywords) {
                return Err(format!(
                    "bot.handoff_button.{lang} ({label:?}) does not ask for a person under \
                     bot.handoff_keywords: tapping it would not hand off"
                ));
            }
            if label.chars().count() > 20 {
                return Err(format!(
                    "bot.handoff_button.{lang} is over 20 characters (the buttons' limit)"
                ));
            }
        }
        Ok(())
    }

    /// The hand-off button's label in `language` (`ja` / `en`), if it has one.
    pub fn handoff_button(&self, language: &str) -> Option<&str> {
        let label = if language == "en" {
            &self.handoff_button.en
        } else {
            &self.handoff_button.ja
        };
        (!label.is_empty()).then_some(label.as_str())
    }
}

/// One exchange of a session (a domain type: it is part of the `bot_reply` event).
pub use domain::BotTurn;

/// The durable state of a bot conversation (record `bot_session`, key = customer id),
/// written in the same commit as each turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotSession {
    pub customer_id: CustomerId,
    /// The id the conversation gets at hand-off; every bot turn's events carry it.
    pub conversation_id: ConversationId,
    pub channel: Channel,
    /// `ja` or `en`, from the customer's first message.
    pub language: String,
    pub unanswered: u32,
    pub turns: Vec<BotTurn>,
    pub started_at: Millis,
}

impl BotSession {
    pub fn new(customer_id: CustomerId, channel: Channel, first_text: &str, now: Millis) -> Self {
        Self {
            customer_id,
            conversation_id: ConversationId::new(),
            channel,
            language: language_of(first_text).into(),
            unanswered: 0,
            turns: Vec::new(),
            started_at: now,
        }
    }

    /// Whether the session has been idle longer than `idle_ms` at `now`.
    pub fn expired(&self, now: Millis, idle_ms: u64) -> bool {
        let last = self.turns.last().map_or(self.started_at, |t| t.at);
        now.since(last) > idle_ms
    }
}

/// Why the bot handed off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffReason {
    /// The customer wrote a hand-off keyword.
    Requested,
    /// The web chat's "talk to a person" button.
    Button,
    /// `max_unanswered_turns` not-sure answers.
    Unanswered,
    /// `max_turns` reached.
    TurnLimit,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Requested => "requested",
            HandoffReason::Button => "button",
            HandoffReason::Unanswered => "unanswered",
            HandoffReason::TurnLimit => "turn_limit",
        }
    }
}

/// The best knowledge-base hit for a question, as far as the bot cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub title: String,
    pub body: String,
    pub confident: bool,
}

/// What to do with one customer message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Reply with this article.
    Answer { text: String, article: Candidate },
    /// Say honestly that no answer was found (and how to reach a person).
    NotSure { text: String },
    /// Tell the customer a person is coming and enqueue the conversation.
    Handoff { text: String, reason: HandoffReason },
}

/// The bot's language for `text` (`domain::text::language_guess`); text that says
/// nothing is answered in English.
pub fn language_of(text: &str) -> &'static str {
    domain::text::language_guess(text).unwrap_or("en")
}

/// Whether `text` asks for a person.
pub fn wants_human(text: &str, keywords: &[String]) -> bool {
    let t = normalize(text);
    let words: Vec<&str> = t
        .split(|c: char| !c.is_alphanumeric() || is_japanese(&c.to_string()))
        .filter(|w| !w.is_empty())
        .collect();
    keywords.iter().any(|k| {
        let k = normalize(k.trim());
        if k.is_empty() {
            false
        } else if is_japanese(&k) {
            t.contains(&k)
        } else {
            words.contains(&k.as_str())
        }
    })
}

/// The decision for `text` in `session` (before this turn is added), given the best
/// confident-or-not hit and whether the hand-off button was pressed.
pub fn decide(
    settings: &BotSettings,
    session: &BotSession,
    text: &str,
    button: bool,
    best: Option<Candidate>,
) -> Decision {
    let ja = session.language == "ja" || is_japanese(text);
    let handoff = |reason| Decision::Handoff {
        text: wording(ja, Wording::Handoff).into(),
        reason,
    };
    if button {
        return handoff(HandoffReason::Button);
    }
    if wants_human(text, &settings.handoff_keywords) {
        return handoff(HandoffReason::Requested);
    }
    if session.turns.len() as u32 + 1 >= settings.max_turns {
        return handoff(HandoffReason::TurnLimit);
    }
    match best {
        Some(article) if article.confident => Decision::Answer {
            text: format!(
                "{}\n{}\n\n{}",
                article.title,
                cut(&article.body, settings.max_answer_chars),
                wording(ja, Wording::AnswerFooter)
            ),
            article,
        },
        _ => {
            let n = settings.max_unanswered_turns;
            if n > 0 && session.unanswered + 1 >= n {
                handoff(HandoffReason::Unanswered)
            } else {
                Decision::NotSure {
                    text: wording(ja, Wording::NotSure).into(),
                }
            }
        }
    }
}

/// `text` cut to `max` characters, with "…" when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((i, _)) => format!("{}…", &text[..i]),
    }
}

enum Wording {
    AnswerFooter,
    NotSure,
    Handoff,
}

fn wording(ja: bool, w: Wording) -> &'static str {
    match (ja, w) {
        (false, Wording::AnswerFooter) => "Did this help? Type 'agent' to talk to a person.",
        (true, Wording::AnswerFooter) => {
            "解決しない場合は「オペレーター」と入力してください。担当者におつなぎします。"
        }
        (false, Wording::NotSure) => {
            "I'm not sure I have an answer to that. Could you rephrase it? Or type 'agent' to talk to a person."
        }
        (true, Wording::NotSure) => {
            "申し訳ありません、お答えできる情報が見つかりませんでした。言い換えていただくか、「オペレーター」と入力していただければ担当者におつなぎできます。"
        }
        (false, Wording::Handoff) => {
            "I'm connecting you to a person. They will see our conversation, so you won't need to repeat yourself."
        }
        (true, Wording::Handoff) => {
            "担当者におつなぎします。これまでのやり取りは担当者に引き継がれますので、同じご説明は不要です。"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(text: &str) -> BotSession {
        BotSession::new(CustomerId::new(), Channel::Chat, text, Millis(0))
    }

    fn hit(confident: bool) -> Option<Candidate> {
        Some(Candidate {
            id: "a".into(),
            title: "Returns".into(),
            body: "Within 30 days.".into(),
            confident,
        })
    }

    #[test]
    fn keywords_match_words_and_japanese_substrings() {
        let k = BotSettings::default().handoff_keywords;
        assert!(wants_human("Can I talk to an AGENT please", &k));
        assert!(wants_human("ＡＧＥＮＴ", &k));
        assert!(wants_human("オペレーターをお願いします", &k));
        assert!(wants_human("人と話したいです", &k));
        assert!(!wants_human("agents of change", &k), "whole words only");
        assert!(!wants_human("返品したい", &k));
    }

    #[test]
    fn the_handoff_button_must_ask_for_a_person() {
        let s = BotSettings::default();
        s.validate().unwrap();
        assert_eq!(s.handoff_button("ja"), Some("担当者と話す"));
        assert_eq!(s.handoff_button("en"), Some("Talk to an agent"));
        let mut quiet = BotSettings::default();
        quiet.handoff_button.en = "More help".into();
        let e = quiet.validate().unwrap_err();
        assert!(
            e.contains("handoff_button.en") && e.contains("would not hand off"),
            "{e}"
        );
        quiet.handoff_button.en = String::new();
        quiet.validate().unwrap();
        assert_eq!(quiet.handoff_button("en"), None);
        quiet.handoff_button.ja = "担当者にとにかく今すぐつないでほしいです本当に".into();
        assert!(quiet.validate().unwrap_err().contains("20 characters"));
    }

    #[test]
    fn confident_answer_not_sure_then_handoff() {
        let s = BotSettings::default();
        let mut sess = session("how do I return this");
        match decide(&s, &sess, "how do I return this", false, hit(true)) {
            Decision::Answer { text, article } => {
                assert!(text.starts_with("Returns\nWithin 30 days."));
                assert!(text.contains("agent"));
                assert_eq!(article.id, "a");
            }
            d => panic!("{d:?}"),
        }
        let d = decide(&s, &sess, "zebra?", false, hit(false));
        assert!(
            matches!(d, Decision::NotSure { ref text } if text.contains("not sure")),
            "{d:?}"
        );
        sess.unanswered = 1;
        let d = decide(&s, &sess, "zebra?", false, None);
        assert!(
            matches!(
                d,
                Decision::Handoff {
                    reason: HandoffReason::Unanswered,
                    ..
                }
            ),
            "{d:?}"
        );
    }

    #[test]
    fn japanese_wording_and_explicit_requests() {
        let s = BotSettings::default();
        let sess = session("返品したい");
        let d = decide(&s, &sess, "わかりません", false, None);
        assert!(
            matches!(d, Decision::NotSure { ref text } if text.contains("担当者")),
            "{d:?}"
        );
        let d = decide(&s, &sess, "オペレーター", false, hit(true));
        assert!(
            matches!(d, Decision::Handoff { reason: HandoffReason::Requested, ref text } if text.contains("担当者"))
        );
        let d = decide(&s, &sess, "", true, hit(true));
        assert!(matches!(
            d,
            Decision::Handoff {
                reason: HandoffReason::Button,
                ..
            }
        ));
        let never = BotSettings {
            max_unanswered_turns: 0,
            ..s.clone()
        };
        let mut long = sess.clone();
        long.unanswered = 50;
        assert!(matches!(
            decide(&never, &long, "?", false, None),
            Decision::NotSure { .. }
        ));
        let limited = BotSettings { max_turns: 1, ..s };
        assert!(matches!(
            decide(&limited, &sess, "?", false, hit(true)),
            Decision::Handoff {
                reason: HandoffReason::TurnLimit,
                ..
            }
        ));
    }

    #[test]
    fn long_articles_are_cut_and_idle_sessions_expire() {
        let s = BotSettings {
            max_answer_chars: 20,
            ..Default::default()
        };
        let long = Candidate {
            id: "a".into(),
            title: "T".into(),
            body: "あ".repeat(50),
            confident: true,
        };
        match decide(&s, &session("x"), "x", false, Some(long)) {
            Decision::Answer { text, .. } => {
                assert!(
                    text.starts_with(&format!("T\n{}…\n", "あ".repeat(20))),
                    "{text}"
                )
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(cut("short", 20), "short");
        let mut sess = session("x");
        sess.turns.push(BotTurn {
            question: "q".into(),
            answer: "a".into(),
            article_id: None,
            article_title: None,
            at: Millis(1_000),
        });
        assert!(!sess.expired(Millis(1_000 + 500), 500));
        assert!(sess.expired(Millis(1_000 + 501), 500));
    }

    #[test]
    fn language_by_script_and_settings_validation() {
        assert_eq!(language_of("送料はいくら"), "ja");
        assert_eq!(language_of("shipping cost"), "en");
        assert!(BotSettings::default().validate().is_ok());
        let bad = BotSettings {
            channels: vec![Channel::Voice],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
