//! Queued callbacks, the model: settings, the durable record (store kind
//! [`KIND`], keyed by conversation id) and what an attempt's outcome leads to. Pure;
//! the customer actor (`actors::customer::callback`) applies it.

use domain::{ConversationId, CustomerId, Millis, QueueName};
use serde::{Deserialize, Serialize};

/// Store record kind of a pending callback (deleted once reached or failed).
pub const KIND: &str = "callback";

/// `[callbacks]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackSettings {
    /// Wait before a callback that got no answer (or a busy line) is offered again.
    pub retry_delay_ms: u64,
    /// Attempts before the callback is given up (resolved `callback_failed`).
    pub max_attempts: u32,
    /// Longest note a customer may leave, in bytes.
    pub max_note_bytes: usize,
    /// How often due retries are looked for.
    pub sweep_ms: u64,
    /// Most pending callbacks read per sweep page.
    pub sweep_page: usize,
    /// Country calling codes (`81`, `1`) a callback number may be in; empty: any.
    /// Agents dial these numbers, so an operator serving one country lists it.
    pub allowed_country_codes: Vec<String>,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            retry_delay_ms: 300_000,
            max_attempts: 3,
            max_note_bytes: 500,
            sweep_ms: 1_000,
            sweep_page: 500,
            allowed_country_codes: Vec::new(),
        }
    }
}

impl CallbackSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return Err("callbacks.max_attempts must be 1 to 20".into());
        }
        if self.sweep_ms == 0 || self.sweep_page == 0 {
            return Err("callbacks.sweep_ms and callbacks.sweep_page must be positive".into());
        }
        if self.max_note_bytes > 4096 {
            return Err("callbacks.max_note_bytes must be at most 4096".into());
        }
        if let Some(c) = self.allowed_country_codes.iter().find(|c| {
            c.is_empty()
                || c.len() > 3
                || c.starts_with('0')
                || !c.bytes().all(|b| b.is_ascii_digit())
        }) {
            return Err(format!(
                "callbacks.allowed_country_codes: {c:?} is not a country calling code (1 to 3 digits)"
            ));
        }
        Ok(())
    }

    /// Whether an E.164 number (`+81…`) is in an allowed country. Calling codes are
    /// prefix-free, so a prefix match is exact.
    pub fn phone_allowed(&self, e164: &str) -> bool {
        self.allowed_country_codes.is_empty()
            || self.allowed_country_codes.iter().any(|c| {
                e164.strip_prefix('+')
                    .is_some_and(|digits| digits.starts_with(c.as_str()))
            })
    }
}

/// Where a callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// In its queue (at its original place) until an agent takes it.
    Waiting,
    /// The last attempt got no answer; offered again at `due_at`.
    RetryWait,
}

/// A pending callback, durable (survives a restart with its attempt count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    /// E.164, normalised.
    pub phone: String,
    pub queue: QueueName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Menus the customer went through (voice or visual IVR), root first.
    #[serde(default)]
    pub ivr_path: Vec<String>,
    /// `voice_ivr`, `visual_ivr`, `chat`, `rest`.
    pub source: String,
    pub requested_at: Millis,
    pub attempts: u32,
    pub state: CallbackState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Millis>,
}

impl CallbackRecord {
    pub fn key(&self) -> String {
        self.conversation_id.to_string()
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    pub fn from_bytes(b: &[u8]) -> Option<CallbackRecord> {
        serde_json::from_slice(b).ok()
    }
}

/// What the agent reports after dialling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Reached,
    NoAnswer,
    Busy,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reached => "reached",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
        }
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// Reached: an ordinary voice conversation with the agent from here on.
    Connected,
    /// Offered again at `retry_at`.
    Retry,
    /// No attempts left: resolved as `callback_failed`.
    Failed,
}

impl Next {
    pub fn as_str(self) -> &'static str {
        match self {
            Next::Connected => "connected",
            Next::Retry => "retry",
            Next::Failed => "failed",
        }
    }
}

/// The decision for attempt number `attempt` (1-based) ending with `outcome`.
pub fn decide(outcome: Outcome, attempt: u32, s: &CallbackSettings) -> Next {
    match outcome {
        Outcome::Reached => Next::Connected,
        _ if attempt >= s.max_attempts => Next::Failed,
        _ => Next::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_until_the_last_attempt() {
        let s = CallbackSettings {
            max_attempts: 2,
            ..Default::default()
        };
        assert_eq!(decide(Outcome::NoAnswer, 1, &s), Next::Retry);
        assert_eq!(decide(Outcome::Busy, 2, &s), Next::Failed);
        assert_eq!(decide(Outcome::Reached, 2, &s), Next::Connected);
        assert!(CallbackSettings {
            max_attempts: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
        CallbackSettings::default().validate().unwrap();
        let jp = CallbackSettings {
            allowed_country_codes: vec!["81".into()],
            ..Default::default()
        };
        jp.validate().unwrap();
        assert!(jp.phone_allowed("+81312345678"));
        assert!(!jp.phone_allowed("+1555123456"));
        assert!(CallbackSettings::default().phone_allowed("+1555123456"));
        for bad in ["", "+81", "0", "1234", "8a"] {
            let s = CallbackSettings {
                allowed_country_codes: vec![bad.into()],
                ..Default::default()
            };
            assert!(s.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn record_round_trips() {
        let r = CallbackRecord {
            conversation_id: ConversationId::new(),
            customer_id: CustomerId::new(),
            phone: "+819012345678".into(),
            queue: QueueName::parse("orders").unwrap(),
            note: Some("夕方希望".into()),
            ivr_path: vec!["main".into()],
            source: "rest".into(),
            requested_at: Millis(5),
            attempts: 1,
            state: CallbackState::RetryWait,
            due_at: Some(Millis(10)),
        };
        assert_eq!(CallbackRecord::from_bytes(&r.to_bytes()), Some(r));
    }
}
