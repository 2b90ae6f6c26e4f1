//! IVR menu trees: the model (`[ivr]` settings), its validation at load, and
//! navigation (which option a key press or a spoken phrase chooses, where "back"
//! leads). Pure: no I/O. The voice webhook (`switchboard::channels::twilio_voice`) speaks a tree as
//! TwiML `<Gather>`s; the visual IVR (`switchboard::api::ivr`, `clients/chat/ivr.js`) shows the same
//! tree as buttons; [`messaging`] walks it in writing (WhatsApp lists, quick replies).
//! See docs/ivr.md.
//!
//! The flat `channels.voice.menu` of earlier versions still works: with no
//! `[[ivr.menus]]` configured it is read as a one-level tree whose root is `main`.

pub mod callbacks;
pub mod matching;
pub mod messaging;

use domain::{QueueName, SkillFloors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Id of the root menu of a tree built from the flat `channels.voice.menu`.
pub const LEGACY_ROOT: &str = "main";

/// One choice of the flat `channels.voice.menu`: press `digit` to reach `queue`, or
/// to ask for a callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrOption {
    pub digit: char,
    /// What the menu says for this digit.
    pub label: String,
    #[serde(default)]
    pub queue: Option<QueueName>,
    /// Instead of waiting, leave the number and be called back.
    #[serde(default)]
    pub callback: bool,
}

/// The flat `channels.voice.menu` and the greeting spoken before it, as the voice
/// channel's settings hold them.
#[derive(Debug, Clone, Copy)]
pub struct FlatMenu<'a> {
    pub greeting: &'a str,
    pub options: &'a [IvrOption],
}

/// Text in both client languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub ja: String,
    pub en: String,
}

impl Text {
    pub fn both(s: &str) -> Text {
        Text {
            ja: s.into(),
            en: s.into(),
        }
    }
    /// The text for a BCP-47 language tag (`en-US` → English, anything else Japanese).
    pub fn for_language(&self, lang: &str) -> &str {
        if lang.to_ascii_lowercase().starts_with("en") && !self.en.is_empty() {
            &self.en
        } else {
            &self.ja
        }
    }
}

/// What choosing an option does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Go to the submenu with this id.
    Menu(String),
    /// Wait for an agent in this queue.
    Queue(QueueName),
    /// Leave a number and be called back from this queue (`None`: the voice default).
    Callback(Option<QueueName>),
    /// Read (voice) or show (visual IVR) a knowledge-base article by id.
    Article(String),
    /// Start a web chat in this queue (visual IVR only; voice ignores the option).
    Chat(QueueName),
    /// Say or show the current menu again.
    Repeat,
    /// Go to the menu this one was reached from (the root stays at the root).
    Back,
}

impl Action {
    /// An action that leaves the tree (the caller reaches a person or content).
    pub fn is_exit(&self) -> bool {
        matches!(
            self,
            Action::Queue(_) | Action::Callback(_) | Action::Article(_) | Action::Chat(_)
        )
    }
}

/// One choice of a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    /// DTMF key (`0`-`9`, `*`, `#`); `None`: speech / visual only.
    #[serde(default)]
    pub key: Option<char>,
    /// Spoken phrases that choose it (matched case-, width- and kana-insensitively).
    #[serde(default)]
    pub phrases: Vec<String>,
    pub label: Text,
    pub action: Action,
    /// Skills the agent must have for a contact that chose this option (a queue or
    /// chat option): skill name to minimum proficiency (docs/api.md "Per-contact
    /// skills").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skills: SkillFloors,
}

/// One menu: a prompt and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// `[a-z0-9_-]`, 1-32 characters (it travels in webhook URLs).
    pub id: String,
    pub prompt: Text,
    pub options: Vec<MenuOption>,
}

/// `[ivr]`: the menu tree and its limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IvrSettings {
    /// The menu a call (and the visual IVR) starts in; required when `menus` is set.
    pub root: String,
    pub menus: Vec<Menu>,
    /// Most menus in the tree.
    pub max_menus: usize,
    /// Most options in one menu.
    pub max_options: usize,
    /// Deepest menu, counted from the root (root = 1).
    pub max_depth: usize,
    /// Most phrases per option.
    pub max_phrases: usize,
    /// Longest prompt, label or phrase, in bytes.
    pub max_text_bytes: usize,
    /// Invalid or missing inputs replayed before `default_action`.
    pub max_retries: u32,
    /// Taken after `max_retries` invalid inputs (`None`: apologise and hang up). Must
    /// be an exit (queue, callback, article).
    pub default_action: Option<Action>,
    /// Longest `SpeechResult` considered, in bytes (longer ones count as invalid).
    pub max_speech_bytes: usize,
    /// Longest article body read aloud, in characters (the rest is cut).
    pub max_article_chars: usize,
    /// `Cache-Control: max-age` of `GET /api/v1/ivr`, seconds.
    pub cache_max_age_s: u32,
    /// The tree walked in writing on messaging channels (`[ivr.messaging]`).
    pub messaging: messaging::MessagingSettings,
}

impl Default for IvrSettings {
    fn default() -> Self {
        Self {
            root: String::new(),
            menus: Vec::new(),
            max_menus: 32,
            max_options: 12,
            max_depth: 6,
            max_phrases: 8,
            max_text_bytes: 500,
            max_retries: 2,
            default_action: None,
            max_speech_bytes: 300,
            max_article_chars: 2_000,
            cache_max_age_s: 60,
            messaging: Default::default(),
        }
    }
}

/// Where a tree is wrong and why ([`Tree::check`]). `path` names the field as an
/// editor holds the tree: `root`, `tree`, `default_action`, `menus[i]`,
/// `menus[i].id`, `menus[i].prompt`, `menus[i].options[j].{key,label,phrases,action,skills}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    pub path: String,
    pub message: String,
}

/// A validated-shape tree (see [`Tree::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    pub root: String,
    pub menus: Vec<Menu>,
}

impl Tree {
    /// The configured tree: `[ivr]` menus, else the flat `channels.voice.menu`, else none.
    pub fn from_settings(ivr: &IvrSettings, flat: FlatMenu<'_>) -> Option<Tree> {
        if !ivr.menus.is_empty() {
            return Some(Tree {
                root: ivr.root.clone(),
                menus: ivr.menus.clone(),
            });
        }
        if flat.options.is_empty() {
            return None;
        }
        Some(Tree {
            root: LEGACY_ROOT.into(),
            menus: vec![Menu {
                id: LEGACY_ROOT.into(),
                prompt: Text::both(flat.greeting),
                options: flat
                    .options
                    .iter()
                    .map(|o| MenuOption {
                        key: Some(o.digit),
                        phrases: Vec::new(),
                        label: Text::both(&o.label),
                        action: match (&o.queue, o.callback) {
                            (q, true) => Action::Callback(q.clone()),
                            (Some(q), false) => Action::Queue(q.clone()),
                            // Refused by the channel settings' validation.
                            (None, false) => Action::Repeat,
                        },
                        skills: Default::default(),
                    })
                    .collect(),
            }],
        })
    }

    pub fn menu(&self, id: &str) -> Option<&Menu> {
        self.menus.iter().find(|m| m.id == id)
    }

    /// Every article id an option of the tree names (the only ones the visual IVR may
    /// show a visitor).
    pub fn articles(&self) -> BTreeSet<&str> {
        self.menus
            .iter()
            .flat_map(|m| &m.options)
            .filter_map(|o| match &o.action {
                Action::Article(id) => Some(id.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every queue an option names.
    pub fn queues(&self) -> BTreeSet<&QueueName> {
        self.menus
            .iter()
            .flat_map(|m| &m.options)
            .filter_map(|o| match &o.action {
                Action::Queue(q) | Action::Chat(q) | Action::Callback(Some(q)) => Some(q),
                _ => None,
            })
            .collect()
    }

    /// Checks the tree against `limits`: ids, unknown submenus, duplicate keys,
    /// unreachable or exitless menus (a cycle nobody can leave), depth and size.
    pub fn validate(&self, limits: &IvrSettings) -> Result<(), String> {
        self.check(limits)
            .map_err(|e| format!("ivr: {}", e.message))
    }

    /// [`Tree::validate`], naming where the first problem is ([`TreeError::path`]).
    pub fn check(&self, limits: &IvrSettings) -> Result<(), TreeError> {
        match self.check_all(limits).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem of the tree, each at its field ([`TreeError::path`]; the first
    /// per field), for a form that marks them all at once. The whole-tree checks
    /// (reachability, depth, exits) run only once the menu ids and the root are sound.
    pub fn check_all(&self, limits: &IvrSettings) -> Vec<TreeError> {
        let mut found: Vec<TreeError> = Vec::new();
        let mut err = |path: String, message: String| {
            if !found.iter().any(|e| e.path == path) {
                found.push(TreeError { path, message });
            }
        };
        if self.menus.len() > limits.max_menus {
            err(
                "tree".into(),
                format!(
                    "{} menus; the limit is {} (ivr.max_menus)",
                    self.menus.len(),
                    limits.max_menus
                ),
            );
        }
        let mut chat_skills: BTreeMap<&QueueName, &SkillFloors> = BTreeMap::new();
        let mut ids = HashSet::new();
        let mut ids_sound = true;
        for (i, m) in self.menus.iter().enumerate() {
            if !valid_id(&m.id) {
                ids_sound = false;
                err(
                    format!("menus[{i}].id"),
                    format!("menu id {:?} must be 1-32 of [a-z0-9_-]", m.id),
                );
            } else if !ids.insert(m.id.as_str()) {
                ids_sound = false;
                err(
                    format!("menus[{i}].id"),
                    format!("menu {} defined twice", m.id),
                );
            }
        }
        let root_sound = self.menu(&self.root).is_some();
        if !root_sound {
            err(
                "root".into(),
                format!("root menu {:?} is not defined", self.root),
            );
        }
        let long = |s: &str| s.len() > limits.max_text_bytes;
        for (i, m) in self.menus.iter().enumerate() {
            if m.options.is_empty() {
                err(
                    format!("menus[{i}]"),
                    format!("menu {} has no options", m.id),
                );
            }
            if m.options.len() > limits.max_options {
                err(
                    format!("menus[{i}]"),
                    format!(
                        "menu {} has {} options; the limit is {} (ivr.max_options)",
                        m.id,
                        m.options.len(),
                        limits.max_options
                    ),
                );
            }
            if long(&m.prompt.ja) || long(&m.prompt.en) {
                err(
                    format!("menus[{i}].prompt"),
                    format!("menu {}: prompt longer than ivr.max_text_bytes", m.id),
                );
            }
            let mut keys = HashSet::new();
            for (j, o) in m.options.iter().enumerate() {
                let at = |field: &str| format!("menus[{i}].options[{j}].{field}");
                let name = o.label.ja.as_str();
                if o.label.ja.trim().is_empty() || o.label.en.trim().is_empty() {
                    err(
                        at("label"),
                        format!("menu {}: an option has no label", m.id),
                    );
                } else if long(&o.label.ja) || long(&o.label.en) {
                    err(
                        at("label"),
                        format!("menu {}: label longer than ivr.max_text_bytes", m.id),
                    );
                }
                if let Some(k) = o.key {
                    if !(k.is_ascii_digit() || k == '*' || k == '#') {
                        err(
                            at("key"),
                            format!("menu {}: {k:?} is not a telephone key", m.id),
                        );
                    } else if !keys.insert(k) {
                        err(at("key"), format!("menu {}: key {k} is used twice", m.id));
                    }
                }
                if !o.skills.is_empty() && !matches!(o.action, Action::Queue(_) | Action::Chat(_)) {
                    err(
                        at("skills"),
                        format!(
                            "menu {}: option {name} requires skills but does not reach a queue",
                            m.id
                        ),
                    );
                } else if o.skills.len() > domain::MAX_REQUIRED_SKILLS {
                    err(
                        at("skills"),
                        format!(
                            "menu {}: option {name} requires more than {} skills",
                            m.id,
                            domain::MAX_REQUIRED_SKILLS
                        ),
                    );
                }
                if let Action::Chat(q) = &o.action {
                    if chat_skills
                        .insert(q, &o.skills)
                        .is_some_and(|s| *s != o.skills)
                    {
                        // The visual IVR starts a chat by its queue alone.
                        err(
                            at("skills"),
                            format!("two chat options open queue {q} with different skills"),
                        );
                    }
                }
                if o.phrases.len() > limits.max_phrases {
                    err(
                        at("phrases"),
                        format!(
                            "menu {}: option {name} has more than ivr.max_phrases phrases",
                            m.id
                        ),
                    );
                } else if o
                    .phrases
                    .iter()
                    .any(|p| long(p) || matching::normalize(p).is_empty())
                {
                    err(
                        at("phrases"),
                        format!(
                            "menu {}: option {name} has an empty or too long phrase",
                            m.id
                        ),
                    );
                }
                match &o.action {
                    Action::Menu(to) if self.menu(to).is_none() => err(
                        at("action"),
                        format!("menu {}: option {name} goes to unknown menu {to}", m.id),
                    ),
                    Action::Article(id) if !valid_article_id(id) => err(
                        at("action"),
                        format!("menu {}: article id {id:?} is not valid", m.id),
                    ),
                    _ => {}
                }
            }
        }
        if let Some(a) = &limits.default_action {
            if !a.is_exit() || matches!(a, Action::Chat(_)) {
                err(
                    "default_action".into(),
                    "default_action must be a queue, callback or article".into(),
                );
            }
        }
        if !(ids_sound && root_sound) {
            return found;
        }
        // Depth (shortest path from the root) and reachability.
        let depth = self.depths();
        for (i, m) in self.menus.iter().enumerate() {
            match depth.get(m.id.as_str()) {
                None => err(
                    format!("menus[{i}]"),
                    format!("menu {} cannot be reached from the root", m.id),
                ),
                Some(d) if *d > limits.max_depth => err(
                    format!("menus[{i}]"),
                    format!(
                        "menu {} is {d} levels deep; the limit is {} (ivr.max_depth)",
                        m.id, limits.max_depth
                    ),
                ),
                _ => {}
            }
        }
        // Every menu must lead to an exit (else a cycle or a dead end traps callers).
        let exits = self.menus_with_exit();
        for (i, m) in self.menus.iter().enumerate() {
            if !exits.contains(m.id.as_str()) {
                err(
                    format!("menus[{i}]"),
                    format!(
                        "menu {} never leads to a queue, callback, article or chat (a cycle without an exit)",
                        m.id
                    ),
                );
            }
        }
        found
    }

    /// Depth of every menu reachable from the root (root = 1), breadth first.
    fn depths(&self) -> BTreeMap<&str, usize> {
        let mut depth = BTreeMap::new();
        let mut frontier = vec![self.root.as_str()];
        let mut d = 1;
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for id in frontier {
                if depth.contains_key(id) {
                    continue;
                }
                depth.insert(id, d);
                if let Some(m) = self.menu(id) {
                    for o in &m.options {
                        if let Action::Menu(to) = &o.action {
                            next.push(to.as_str());
                        }
                    }
                }
            }
            frontier = next;
            d += 1;
        }
        depth
    }

    /// Menus from which some exit can be reached (fixpoint over submenu edges).
    fn menus_with_exit(&self) -> BTreeSet<&str> {
        let mut ok: BTreeSet<&str> = BTreeSet::new();
        loop {
            let before = ok.len();
            for m in &self.menus {
                if m.options.iter().any(|o| match &o.action {
                    Action::Menu(to) => ok.contains(to.as_str()),
                    a => a.is_exit(),
                }) {
                    ok.insert(m.id.as_str());
                }
            }
            if ok.len() == before {
                return ok;
            }
        }
    }
}

impl Menu {
    /// The option a key press (`digits`, first key) or a spoken `speech` chooses:
    /// the key first, else the option whose phrase or label matches best.
    pub fn choose(&self, digits: Option<&str>, speech: Option<&str>) -> Option<&MenuOption> {
        if let Some(d) = digits.map(str::trim).filter(|d| !d.is_empty()) {
            let mut chars = d.chars();
            let (Some(k), None) = (chars.next(), chars.next()) else {
                return None;
            };
            return self.options.iter().find(|o| o.key == Some(k));
        }
        let heard = speech?;
        self.options
            .iter()
            .filter_map(|o| {
                o.phrases
                    .iter()
                    .chain([&o.label.ja, &o.label.en])
                    .filter_map(|p| matching::score(heard, p))
                    .max()
                    .map(|s| (s, o))
            })
            // Longest match wins; among equals the first option.
            .fold(
                None,
                |best: Option<(usize, &MenuOption)>, (s, o)| match best {
                    Some((b, _)) if b >= s => best,
                    _ => Some((s, o)),
                },
            )
            .map(|(_, o)| o)
    }
}

/// A caller's place in the tree: the menus from the root to the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position(pub Vec<String>);

impl Position {
    /// Parses `root.sub.subsub` (as carried in a webhook URL); `None` if any step is not
    /// a menu of `tree`, does not start at the root, or is not an edge of the tree.
    pub fn parse(tree: &Tree, s: &str) -> Option<Position> {
        let path: Vec<String> = s.split('.').map(str::to_owned).collect();
        if path.first() != Some(&tree.root) || path.len() > tree.menus.len() + 1 {
            return None;
        }
        for w in path.windows(2) {
            let m = tree.menu(&w[0])?;
            if !m
                .options
                .iter()
                .any(|o| o.action == Action::Menu(w[1].clone()))
            {
                return None;
            }
        }
        Some(Position(path))
    }

    pub fn root(tree: &Tree) -> Position {
        Position(vec![tree.root.clone()])
    }

    pub fn current(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or_default()
    }

    pub fn encode(&self) -> String {
        self.0.join(".")
    }

    /// Into submenu `to` (a cycle back to a menu on the path unwinds to it).
    pub fn enter(&self, to: &str) -> Position {
        match self.0.iter().position(|m| m == to) {
            Some(i) => Position(self.0[..=i].to_vec()),
            None => {
                let mut p = self.0.clone();
                p.push(to.to_owned());
                Position(p)
            }
        }
    }

    /// Up one level (the root stays).
    pub fn back(&self) -> Position {
        let mut p = self.0.clone();
        if p.len() > 1 {
            p.pop();
        }
        Position(p)
    }
}

/// Most menus a path reported by a client may name (deeper than any tree allows).
pub const MAX_REPORTED_PATH: usize = 16;

/// The shape of a menu path a client reports (the visual IVR's, root first): at most
/// [`MAX_REPORTED_PATH`] menu ids, each a valid id. Whether the tree has that path is
/// not checked: the path only labels reports (docs/ivr.md).
pub fn check_reported_path(path: &[String]) -> Result<(), String> {
    if path.len() > MAX_REPORTED_PATH {
        return Err(format!(
            "ivr_path names {} menus; at most {MAX_REPORTED_PATH}",
            path.len()
        ));
    }
    match path.iter().find(|m| !valid_id(m)) {
        Some(m) => Err(format!(
            "ivr_path: menu id {m:?} must be 1-32 of [a-z0-9_-]"
        )),
        None => Ok(()),
    }
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Article ids as the knowledge base keys them: 1-128 of `[A-Za-z0-9_.-]`.
pub fn valid_article_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Validates the configured tree (if any) at load.
/// `bot_channels`: the channels the FAQ bot answers on (empty when it is off), which
/// the menus in writing may not share.
pub fn validate_settings(
    ivr: &IvrSettings,
    flat: FlatMenu<'_>,
    bot_channels: &[domain::Channel],
) -> Result<(), String> {
    if !ivr.menus.is_empty() && ivr.root.is_empty() {
        return Err("ivr.root must name the first menu".into());
    }
    let tree = Tree::from_settings(ivr, flat);
    if tree.is_none() && !ivr.messaging.channels.is_empty() {
        return Err("ivr.messaging.channels needs a menu tree ([[ivr.menus]])".into());
    }
    ivr.messaging.validate(bot_channels, ivr.max_text_bytes)?;
    match tree {
        Some(t) => t.validate(ivr),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
