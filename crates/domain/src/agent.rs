//! Agents: profile (who they are, what they can do), status, skills and capacity.

use super::ids::AgentId;
use super::{ChannelClass, ParseError, QueueName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A skill name, e.g. `billing` or `lang-ja`. Lowercase slug.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Skill(String);

impl Skill {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > 64 {
            return Err(ParseError::new("skill", "must be 1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(ParseError::new(
                "skill",
                "only lowercase ASCII letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
/// Lets a skill map be searched by name without building a `Skill` (the order of
/// `Skill` is the order of its name).
impl std::borrow::Borrow<str> for Skill {
    fn borrow(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Skill {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}
impl From<Skill> for String {
    fn from(v: Skill) -> String {
        v.0
    }
}

/// Proficiency in a skill, 1 (novice) to 5 (expert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Proficiency(u8);

impl Proficiency {
    pub fn new(v: u8) -> Result<Self, ParseError> {
        if (1..=5).contains(&v) {
            Ok(Self(v))
        } else {
            Err(ParseError::new("proficiency", "must be 1 to 5"))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}
impl TryFrom<u8> for Proficiency {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        Self::new(v)
    }
}
impl From<Proficiency> for u8 {
    fn from(p: Proficiency) -> u8 {
        p.0
    }
}

/// Access role. Checked on every REST route and websocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

/// Per-class capacity: how many conversations of each class an agent may hold at once.
/// Voice is exclusive: while an agent holds a voice conversation it is offered nothing
/// else, and it is offered voice only when it holds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub voice: u16,
    pub chat: u16,
    pub email: u16,
    pub messaging: u16,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            voice: 1,
            chat: 3,
            email: 5,
            messaging: 5,
        }
    }
}

impl Capacity {
    pub fn of(&self, class: ChannelClass) -> u16 {
        match class {
            ChannelClass::Voice => self.voice,
            ChannelClass::Chat => self.chat,
            ChannelClass::Email => self.email,
            ChannelClass::Messaging => self.messaging,
        }
    }

    /// Free slots of `class` given the conversations held (or reserved) per class.
    pub fn free(&self, class: ChannelClass, held: &[u16; 4]) -> u16 {
        let voice_held = held[ChannelClass::Voice.index()];
        let total_held: u16 = held.iter().sum();
        if class == ChannelClass::Voice {
            if total_held > 0 {
                return 0;
            }
            return self.voice.saturating_sub(voice_held);
        }
        if voice_held > 0 {
            return 0;
        }
        self.of(class).saturating_sub(held[class.index()])
    }

    /// Total slots across classes (voice excluded, being exclusive); for occupancy.
    pub fn total_non_voice(&self) -> u16 {
        self.chat + self.email + self.messaging
    }
}

/// The presence an agent asks for (the engine may still force `offline` or
/// `missed_offers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestedStatus {
    Available,
    Away,
}

/// Presence chosen by the agent (or forced by the engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AgentStatus {
    Available,
    /// Not taking new work. `reason` is free text ("lunch", "training") or `missed`
    /// when the engine set it after consecutive missed offers.
    Away {
        reason: String,
    },
    Offline,
}

impl AgentStatus {
    pub fn label(&self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Away { .. } => "away",
            AgentStatus::Offline => "offline",
        }
    }
}

/// What an admin configures about an agent. Persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub id: AgentId,
    pub display_name: String,
    /// argon2 PHC string; never serialised to clients.
    pub password_hash: String,
    pub role: Role,
    pub skills: BTreeMap<Skill, Proficiency>,
    pub capacity: Capacity,
    /// Queues this agent serves.
    pub queues: Vec<QueueName>,
    #[serde(default)]
    pub disabled: bool,
    /// The phone (E.164) the agent takes phone calls on instead of the browser
    /// softphone (docs/voice.md "The agent's own phone").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The skills a conversation needs of the agent who takes it, each at least at a
/// proficiency (docs/api.md "Per-contact skills"). A language is the skill
/// `lang-<code>` (e.g. `lang-ja`).
pub type SkillFloors = BTreeMap<Skill, Proficiency>;

/// At most this many skills on one agent.
pub const MAX_AGENT_SKILLS: usize = 64;

/// At most this many required skills on one conversation.
pub const MAX_REQUIRED_SKILLS: usize = 16;

/// Whether an agent with skills `have` meets every floor of `need`.
pub fn meets(have: &SkillFloors, need: &SkillFloors) -> bool {
    need.iter()
        .all(|(s, min)| held(have, s).is_some_and(|p| p >= *min))
}

/// The skill that stands for how hard a contact is (docs/api.md "Novices"): a
/// conversation needing `difficulty` at 3 goes to agents whose `difficulty` is at least
/// 3. On an agent it is the hardest contact they take (their experience tier).
pub const DIFFICULTY: &str = "difficulty";

/// The [`DIFFICULTY`] skill.
pub fn difficulty_skill() -> Skill {
    Skill(DIFFICULTY.to_owned())
}

/// The difficulty a conversation needing `need` has, if any.
pub fn difficulty_of(need: &SkillFloors) -> Option<Proficiency> {
    need.get(DIFFICULTY).copied()
}

/// Refuses more than [`MAX_AGENT_SKILLS`] skills on one agent.
pub fn check_agent_skills(skills: &SkillFloors) -> Result<(), ParseError> {
    if skills.len() > MAX_AGENT_SKILLS {
        return Err(ParseError::new(
            "skills",
            format!("{}; at most {MAX_AGENT_SKILLS}", skills.len()),
        ));
    }
    Ok(())
}

/// The hardest difficulty there is; an agent not given a `difficulty` holds this one.
pub const MAX_DIFFICULTY: Proficiency = Proficiency(5);

/// An agent's proficiency in `skill` as routing sees it: its own, or for
/// [`DIFFICULTY`] when it has none, [`MAX_DIFFICULTY`] (only agents marked as novices
/// are kept from hard contacts).
pub fn held(have: &SkillFloors, skill: &Skill) -> Option<Proficiency> {
    match have.get(skill) {
        Some(p) => Some(*p),
        None if skill.as_str() == DIFFICULTY => Some(MAX_DIFFICULTY),
        None => None,
    }
}

/// The skill that stands for speaking `code` (`ja` -> `lang-ja`); `None` when `code`
/// is not 2 to 8 lowercase ASCII letters.
pub fn language_skill(code: &str) -> Option<Skill> {
    if !(2..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Skill::parse(&format!("lang-{code}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_without_a_difficulty_takes_any_contact() {
        let p = |v| Proficiency::new(v).unwrap();
        let billing = Skill::parse("billing").unwrap();
        let hard: SkillFloors = [(difficulty_skill(), p(5))].into();
        let unmarked: SkillFloors = [(billing.clone(), p(2))].into();
        assert!(meets(&unmarked, &hard));
        assert_eq!(held(&unmarked, &difficulty_skill()), Some(MAX_DIFFICULTY));
        assert_eq!(held(&unmarked, &Skill::parse("lang-ja").unwrap()), None);
        let novice: SkillFloors = [(difficulty_skill(), p(1))].into();
        assert!(!meets(&novice, &hard));
        assert!(meets(&novice, &[(difficulty_skill(), p(1))].into()));
        // Only `difficulty` has a default: a missing skill is missing.
        assert!(!meets(&novice, &[(billing, p(1))].into()));
    }

    #[test]
    fn proficiency_bounds() {
        assert!(Proficiency::new(0).is_err());
        assert!(Proficiency::new(1).is_ok());
        assert!(Proficiency::new(5).is_ok());
        assert!(Proficiency::new(6).is_err());
        assert!(serde_json::from_str::<Proficiency>("9").is_err());
    }

    #[test]
    fn voice_is_exclusive() {
        let c = Capacity::default();
        let mut held = [0u16; 4];
        assert_eq!(c.free(ChannelClass::Voice, &held), 1);
        held[ChannelClass::Chat.index()] = 1;
        assert_eq!(c.free(ChannelClass::Voice, &held), 0);
        assert_eq!(c.free(ChannelClass::Chat, &held), 2);
        let mut held = [0u16; 4];
        held[ChannelClass::Voice.index()] = 1;
        assert_eq!(c.free(ChannelClass::Chat, &held), 0);
        assert_eq!(c.free(ChannelClass::Email, &held), 0);
    }
}
