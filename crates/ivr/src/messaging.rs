//! The IVR tree walked in writing: on a messaging channel listed in
//! `ivr.messaging.channels` (WhatsApp above all, whose interactive lists and reply
//! buttons show a menu as rows to tap), a customer with no conversation open is shown
//! the tree's menus before any conversation opens, chooses by tapping (the label comes
//! back as text), typing a key or typing a phrase, reads articles, and leaves the tree
//! for a queue or a callback. Pure: the session is a value, one customer message is one
//! [`Walk::answer`]; the customer actor (`switchboard::actors::customer::menus`) stores
//! the session and sends what this decides. See docs/ivr.md "Menus in writing".

use crate::{matching, Action, Menu, MenuOption, Position, Text, Tree};
use domain::{Channel, ConversationId, Millis, QueueName, SkillFloors};
use serde::{Deserialize, Serialize};

/// Record kind of a written IVR session (key = customer id).
pub const IVR_SESSION: &str = "ivr_session";

/// `[ivr.messaging]`: where the tree is walked in writing, and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagingSettings {
    /// Messaging channels whose first message walks the tree (empty: none). Only
    /// channels an agent answers through a connector (`sms`, `line`, `messenger`,
    /// `whatsapp`, `instagram`, `x`); not those the FAQ bot answers too.
    pub channels: Vec<Channel>,
    /// A session idle this long is over: the next message starts at the root again.
    pub idle_ms: u64,
    /// Said before the menu again after an answer that chooses nothing.
    pub retry: Text,
    /// Said when the customer leaves the tree for a queue.
    pub handoff: Text,
    /// Said when the customer chose a callback; `{phone}` is the number called.
    pub callback: Text,
}

impl Default for MessagingSettings {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            idle_ms: 30 * 60 * 1000,
            retry: Text {
                ja: "選択肢からお選びください。".into(),
                en: "Please choose one of the options.".into(),
            },
            handoff: Text {
                ja: "担当者におつなぎします。このままお待ちください。".into(),
                en: "Connecting you to an agent. Please stay here.".into(),
            },
            callback: Text {
                ja: "{phone} に折り返しお電話いたします。".into(),
                en: "We will call you back at {phone}.".into(),
            },
        }
    }
}

impl MessagingSettings {
    /// Whether `channel` may walk the tree in writing.
    pub fn allowed(channel: Channel) -> bool {
        let c = channel.capabilities();
        c.bot && c.replies == domain::channel::ReplyPath::Connector
    }

    /// Checks the channels and texts (`bot_channels`: those the FAQ bot answers on,
    /// empty when it is off).
    pub fn validate(&self, bot_channels: &[Channel], max_bytes: usize) -> Result<(), String> {
        for c in &self.channels {
            if !Self::allowed(*c) {
                return Err(format!(
                    "ivr.messaging.channels: {c} cannot walk the menus in writing (allowed: {})",
                    domain::channel::channels_where(
                        |k| k.bot && k.replies == domain::channel::ReplyPath::Connector
                    )
                ));
            }
            if bot_channels.contains(c) {
                return Err(format!(
                    "ivr.messaging.channels: the FAQ bot answers on {c} too; choose one"
                ));
            }
        }
        for (name, t) in [
            ("retry", &self.retry),
            ("handoff", &self.handoff),
            ("callback", &self.callback),
        ] {
            if t.ja.trim().is_empty() || t.en.trim().is_empty() {
                return Err(format!("ivr.messaging.{name} needs ja and en"));
            }
            if t.ja.len() > max_bytes || t.en.len() > max_bytes {
                return Err(format!(
                    "ivr.messaging.{name} is longer than ivr.max_text_bytes"
                ));
            }
        }
        if self.idle_ms == 0 {
            return Err("ivr.messaging.idle_ms must be above 0".into());
        }
        Ok(())
    }
}

/// A customer's walk through the menus in writing (stored as [`IVR_SESSION`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Every turn's timeline events carry it; the conversation a queue choice opens
    /// takes it (no conversation record exists before).
    pub conversation_id: ConversationId,
    pub channel: Channel,
    /// `ja` or `en`, from the first message.
    pub language: String,
    /// The menus from the root to the current one.
    pub path: Vec<String>,
    /// Answers in a row that chose nothing.
    pub tries: u32,
    pub started_at: Millis,
    pub last_at: Millis,
}

impl Session {
    /// A session at the root of `tree`, in the language of `first_text`: English when
    /// it has Latin letters and no Japanese, else Japanese.
    pub fn new(tree: &Tree, channel: Channel, first_text: &str, now: Millis) -> Session {
        Session {
            conversation_id: ConversationId::new(),
            channel,
            // A key alone ("1") says nothing: the menus start in Japanese.
            language: domain::text::language_guess(first_text)
                .unwrap_or("ja")
                .into(),
            path: Position::root(tree).0,
            tries: 0,
            started_at: now,
            last_at: now,
        }
    }

    /// Whether the session has been idle for `idle_ms` at `now`.
    pub fn expired(&self, now: Millis, idle_ms: u64) -> bool {
        now.since(self.last_at) >= idle_ms
    }
}

/// A message to send: text and the labels offered as quick replies (empty when the
/// channel has none; the options are then written out in the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    pub choices: Vec<String>,
}

/// How the customer leaves the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitTo {
    /// Wait for an agent in this queue (`None`: the channel's default queue).
    Queue(Option<QueueName>),
    /// Wait to be called back at the channel's phone number, from this queue (`None`:
    /// the voice default).
    Callback(Option<QueueName>),
}

/// Leaving the tree for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub to: ExitTo,
    /// The chosen option's skills.
    pub skills: SkillFloors,
    /// The menus walked, root first (`conversation_opened.ivr_path`).
    pub path: Vec<String>,
    /// What the customer is told (`{phone}` still to fill for a callback).
    pub text: String,
    /// `queue` or `callback` when chosen, `retries` after too many answers that chose
    /// nothing.
    pub reason: &'static str,
}

/// What one customer message leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Show a menu (the session goes on).
    Menu(Prompt),
    /// Show knowledge-base article `id`, then the menu (the session goes on).
    Article { id: String, then: Prompt },
    /// Leave the tree (the session ends).
    Exit(Exit),
}

/// The tree and its settings, as one channel walks them.
#[derive(Debug, Clone, Copy)]
pub struct Walk<'a> {
    pub tree: &'a Tree,
    pub settings: &'a crate::IvrSettings,
    /// The channel shows quick replies (else the options are written out).
    pub quick_replies: bool,
    /// The customer's address on the channel is a phone number callbacks may call
    /// (else callback options are not offered).
    pub callbacks: bool,
}

impl Walk<'_> {
    /// The current menu of `session` (the root when the tree changed under it).
    fn menu(&self, session: &mut Session) -> &Menu {
        if Position::parse(self.tree, &session.path.join(".")).is_none() {
            session.path = Position::root(self.tree).0;
        }
        let id = session.path.last().cloned().unwrap_or_default();
        self.tree
            .menu(&id)
            .or_else(|| self.tree.menu(&self.tree.root))
            .expect("a validated tree has its root")
    }

    /// Whether `o` is offered in writing: a callback needs a number to call.
    fn offered(&self, o: &MenuOption) -> bool {
        self.callbacks || !matches!(o.action, Action::Callback(_))
    }

    /// `menu` as a prompt in `lang`, after `before` (a retry or an article) if any.
    fn prompt(&self, menu: &Menu, lang: &str, before: Option<&str>) -> Prompt {
        let mut text = String::new();
        if let Some(b) = before {
            text.push_str(b);
            text.push_str("\n\n");
        }
        text.push_str(menu.prompt.for_language(lang));
        let offered = menu.options.iter().filter(|o| self.offered(o));
        if self.quick_replies {
            let choices = offered
                .map(|o| o.label.for_language(lang).to_owned())
                .collect();
            return Prompt { text, choices };
        }
        for o in offered {
            let label = o.label.for_language(lang);
            match o.key {
                Some(k) => text.push_str(&format!("\n{k}. {label}")),
                None => text.push_str(&format!("\n- {label}")),
            }
        }
        Prompt {
            text,
            choices: Vec::new(),
        }
    }

    /// The first turn of a new session: the root menu.
    pub fn start(&self, session: &mut Session) -> Prompt {
        let menu = self.menu(session).clone();
        self.prompt(&menu, &session.language, None)
    }

    /// The option `text` chooses in `menu`: a key typed alone, else the offered option
    /// whose label or phrase it contains (the longest match).
    fn choose<'m>(&self, menu: &'m Menu, text: &str) -> Option<&'m MenuOption> {
        let typed = text.trim();
        let mut chars = typed.chars();
        if let (Some(k), None) = (chars.next(), chars.next()) {
            let k = matching::normalize(&k.to_string())
                .chars()
                .next()
                .unwrap_or(k);
            if let Some(o) = menu.options.iter().find(|o| o.key == Some(k)) {
                return self.offered(o).then_some(o);
            }
        }
        let offered = Menu {
            id: menu.id.clone(),
            prompt: menu.prompt.clone(),
            options: menu
                .options
                .iter()
                .filter(|o| self.offered(o))
                .cloned()
                .collect(),
        };
        let chosen = offered.choose(None, Some(typed))?;
        menu.options.iter().find(|o| *o == chosen)
    }

    /// The customer wrote `text` in `session`'s current menu: where it leads. Updates
    /// the session (position, tries, last activity).
    pub fn answer(&self, session: &mut Session, text: &str, now: Millis) -> Turn {
        session.last_at = now;
        let menu = self.menu(session).clone();
        let lang = session.language.clone();
        let Some(option) = self.choose(&menu, text).cloned() else {
            session.tries += 1;
            if session.tries > self.settings.max_retries {
                return Turn::Exit(self.exit_after_retries(session));
            }
            let retry = self.settings.messaging.retry.for_language(&lang).to_owned();
            return Turn::Menu(self.prompt(&menu, &lang, Some(&retry)));
        };
        session.tries = 0;
        let here = Position(session.path.clone());
        match &option.action {
            Action::Menu(to) => {
                session.path = here.enter(to).0;
                let next = self.menu(session).clone();
                Turn::Menu(self.prompt(&next, &lang, None))
            }
            Action::Back => {
                session.path = here.back().0;
                let next = self.menu(session).clone();
                Turn::Menu(self.prompt(&next, &lang, None))
            }
            Action::Repeat => Turn::Menu(self.prompt(&menu, &lang, None)),
            Action::Article(id) => Turn::Article {
                id: id.clone(),
                then: self.prompt(&menu, &lang, None),
            },
            Action::Queue(q) | Action::Chat(q) => Turn::Exit(Exit {
                to: ExitTo::Queue(Some(q.clone())),
                skills: option.skills.clone(),
                path: session.path.clone(),
                text: self.settings.messaging.handoff.for_language(&lang).into(),
                reason: "queue",
            }),
            Action::Callback(q) => Turn::Exit(Exit {
                to: ExitTo::Callback(q.clone()),
                skills: option.skills.clone(),
                path: session.path.clone(),
                text: self.settings.messaging.callback.for_language(&lang).into(),
                reason: "callback",
            }),
        }
    }

    /// Too many answers chose nothing: the configured `default_action` when it reaches
    /// a person in writing, else the channel's default queue — a customer who writes
    /// is never left without an answer.
    fn exit_after_retries(&self, session: &Session) -> Exit {
        let lang = session.language.as_str();
        let m = &self.settings.messaging;
        let (to, text) = match &self.settings.default_action {
            Some(Action::Callback(q)) if self.callbacks => {
                (ExitTo::Callback(q.clone()), m.callback.for_language(lang))
            }
            Some(Action::Queue(q)) | Some(Action::Chat(q)) => {
                (ExitTo::Queue(Some(q.clone())), m.handoff.for_language(lang))
            }
            _ => (ExitTo::Queue(None), m.handoff.for_language(lang)),
        };
        Exit {
            to,
            skills: SkillFloors::default(),
            path: session.path.clone(),
            text: text.to_owned(),
            reason: "retries",
        }
    }
}

/// The article as sent in writing: its title, then its body cut at `max_chars`
/// characters (with "…").
pub fn article_text(title: &str, body: &str, max_chars: usize) -> String {
    let mut cut: String = body.chars().take(max_chars).collect();
    if body.chars().count() > max_chars {
        cut.push('…');
    }
    format!("{title}\n\n{cut}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IvrSettings;

    fn q(name: &str) -> QueueName {
        QueueName::parse(name).unwrap()
    }

    fn opt(key: char, ja: &str, en: &str, action: Action) -> MenuOption {
        MenuOption {
            key: Some(key),
            phrases: Vec::new(),
            label: Text {
                ja: ja.into(),
                en: en.into(),
            },
            action,
            skills: Default::default(),
        }
    }

    fn settings() -> IvrSettings {
        let menu = |id: &str, options| Menu {
            id: id.into(),
            prompt: Text {
                ja: format!("{id}：お選びください"),
                en: format!("{id}: please choose"),
            },
            options,
        };
        let mut billing = opt('1', "請求（英語）", "Billing", Action::Queue(q("billing")));
        billing.skills.insert(
            domain::Skill::parse("lang-en").unwrap(),
            domain::Proficiency::new(2).unwrap(),
        );
        IvrSettings {
            root: "main".into(),
            menus: vec![
                menu(
                    "main",
                    vec![
                        opt('1', "ご注文", "Orders", Action::Menu("orders".into())),
                        opt('2', "返品", "Returns", Action::Article("returns".into())),
                        opt('3', "折り返し", "Call me back", Action::Callback(None)),
                    ],
                ),
                menu(
                    "orders",
                    vec![
                        billing,
                        opt('9', "戻る", "Back", Action::Back),
                        opt('0', "もう一度", "Again", Action::Repeat),
                    ],
                ),
            ],
            ..Default::default()
        }
    }

    fn tree(s: &IvrSettings) -> Tree {
        Tree {
            root: s.root.clone(),
            menus: s.menus.clone(),
        }
    }

    fn walk<'a>(t: &'a Tree, s: &'a IvrSettings, quick: bool, phone: bool) -> Walk<'a> {
        Walk {
            tree: t,
            settings: s,
            quick_replies: quick,
            callbacks: phone,
        }
    }

    #[test]
    fn the_language_comes_from_the_first_message() {
        let s = settings();
        let t = tree(&s);
        let now = Millis(1);
        assert_eq!(
            Session::new(&t, Channel::Whatsapp, "hello", now).language,
            "en"
        );
        assert_eq!(
            Session::new(&t, Channel::Whatsapp, "こんにちは", now).language,
            "ja"
        );
        assert_eq!(Session::new(&t, Channel::Whatsapp, "1", now).language, "ja");
        assert_eq!(
            Session::new(&t, Channel::Whatsapp, "Suica 残高", now).language,
            "ja"
        );
    }

    #[test]
    fn menus_are_quick_replies_or_written_out() {
        let s = settings();
        let t = tree(&s);
        let mut session = Session::new(&t, Channel::Whatsapp, "hi", Millis(1));
        let p = walk(&t, &s, true, true).start(&mut session);
        assert_eq!(p.text, "main: please choose");
        assert_eq!(p.choices, ["Orders", "Returns", "Call me back"]);
        // Without a number to call, no callback is offered (nor chosen by its key).
        let w = walk(&t, &s, false, false);
        let p = w.start(&mut session);
        assert_eq!(p.text, "main: please choose\n1. Orders\n2. Returns");
        assert!(p.choices.is_empty());
        assert!(matches!(
            w.answer(&mut session, "3", Millis(2)),
            Turn::Menu(_)
        ));
        assert_eq!(session.tries, 1);
    }

    #[test]
    fn a_walk_by_label_key_and_phrase_reaches_a_queue_with_skills() {
        let s = settings();
        let t = tree(&s);
        let w = walk(&t, &s, true, true);
        let mut session = Session::new(&t, Channel::Whatsapp, "こんにちは", Millis(1));
        // The tapped label comes back as text.
        let Turn::Menu(p) = w.answer(&mut session, "ご注文", Millis(2)) else {
            panic!("a submenu")
        };
        assert_eq!(p.choices, ["請求（英語）", "戻る", "もう一度"]);
        assert_eq!(session.path, ["main", "orders"]);
        assert_eq!(session.last_at, Millis(2));
        // Back, then in again by key (full-width typed keys count).
        assert!(matches!(
            w.answer(&mut session, "９", Millis(3)),
            Turn::Menu(_)
        ));
        assert_eq!(session.path, ["main"]);
        w.answer(&mut session, " 1 ", Millis(4));
        assert_eq!(session.path, ["main", "orders"]);
        let Turn::Exit(exit) = w.answer(&mut session, "請求（英語）をお願いします", Millis(5))
        else {
            panic!("an exit")
        };
        assert_eq!(exit.to, ExitTo::Queue(Some(q("billing"))));
        assert_eq!(exit.path, ["main", "orders"]);
        assert_eq!(exit.skills.len(), 1);
        assert_eq!(exit.reason, "queue");
        assert_eq!(exit.text, s.messaging.handoff.ja);
    }

    #[test]
    fn articles_come_back_to_the_menu_and_callbacks_exit() {
        let s = settings();
        let t = tree(&s);
        let w = walk(&t, &s, true, true);
        let mut session = Session::new(&t, Channel::Whatsapp, "hi", Millis(1));
        let Turn::Article { id, then } = w.answer(&mut session, "Returns", Millis(2)) else {
            panic!("an article")
        };
        assert_eq!(id, "returns");
        assert_eq!(then.text, "main: please choose");
        let Turn::Exit(exit) = w.answer(&mut session, "call me back", Millis(3)) else {
            panic!("an exit")
        };
        assert_eq!(exit.to, ExitTo::Callback(None));
        assert_eq!(exit.text, "We will call you back at {phone}.");
    }

    #[test]
    fn answers_that_choose_nothing_are_retried_then_handed_to_a_person() {
        let mut s = settings();
        let t = tree(&s);
        let mut session = Session::new(&t, Channel::Whatsapp, "hi", Millis(1));
        for n in 1..=s.max_retries {
            let Turn::Menu(p) = walk(&t, &s, true, true).answer(&mut session, "???", Millis(2))
            else {
                panic!("a retry")
            };
            assert!(p.text.starts_with("Please choose one of the options.\n\n"));
            assert_eq!(session.tries, n);
        }
        let mut again = session.clone();
        let Turn::Exit(exit) = walk(&t, &s, true, true).answer(&mut session, "?", Millis(3)) else {
            panic!("an exit")
        };
        assert_eq!((exit.to, exit.reason), (ExitTo::Queue(None), "retries"));
        s.default_action = Some(Action::Callback(Some(q("billing"))));
        let Turn::Exit(exit) = walk(&t, &s, true, true).answer(&mut again.clone(), "?", Millis(3))
        else {
            panic!("an exit")
        };
        assert_eq!(exit.to, ExitTo::Callback(Some(q("billing"))));
        // No number to call: the default queue instead.
        let Turn::Exit(exit) = walk(&t, &s, true, false).answer(&mut again, "?", Millis(3)) else {
            panic!("an exit")
        };
        assert_eq!(exit.to, ExitTo::Queue(None));
    }

    #[test]
    fn a_session_in_a_menu_that_is_gone_starts_at_the_root() {
        let s = settings();
        let t = tree(&s);
        let mut session = Session::new(&t, Channel::Whatsapp, "hi", Millis(1));
        session.path = vec!["main".into(), "removed".into()];
        assert_eq!(
            walk(&t, &s, true, true).start(&mut session).text,
            "main: please choose"
        );
        assert_eq!(session.path, ["main"]);
        let idle = s.messaging.idle_ms;
        assert!(session.expired(Millis(1 + idle as i64), idle));
        assert!(!session.expired(Millis(idle as i64), idle));
    }

    #[test]
    fn settings_are_checked() {
        let s = MessagingSettings {
            channels: vec![Channel::Whatsapp, Channel::Sms],
            ..Default::default()
        };
        s.validate(&[], 500).unwrap();
        let e = s.validate(&[Channel::Sms], 500).unwrap_err();
        assert!(e.contains("FAQ bot answers on sms"), "{e}");
        let voice = MessagingSettings {
            channels: vec![Channel::Voice],
            ..Default::default()
        };
        assert!(voice
            .validate(&[], 500)
            .unwrap_err()
            .contains("voice cannot"));
        let mut long = MessagingSettings::default();
        long.retry.en = "x".repeat(501);
        assert!(long.validate(&[], 500).unwrap_err().contains("retry"));
        assert_eq!(article_text("T", "abcdef", 3), "T\n\nabc…");
        assert_eq!(article_text("T", "abc", 3), "T\n\nabc");
    }
}
