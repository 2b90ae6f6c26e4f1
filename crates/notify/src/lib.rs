//! Proactive notifications, the pure part: settings, notification rules (event type →
//! templates per language, allowed variables, channel preference), the event request
//! and its variables, choosing a channel, and the durable documents (record kinds
//! [`RULE_KIND`], [`DUE_KIND`], [`NOTIFICATION_KIND`], [`UNSUBSCRIBE_KIND`]).
//!
//! No I/O here: the REST edge is `api/notify.rs`, the customer actor sends
//! (`actors/customer/notify.rs`), and the engine's notification scheduler sends scheduled
//! ones when the engine clock reaches their time.

use domain::template::{Template, TemplateError, Vars};
use domain::{Channel, CustomerId, Millis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_survey::Language;

/// Record kind of rules (key = event type).
pub const RULE_KIND: &str = "notify_rule";
/// Record kind of scheduled sends (key = [`due_key`]: zero-padded due ms, `:`, id, so
/// the kind in key order is the schedule in time order).
pub const DUE_KIND: &str = "notify_due";
/// Record kind of notifications (key = notification id).
pub const NOTIFICATION_KIND: &str = "notification";
/// Record kind of email unsubscribe tokens (key = token).
pub const UNSUBSCRIBE_KIND: &str = "unsubscribe";

/// Variables every template may use besides the rule's own.
pub const BUILTIN_VARS: &[&str] = &["customer.name", "customer.id", "unsubscribe_url"];

/// `[notify]`: proactive notifications (docs/engagement.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// The scheduler checks due notifications this often (real time), against the
    /// engine clock.
    pub tick_ms: u64,
    /// Most due notifications sent per tick (the rest wait for the next tick).
    pub due_per_tick: usize,
    /// Longest template, in bytes.
    pub max_template_bytes: usize,
    /// Most variables in one event's `data` (after flattening nested objects).
    pub max_variables: usize,
    /// Longest variable value, in bytes.
    pub max_value_bytes: usize,
    /// Latest accepted `send_at`, from now.
    pub max_schedule_ahead_ms: u64,
    /// Most rules.
    pub max_rules: usize,
    /// Language when the customer has none (`ja` or `en`).
    pub default_language: String,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            tick_ms: 1_000,
            due_per_tick: 100,
            max_template_bytes: 4_096,
            max_variables: 64,
            max_value_bytes: 1_024,
            max_schedule_ahead_ms: 366 * 24 * 3_600_000,
            max_rules: 1_000,
            default_language: "ja".into(),
        }
    }
}

impl NotifySettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.tick_ms == 0 || self.due_per_tick == 0 {
            return Err("notify.tick_ms and notify.due_per_tick must be > 0".into());
        }
        if self.max_template_bytes == 0 || self.max_variables == 0 || self.max_value_bytes == 0 {
            return Err("notify size limits must be > 0".into());
        }
        Language::parse(&self.default_language)
            .ok_or("notify.default_language must be ja or en")?;
        Ok(())
    }
}

/// Why an event or a rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("event type must be 1 to 64 of a-z, 0-9, `.`, `_`, `-`")]
    BadType,
    #[error("template {lang}: {source}")]
    Template {
        lang: &'static str,
        source: TemplateError,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Checks an event type name (`order.shipped`).
pub fn check_type(t: &str) -> Result<(), NotifyError> {
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    ok.then_some(()).ok_or(NotifyError::BadType)
}

/// A stored rule: how to tell a customer about one event type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Message text per language (`ja`, `en`).
    pub templates: BTreeMap<String, String>,
    /// Email subject per language (optional; default: the event type).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subjects: BTreeMap<String, String>,
    /// Variables the templates may use (besides [`BUILTIN_VARS`]).
    #[serde(default)]
    pub variables: Vec<String>,
    /// Channels in order of preference (the customer's preferred channel comes first).
    pub channels: Vec<Channel>,
    /// The approved WhatsApp template sent when the customer's 24-hour window is
    /// closed (inside it the text above goes out); required when `channels` names
    /// `whatsapp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_template: Option<RuleTemplate>,
    /// Grows with every save. A save that names a version must name the stored one
    /// (0: the rule does not exist yet), else it is refused as stale; one that names
    /// none replaces whatever is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// A provider template a rule sends: its name and language at the provider, and its
/// body parameters in order, each a template over the rule's variables
/// (`{{order_id}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTemplate {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub parameters: Vec<String>,
}

impl RuleTemplate {
    /// The template message with its parameters rendered from `vars`.
    pub fn render(
        &self,
        vars: &Vars,
        max_bytes: usize,
    ) -> Result<domain::TemplateMessage, TemplateError> {
        let parameters = self
            .parameters
            .iter()
            .map(|p| Template::parse(p, max_bytes).and_then(|t| t.render(vars)))
            .collect::<Result<_, _>>()?;
        Ok(domain::TemplateMessage {
            name: self.name.clone(),
            language: self.language.clone(),
            parameters,
        })
    }
}

impl Rule {
    /// Parses every template (a broken one is refused with its byte offset) and checks
    /// the channel list: the first problem of [`Rule::problems`].
    pub fn check(&self, max_bytes: usize) -> Result<(), NotifyError> {
        match self.problems(max_bytes).into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem of the rule, each with the field it is in (`templates`,
    /// `templates.ja`, `subjects.en`, `variables`, `channels`, `whatsapp_template`,
    /// `whatsapp_template.parameters`; the first per field), for a form that marks
    /// them all at once.
    pub fn problems(&self, max_bytes: usize) -> Vec<(String, NotifyError)> {
        let mut found: Vec<(String, NotifyError)> = Vec::new();
        let mut bad = |field: String, e: NotifyError| {
            if !found.iter().any(|(f, _)| *f == field) {
                found.push((field, e));
            }
        };
        if self.templates.is_empty() {
            bad(
                "templates".into(),
                NotifyError::Invalid("templates: at least one language (ja, en)".into()),
            );
        }
        if self.variables.len() > 256 {
            bad(
                "variables".into(),
                NotifyError::Invalid("more than 256 variables".into()),
            );
        }
        let mut allowed: Vec<&str> = BUILTIN_VARS.to_vec();
        allowed.extend(self.variables.iter().map(String::as_str));
        for (map, what) in [(&self.templates, "templates"), (&self.subjects, "subjects")] {
            for (lang, src) in map {
                let field = format!("{what}.{lang}");
                let Some(l) = Language::parse(lang).filter(|l| l.as_str() == lang) else {
                    bad(
                        field,
                        NotifyError::Invalid(format!("{what}: language {lang:?} is not ja or en")),
                    );
                    continue;
                };
                if let Err(source) =
                    Template::parse(src, max_bytes).and_then(|t| t.check_allowed(&allowed))
                {
                    bad(
                        field,
                        NotifyError::Template {
                            lang: l.as_str(),
                            source,
                        },
                    );
                }
            }
        }
        if self.channels.is_empty() {
            bad(
                "channels".into(),
                NotifyError::Invalid("channels: at least one".into()),
            );
        }
        match &self.whatsapp_template {
            None if self.channels.contains(&Channel::Whatsapp) => bad(
                "whatsapp_template".into(),
                NotifyError::Invalid(
                    "whatsapp_template: required with the whatsapp channel (outside the \
                     24-hour window WhatsApp takes only an approved template)"
                        .into(),
                ),
            ),
            None => {}
            Some(t) => {
                if t.name.trim().is_empty() || t.language.trim().is_empty() {
                    bad(
                        "whatsapp_template".into(),
                        NotifyError::Invalid(
                            "whatsapp_template: name and language are required".into(),
                        ),
                    );
                }
                if t.parameters.len() > domain::channel::MAX_TEMPLATE_PARAMETERS {
                    bad(
                        "whatsapp_template.parameters".into(),
                        NotifyError::Invalid(format!(
                            "whatsapp_template: at most {} parameters",
                            domain::channel::MAX_TEMPLATE_PARAMETERS
                        )),
                    );
                }
                for p in &t.parameters {
                    if let Err(source) =
                        Template::parse(p, max_bytes).and_then(|t| t.check_allowed(&allowed))
                    {
                        bad(
                            "whatsapp_template.parameters".into(),
                            NotifyError::Template {
                                lang: "whatsapp_template",
                                source,
                            },
                        );
                    }
                }
            }
        }
        if let Some(c) = self
            .channels
            .iter()
            .find(|c| !c.capabilities().notifications)
        {
            bad(
                "channels".into(),
                NotifyError::Invalid(format!(
                    "channels: {c} cannot carry a notification ({})",
                    domain::channels_where(|k| k.notifications)
                )),
            );
        }
        found
    }

    /// The template source in `lang`, else the other language's.
    pub fn template_for(&self, lang: Language) -> Option<(Language, &str)> {
        [lang, Language::Ja, Language::En]
            .into_iter()
            .find_map(|l| self.templates.get(l.as_str()).map(|t| (l, t.as_str())))
    }
}

/// Flattens the event's `data` object into template variables: nested objects become
/// dotted names (`{"order":{"id":"A1"}}` → `order.id`); strings, numbers and booleans
/// are values; arrays and nulls are refused.
pub fn flatten_data(
    data: &serde_json::Value,
    max_vars: usize,
    max_value: usize,
) -> Result<Vars, NotifyError> {
    fn walk(
        prefix: &str,
        v: &serde_json::Value,
        out: &mut Vars,
        max_vars: usize,
        max_value: usize,
        depth: usize,
    ) -> Result<(), NotifyError> {
        use serde_json::Value as V;
        let value = match v {
            V::Object(m) => {
                if depth > 4 {
                    return Err(NotifyError::Invalid("data: nested more than 4 deep".into()));
                }
                for (k, v) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, v, out, max_vars, max_value, depth + 1)?;
                }
                return Ok(());
            }
            V::String(s) => s.clone(),
            V::Number(n) => n.to_string(),
            V::Bool(b) => b.to_string(),
            V::Null | V::Array(_) => {
                return Err(NotifyError::Invalid(format!(
                    "data.{prefix}: only strings, numbers, booleans and objects"
                )))
            }
        };
        if value.len() > max_value {
            return Err(NotifyError::Invalid(format!(
                "data.{prefix}: longer than {max_value} bytes"
            )));
        }
        if out.len() >= max_vars {
            return Err(NotifyError::Invalid(format!(
                "data: more than {max_vars} values"
            )));
        }
        out.insert(prefix.to_owned(), value);
        Ok(())
    }
    let mut out = Vars::new();
    match data {
        serde_json::Value::Null => {}
        serde_json::Value::Object(_) => walk("", data, &mut out, max_vars, max_value, 0)?,
        _ => return Err(NotifyError::Invalid("data must be an object".into())),
    }
    Ok(out)
}

/// The channels to try for a customer, in order: the customer's preferred channel
/// (attribute `preferred_channel`) if the rule lists it, then the rule's order.
pub fn channel_order(rule: &Rule, preferred: Option<Channel>) -> Vec<Channel> {
    let mut out = Vec::new();
    if let Some(p) = preferred.filter(|p| rule.channels.contains(p)) {
        out.push(p);
    }
    for c in &rule.channels {
        if !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

/// The customer's preferred channel, from the `preferred_channel` attribute.
pub fn preferred_channel(c: &domain::Customer) -> Option<Channel> {
    c.attributes
        .get("preferred_channel")
        .and_then(|s| Channel::parse(s).ok())
}

/// State of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    Scheduled,
    Sent,
    Suppressed,
}

/// The durable notification document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub customer_id: CustomerId,
    pub status: NotificationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Why it was suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rendered text (once sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The `notification_sent` timeline event (its `message_status` tells delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<domain::EventId>,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Millis>,
}

/// What to send: everything a scheduled send needs at its time (stored in a
/// [`DUE_KIND`] record), or an immediate one hands the customer actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOrder {
    pub id: String,
    pub event_type: String,
    pub customer_id: CustomerId,
    pub vars: Vars,
    pub send_at: Option<Millis>,
    pub created_at: Millis,
}

/// The key of a scheduled send: due time zero-padded to 20 digits, so keys sort by time.
pub fn due_key(due: Millis, id: &str) -> String {
    format!("{:020}:{id}", due.0.max(0))
}

/// The due time of a [`due_key`].
pub fn due_of(key: &str) -> Option<Millis> {
    key.split_once(':')?.0.parse().ok().map(Millis)
}

/// The notification id for an idempotency key: the same key always names the same
/// notification (a SHA-256 of type and key, hex).
pub fn id_for_key(event_type: &str, key: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(event_type.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let d = h.finalize();
    format!(
        "n-{}",
        d[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Per-engine scheduler counters, observable over REST so tests (and operators) can
/// see that a tick ran after the clock moved.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Ticks completed.
    pub ticks: std::sync::atomic::AtomicU64,
    /// Engine-clock time the last completed tick looked at.
    pub last_tick_at: std::sync::atomic::AtomicI64,
    /// Scheduled notifications handed to customers so far.
    pub sent: std::sync::atomic::AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule() -> Rule {
        Rule {
            templates: [
                (
                    "ja".to_owned(),
                    "{{customer.name?}}様、ご注文{{order.id}}を発送しました。".to_owned(),
                ),
                (
                    "en".to_owned(),
                    "Order {{order.id}} has shipped.".to_owned(),
                ),
            ]
            .into(),
            subjects: BTreeMap::new(),
            variables: vec!["order.id".into()],
            channels: vec![Channel::Sms, Channel::Email],
            whatsapp_template: None,
            version: None,
        }
    }

    #[test]
    fn a_whatsapp_rule_names_a_template_over_its_variables() {
        let mut r = rule();
        r.channels.push(Channel::Whatsapp);
        assert!(
            matches!(r.check(1000), Err(NotifyError::Invalid(m)) if m.contains("whatsapp_template"))
        );
        r.whatsapp_template = Some(RuleTemplate {
            name: "order_update".into(),
            language: "ja".into(),
            parameters: vec!["{{customer.name}}".into(), "{{order.id}}".into()],
        });
        assert_eq!(r.check(1000), Ok(()));
        let mut vars = Vars::new();
        vars.insert("customer.name".into(), "山田".into());
        vars.insert("order.id".into(), "A-1".into());
        let msg = r
            .whatsapp_template
            .as_ref()
            .unwrap()
            .render(&vars, 1000)
            .unwrap();
        assert_eq!(msg.parameters, ["山田", "A-1"]);
        r.whatsapp_template.as_mut().unwrap().parameters[1] = "{{password}}".into();
        assert!(r.check(1000).is_err(), "only the rule's variables");
    }

    #[test]
    fn rules_are_checked_at_save_time() {
        assert_eq!(rule().check(1000), Ok(()));
        let mut r = rule();
        r.templates.insert("ja".into(), "ご注文 {{order.id".into());
        assert!(matches!(
            r.check(1000),
            Err(NotifyError::Template {
                lang: "ja",
                source: TemplateError::Unclosed(10)
            })
        ));
        let mut r = rule();
        r.templates.insert("en".into(), "{{oops}}".into());
        assert!(matches!(r.check(1000), Err(NotifyError::Template { .. })));
        let mut r = rule();
        r.templates.insert("fr".into(), "x".into());
        assert!(r.check(1000).is_err());
        let mut r = rule();
        r.channels = vec![Channel::Voice];
        assert!(r.check(1000).is_err());
        assert!(check_type("order.shipped").is_ok());
        assert!(check_type("Order Shipped").is_err());
        assert!(check_type("").is_err());
    }

    #[test]
    fn data_flattens_to_dotted_variables() {
        let v = flatten_data(&json!({"order": {"id": "A1", "n": 3}, "ok": true}), 10, 100).unwrap();
        assert_eq!(v.get("order.id").map(String::as_str), Some("A1"));
        assert_eq!(v.get("order.n").map(String::as_str), Some("3"));
        assert_eq!(v.get("ok").map(String::as_str), Some("true"));
        assert!(flatten_data(&json!({"a": [1]}), 10, 100).is_err());
        assert!(flatten_data(&json!({"a": "x".repeat(101)}), 10, 100).is_err());
        assert!(flatten_data(&json!({"a": 1, "b": 2}), 1, 100).is_err());
        assert!(flatten_data(&json!("x"), 10, 100).is_err());
    }

    #[test]
    fn preferred_channel_first_then_rule_order() {
        let r = rule();
        assert_eq!(
            channel_order(&r, Some(Channel::Email)),
            vec![Channel::Email, Channel::Sms]
        );
        assert_eq!(
            channel_order(&r, Some(Channel::Line)),
            vec![Channel::Sms, Channel::Email]
        );
        assert_eq!(channel_order(&r, None), vec![Channel::Sms, Channel::Email]);
    }

    #[test]
    fn due_keys_sort_by_time() {
        let a = due_key(Millis(9), "x");
        let b = due_key(Millis(10), "a");
        assert!(a < b);
        assert_eq!(due_of(&b), Some(Millis(10)));
        assert_eq!(id_for_key("t", "k"), id_for_key("t", "k"));
        assert_ne!(id_for_key("t", "k"), id_for_key("t", "k2"));
    }
}
