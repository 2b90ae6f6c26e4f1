//! Canned responses: the stored record (kind `"canned"` in the store's generic records
//! table, key = id), the validation of what a supervisor saves, and the variables a
//! response may use. Pure: no I/O (the REST side is the engine's `api::canned`).
//!
//! Variables (rendered by [`domain::template`]): `customer.id`, `customer.name` (the
//! display name, else the CRM attribute `name`), `agent.id`, `agent.name` (the agent
//! who renders), `conversation.id`, `conversation.channel`, `conversation.queue`, and
//! `crm.<key>` for any CRM attribute. A template naming anything else, or broken, is
//! refused when saved, with the byte offset.

use domain::template::{Template, TemplateError, Vars};
use domain::Millis;
use serde::{Deserialize, Serialize};

/// Record kind in the store.
pub const KIND: &str = "canned";

/// The fixed variables; `crm.<key>` comes on top.
pub const VARIABLES: &[&str] = &[
    "customer.id",
    "customer.name",
    "agent.id",
    "agent.name",
    "conversation.id",
    "conversation.channel",
    "conversation.queue",
];

/// `[canned]`: limits of canned responses.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CannedSettings {
    /// Canned responses stored at most; creating one more is refused.
    pub max_responses: usize,
    /// Longest response text (the template), bytes.
    pub max_text_bytes: usize,
    /// Longest title, bytes.
    pub max_title_bytes: usize,
    /// Most tags per response, and the longest tag in bytes.
    pub max_tags: usize,
    pub max_tag_bytes: usize,
}

impl Default for CannedSettings {
    fn default() -> Self {
        Self {
            max_responses: 1_000,
            max_text_bytes: 4 * 1024,
            max_title_bytes: 200,
            max_tags: 16,
            max_tag_bytes: 40,
        }
    }
}

/// A stored canned response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canned {
    pub id: String,
    pub title: String,
    /// The template text.
    pub text: String,
    pub language: String,
    pub tags: Vec<String>,
    /// Typed after `/` in the reply box to pick this response (unique).
    pub shortcut: Option<String>,
    /// Starts at 1, +1 on every change; an update must name the version it read.
    pub version: u64,
    pub updated_at: Millis,
    pub updated_by: String,
}

/// What a supervisor sends to create or change a response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    pub text: String,
    pub language: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub shortcut: Option<String>,
    /// Required on update: the version being replaced.
    #[serde(default)]
    pub version: Option<u64>,
}

/// Why a response cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CannedError {
    /// Every bad field of an input, by name (`title`, `text`, `language`, `tags`,
    /// `shortcut`), each with why.
    #[error("{}", fields.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "))]
    Fields {
        fields: std::collections::BTreeMap<&'static str, String>,
    },
    #[error("{0}")]
    Template(TemplateError),
    #[error("template: unknown variable {name:?} at byte {at} (allowed: {allowed}, crm.<key>)")]
    UnknownVariable {
        name: String,
        at: usize,
        allowed: String,
    },
}

/// `[a-z0-9_-]{1,max}`: ids and shortcuts.
pub fn slug_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A language tag such as `en`, `ja`, `pt-BR`.
fn language_ok(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    s.len() <= 16
        && (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Byte offset of the first `{{ name }}` / `{{ name? }}` placeholder in `src`.
fn placeholder_offset(src: &str, name: &str) -> usize {
    let mut from = 0;
    while let Some(i) = src[from..].find("{{") {
        let at = from + i;
        let after = &src[at + 2..];
        if let Some(end) = after.find("}}") {
            let inner = after[..end].trim();
            if inner.trim_end_matches('?').trim_end() == name {
                return at;
            }
        }
        from = at + 2;
    }
    0
}

/// Parses `text` and checks its variables.
pub fn check_template(text: &str, max_bytes: usize) -> Result<Template, CannedError> {
    let t = Template::parse(text, max_bytes).map_err(CannedError::Template)?;
    for v in t.variables() {
        let crm_ok = v
            .strip_prefix("crm.")
            .is_some_and(|k| !k.is_empty() && !k.contains('.'));
        if !VARIABLES.contains(&v) && !crm_ok {
            return Err(CannedError::UnknownVariable {
                name: v.to_owned(),
                at: placeholder_offset(text, v),
                allowed: VARIABLES.join(", "),
            });
        }
    }
    Ok(t)
}

impl CannedInput {
    /// Validates the fields (not the id, not uniqueness of the shortcut) and builds
    /// the record at `version`.
    pub fn into_record(
        self,
        id: String,
        version: u64,
        now: Millis,
        by: &str,
        s: &CannedSettings,
    ) -> Result<Canned, CannedError> {
        // Every field is checked, so the caller can name each bad one at once.
        let mut bad = std::collections::BTreeMap::new();
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.len() > s.max_title_bytes {
            bad.insert("title", format!("must be 1 to {} bytes", s.max_title_bytes));
        }
        if self.text.trim().is_empty() {
            bad.insert("text", "must not be empty".into());
        } else if let Err(e) = check_template(&self.text, s.max_text_bytes) {
            bad.insert("text", e.to_string());
        }
        if !language_ok(&self.language) {
            bad.insert(
                "language",
                format!("{:?} is not a language tag", self.language),
            );
        }
        let mut tags = Vec::new();
        if self.tags.len() > s.max_tags {
            bad.insert("tags", format!("at most {}", s.max_tags));
        }
        for t in self.tags {
            let t = t.trim().to_owned();
            if t.is_empty() || t.len() > s.max_tag_bytes {
                bad.insert(
                    "tags",
                    format!("each must be 1 to {} bytes", s.max_tag_bytes),
                );
            } else if !tags.contains(&t) {
                tags.push(t);
            }
        }
        if let Some(sc) = &self.shortcut {
            if !slug_ok(sc, 32) {
                bad.insert("shortcut", "must be 1 to 32 of a-z 0-9 _ -".into());
            }
        }
        if !bad.is_empty() {
            return Err(CannedError::Fields { fields: bad });
        }
        Ok(Canned {
            id,
            title,
            text: self.text,
            language: self.language,
            tags,
            shortcut: self.shortcut,
            version,
            updated_at: now,
            updated_by: by.to_owned(),
        })
    }
}

impl Canned {
    /// Renders for the given variables; a missing required variable names itself.
    pub fn render(&self, vars: &Vars, max_bytes: usize) -> Result<String, TemplateError> {
        // Stored text is checked at save time; a lower limit set later still renders.
        Template::parse(&self.text, max_bytes.max(self.text.len()))?.render(vars)
    }

    /// Whether the response matches a list filter.
    pub fn matches(&self, language: Option<&str>, tag: Option<&str>, q: Option<&str>) -> bool {
        let q = q.map(|q| q.to_lowercase());
        language.is_none_or(|l| self.language == l)
            && tag.is_none_or(|t| self.tags.iter().any(|x| x == t))
            && q.is_none_or(|q| {
                self.title.to_lowercase().contains(&q)
                    || self.text.to_lowercase().contains(&q)
                    || self.shortcut.as_deref().is_some_and(|s| s.contains(&q))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str) -> CannedInput {
        CannedInput {
            id: None,
            title: "Hi".into(),
            text: text.into(),
            language: "en".into(),
            tags: vec!["greeting".into()],
            shortcut: Some("hi".into()),
            version: None,
        }
    }

    #[test]
    fn templates_are_checked_with_offsets() {
        let s = CannedSettings::default();
        assert!(input("Hello {{customer.name}}, {{crm.tier?}}")
            .into_record("a".into(), 1, Millis(0), "x", &s)
            .is_ok());
        match check_template("Hello {{ customer.nme }}", 100) {
            Err(CannedError::UnknownVariable { name, at, .. }) => {
                assert_eq!(name, "customer.nme");
                assert_eq!(at, 6);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_template("Hello {{customer.name", 100),
            Err(CannedError::Template(TemplateError::Unclosed(6)))
        ));
        assert!(check_template("{{crm.}}", 100).is_err());
        assert!(check_template("{{crm.a.b}}", 100).is_err());
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let s = CannedSettings::default();
        let mut i = input("Hello {{customer.nme}}");
        i.title = " ".into();
        i.language = "english!".into();
        i.tags = vec![" ".into()];
        i.shortcut = Some("Bad".into());
        match i.into_record("a".into(), 1, Millis(0), "x", &s) {
            Err(CannedError::Fields { fields }) => {
                let names: Vec<_> = fields.keys().copied().collect();
                assert_eq!(names, ["language", "shortcut", "tags", "text", "title"]);
                assert!(fields["text"].contains("customer.nme"), "{fields:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fields_are_validated() {
        let s = CannedSettings::default();
        let mut i = input("x");
        i.language = "english!".into();
        assert!(i.into_record("a".into(), 1, Millis(0), "x", &s).is_err());
        let mut i = input("x");
        i.shortcut = Some("Bad Shortcut".into());
        assert!(i.into_record("a".into(), 1, Millis(0), "x", &s).is_err());
        let mut i = input("x");
        i.title = " ".into();
        assert!(i.into_record("a".into(), 1, Millis(0), "x", &s).is_err());
        assert!(language_ok("ja") && language_ok("pt-BR") && !language_ok("j"));
        assert!(slug_ok("order-status_1", 64) && !slug_ok("", 64) && !slug_ok("A", 64));
    }
}
