//! Message templates with variables, shared by every feature that writes text for a
//! customer from stored wording: proactive notifications, canned responses, surveys.
//!
//! Syntax: literal text with `{{name}}` placeholders, where `name` is a dotted path of
//! ASCII letters, digits, `_` and `-` (`{{customer.name}}`, `{{order.id}}`). Spaces
//! inside the braces are allowed. `{{name?}}` is optional: it renders empty when the
//! variable is missing; a missing required variable is an error at render time.
//! `{{{{` renders a literal `{{`. Nothing else is special: the text is not HTML and
//! is never evaluated.
//!
//! A template is parsed once ([`Template::parse`]) so that a broken template is refused
//! when it is saved, with the byte offset of the problem, not when a message is due.

use std::collections::BTreeMap;

/// Why a template does not parse or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template: `{{{{` at byte {0} is not closed by `}}}}`")]
    Unclosed(usize),
    #[error("template: empty placeholder at byte {0}")]
    EmptyName(usize),
    #[error("template: placeholder {name:?} at byte {at} is not a variable name (letters, digits, `_`, `-`, dots)")]
    BadName { name: String, at: usize },
    #[error("template: unknown variable {name:?} (allowed: {allowed})")]
    UnknownVariable { name: String, allowed: String },
    #[error("template: variable {0:?} has no value")]
    Missing(String),
    #[error("template: {len} bytes is more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var { name: String, optional: bool },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Variable values for [`Template::render`], by dotted name.
pub type Vars = BTreeMap<String, String>;

impl Template {
    /// Parses `src`, refusing it when longer than `max_bytes`.
    pub fn parse(src: &str, max_bytes: usize) -> Result<Template, TemplateError> {
        if src.len() > max_bytes {
            return Err(TemplateError::TooLarge {
                len: src.len(),
                max: max_bytes,
            });
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = src;
        let mut offset = 0;
        while let Some(i) = rest.find("{{") {
            text.push_str(&rest[..i]);
            let at = offset + i;
            let after = &rest[i + 2..];
            if let Some(tail) = after.strip_prefix("{{") {
                text.push_str("{{");
                offset = at + 4;
                rest = tail;
                continue;
            }
            let end = after.find("}}").ok_or(TemplateError::Unclosed(at))?;
            let inner = after[..end].trim();
            let (name, optional) = match inner.strip_suffix('?') {
                Some(n) => (n.trim_end(), true),
                None => (inner, false),
            };
            if name.is_empty() {
                return Err(TemplateError::EmptyName(at));
            }
            let valid = name.split('.').all(|seg| {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            if !valid {
                return Err(TemplateError::BadName {
                    name: name.to_owned(),
                    at,
                });
            }
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Var {
                name: name.to_owned(),
                optional,
            });
            offset = at + 2 + end + 2;
            rest = &after[end + 2..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// Every variable the template names, in order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.parts {
            if let Part::Var { name, .. } = p {
                if !out.contains(&name.as_str()) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// Refuses a template naming a variable outside `allowed` (checked when a template
    /// is saved, so that a typo is reported then).
    pub fn check_allowed(&self, allowed: &[&str]) -> Result<(), TemplateError> {
        for v in self.variables() {
            if !allowed.contains(&v) {
                return Err(TemplateError::UnknownVariable {
                    name: v.to_owned(),
                    allowed: allowed.join(", "),
                });
            }
        }
        Ok(())
    }

    /// The text with every placeholder replaced; a required variable without a value
    /// is an error (nothing half-rendered is returned).
    pub fn render(&self, vars: &Vars) -> Result<String, TemplateError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var { name, optional } => match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None if *optional => {}
                    None => return Err(TemplateError::Missing(name.clone())),
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_variables_in_japanese_and_english() {
        let t = Template::parse(
            "{{customer.name}}様、ご注文 {{ order.id }} を発送しました。",
            1000,
        )
        .unwrap();
        assert_eq!(t.variables(), ["customer.name", "order.id"]);
        let out = t
            .render(&vars(&[("customer.name", "田中"), ("order.id", "A-17")]))
            .unwrap();
        assert_eq!(out, "田中様、ご注文 A-17 を発送しました。");
        let t = Template::parse("Hi {{name?}}! {{{{literal}}", 100).unwrap();
        assert_eq!(t.render(&Vars::new()).unwrap(), "Hi ! {{literal}}");
    }

    #[test]
    fn broken_templates_are_refused_with_the_offset() {
        assert_eq!(
            Template::parse("ab {{x", 100),
            Err(TemplateError::Unclosed(3))
        );
        assert_eq!(
            Template::parse("{{ }}", 100),
            Err(TemplateError::EmptyName(0))
        );
        assert!(matches!(
            Template::parse("x {{a b}}", 100),
            Err(TemplateError::BadName { at: 2, .. })
        ));
        assert!(matches!(
            Template::parse("{{a..b}}", 100),
            Err(TemplateError::BadName { .. })
        ));
        assert!(matches!(
            Template::parse(&"x".repeat(11), 10),
            Err(TemplateError::TooLarge { len: 11, max: 10 })
        ));
    }

    #[test]
    fn unknown_and_missing_variables_are_errors() {
        let t = Template::parse("{{order.id}} {{oops}}", 100).unwrap();
        assert!(matches!(
            t.check_allowed(&["order.id"]),
            Err(TemplateError::UnknownVariable { name, .. }) if name == "oops"
        ));
        assert_eq!(
            t.render(&vars(&[("order.id", "1")])),
            Err(TemplateError::Missing("oops".into()))
        );
    }
}
