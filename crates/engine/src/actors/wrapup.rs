//! Wrap-up (disposition) codes: the managed list an agent picks from when resolving a
//! conversation, and the check at resolve for queues that require one
//! (`QueueConfig::wrapup_required`). Codes live in the store's records table (kind
//! [`KIND`], keyed by code); every node keeps the list in memory, re-read when a
//! member changes it (`actors::mail::ConfigChanged`) and at start. Changes carry the
//! version they replace. See docs/admin.md "Wrap-up codes".

use crate::actors::Engine;
use crate::domain::{EngineError, QueueName};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Records kind of the codes.
pub const KIND: &str = "wrapup_code";
/// Longest label, bytes.
pub const MAX_LABEL_BYTES: usize = 100;

/// One code of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapupCode {
    /// 1-40 of `[a-z0-9_-]`: what the disposition records and reports group by.
    pub code: String,
    /// What the agent sees, in both client languages.
    pub label: Label,
    /// The queues it applies to; empty: every queue.
    #[serde(default)]
    pub queues: Vec<QueueName>,
    /// A retired code stays in old conversations but is no longer offered.
    #[serde(default = "yes")]
    pub active: bool,
    /// Grows with every change; an update names the version it replaces.
    #[serde(default)]
    pub version: u64,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub ja: String,
    pub en: String,
}

impl WrapupCode {
    /// Whether an agent of `queue` is offered it.
    pub fn applies_to(&self, queue: &QueueName) -> bool {
        self.active && (self.queues.is_empty() || self.queues.contains(queue))
    }

    /// Every wrong field, by name (empty: the code is valid).
    pub fn field_errors(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        if !valid_code(&self.code) {
            out.insert("code", "must be 1-40 of a-z, 0-9, _ and -".into());
        }
        for (field, text) in [("label.ja", &self.label.ja), ("label.en", &self.label.en)] {
            if text.trim().is_empty() {
                out.insert(field, "is required".into());
            } else if text.len() > MAX_LABEL_BYTES {
                out.insert(field, format!("must be at most {MAX_LABEL_BYTES} bytes"));
            }
        }
        out
    }
}

pub fn valid_code(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The code a disposition starts with: `billing_fixed: called back on Monday` records
/// code `billing_fixed` and the agent's details.
pub fn code_of(disposition: &str) -> &str {
    disposition.split(':').next().unwrap_or("").trim()
}

/// Whether `disposition` may resolve a conversation of `queue`: when the queue requires
/// a code, it must start with one of `codes` that applies to the queue.
pub fn check(
    codes: &[WrapupCode],
    queue: &QueueName,
    required: bool,
    disposition: Option<&str>,
) -> Result<(), EngineError> {
    if !required {
        return Ok(());
    }
    let offered: Vec<&str> = codes
        .iter()
        .filter(|c| c.applies_to(queue))
        .map(|c| c.code.as_str())
        .collect();
    let given = disposition.map(code_of).unwrap_or("");
    if offered.contains(&given) {
        return Ok(());
    }
    let what = if given.is_empty() {
        "no wrap-up code was given".to_owned()
    } else {
        format!("{given:?} is not a wrap-up code of this queue")
    };
    Err(EngineError::invalid(format!(
        "queue {queue} requires a wrap-up code at resolve: {what} (one of: {})",
        if offered.is_empty() {
            "none is defined".to_owned()
        } else {
            offered.join(", ")
        }
    )))
}

/// The engine's copy of the list.
#[derive(Default)]
pub struct WrapupCell {
    codes: RwLock<Arc<Vec<WrapupCode>>>,
    saving: tokio::sync::Mutex<()>,
}

/// Why a change was refused.
#[derive(Debug)]
pub enum ChangeError {
    Fields(BTreeMap<&'static str, String>),
    /// The version named is not the stored one.
    Conflict {
        current: u64,
    },
    /// The list is full (`limits.max_wrapup_codes`).
    Full {
        max: usize,
    },
    NotFound,
    Store(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        ChangeError::Store(e)
    }
}

impl Engine {
    /// Every code, by code.
    pub fn wrapup_codes(&self) -> Arc<Vec<WrapupCode>> {
        self.wrapup_cell.codes.read().expect("wrapup cell").clone()
    }

    /// Whether `disposition` may resolve a conversation of `queue` (see [`check`]).
    pub fn wrapup_check(
        &self,
        queue: &QueueName,
        disposition: Option<&str>,
    ) -> Result<(), EngineError> {
        let required = self.queue_config(queue).is_some_and(|q| q.wrapup_required);
        check(&self.wrapup_codes(), queue, required, disposition)
    }

    /// Reads the list from the store (at start, and when another member changed it).
    pub async fn wrapup_reload(&self) -> Result<(), StoreError> {
        let max = self.settings.limits.max_wrapup_codes;
        let rows = self.store.records(KIND, None, max + 1).await?;
        let codes: Vec<WrapupCode> = rows
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        *self.wrapup_cell.codes.write().expect("wrapup cell") = Arc::new(codes);
        Ok(())
    }

    /// Creates `code` (version 0 expected) or replaces version `code.version`; answers
    /// it as stored, with its new version.
    pub async fn wrapup_put(&self, mut code: WrapupCode) -> Result<WrapupCode, ChangeError> {
        let fields = code.field_errors();
        if !fields.is_empty() {
            return Err(ChangeError::Fields(fields));
        }
        code.queues.sort();
        code.queues.dedup();
        let mut unknown = code.queues.iter().filter(|q| !self.queue_exists(q));
        if let Some(q) = unknown.next() {
            let mut f = BTreeMap::new();
            f.insert("queues", format!("no queue named {q}"));
            return Err(ChangeError::Fields(f));
        }
        let _one_at_a_time = self.wrapup_cell.saving.lock().await;
        self.wrapup_reload().await?;
        let current = self.wrapup_codes();
        let stored = current.iter().find(|c| c.code == code.code);
        let stored_version = stored.map_or(0, |c| c.version);
        if code.version != stored_version {
            return Err(ChangeError::Conflict {
                current: stored_version,
            });
        }
        let max = self.settings.limits.max_wrapup_codes;
        if stored.is_none() && current.len() >= max {
            return Err(ChangeError::Full { max });
        }
        let codes = super::versioned::Claimed(KIND);
        let serialised = |c: &WrapupCode| serde_json::to_vec(c).expect("a code serialises");
        let won = match stored {
            None => codes
                .create(&self.store, &code.code.clone(), |v| {
                    serialised(&WrapupCode {
                        version: v,
                        ..code.clone()
                    })
                })
                .await?
                .map(|v| code.version = v),
            Some(_) => {
                code.version = stored_version + 1;
                codes
                    .change(
                        &self.store,
                        &code.code,
                        stored_version,
                        Some(serialised(&code)),
                    )
                    .await?
                    .then_some(())
            }
        };
        self.wrapup_changed().await?;
        if won.is_none() {
            let current = self
                .wrapup_codes()
                .iter()
                .find(|c| c.code == code.code)
                .map_or(0, |c| c.version);
            return Err(ChangeError::Conflict { current });
        }
        Ok(code)
    }

    /// Removes `code` (conversations keep the disposition they were resolved with).
    pub async fn wrapup_delete(&self, code: &str) -> Result<WrapupCode, ChangeError> {
        let _one_at_a_time = self.wrapup_cell.saving.lock().await;
        self.wrapup_reload().await?;
        let gone = self
            .wrapup_codes()
            .iter()
            .find(|c| c.code == code)
            .cloned()
            .ok_or(ChangeError::NotFound)?;
        let won = super::versioned::Claimed(KIND)
            .change(&self.store, code, gone.version, None)
            .await?;
        self.wrapup_changed().await?;
        if !won {
            let current = self
                .wrapup_codes()
                .iter()
                .find(|c| c.code == code)
                .map_or(0, |c| c.version);
            return Err(ChangeError::Conflict { current });
        }
        Ok(gone)
    }

    /// Re-reads the list after a change and tells the other members.
    async fn wrapup_changed(&self) -> Result<(), StoreError> {
        self.wrapup_reload().await?;
        self.broadcast(super::mail::ConfigChanged {
            what: super::mail::Config::Wrapup,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str, queues: &[&str], active: bool) -> WrapupCode {
        WrapupCode {
            code: c.into(),
            label: Label {
                ja: c.into(),
                en: c.into(),
            },
            queues: queues
                .iter()
                .map(|q| QueueName::parse(q).unwrap())
                .collect(),
            active,
            version: 1,
        }
    }

    #[test]
    fn a_required_code_must_be_one_offered_to_the_queue() {
        let billing = QueueName::parse("billing").unwrap();
        let codes = [
            code("paid", &["billing"], true),
            code("refund", &[], true),
            code("sales_only", &["sales"], true),
            code("retired", &[], false),
        ];
        assert!(check(&codes, &billing, false, None).is_ok(), "not required");
        assert!(check(&codes, &billing, false, Some("anything")).is_ok());
        assert!(check(&codes, &billing, true, Some("paid")).is_ok());
        assert!(check(&codes, &billing, true, Some("refund: sent on Monday")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("sales_only"),
            Some("retired"),
            Some("nope"),
        ] {
            let e = check(&codes, &billing, true, bad).unwrap_err();
            assert!(e.to_string().contains("paid, refund"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let mut c = code("Bad Code", &[], true);
        c.label.en = " ".into();
        c.label.ja = "x".repeat(MAX_LABEL_BYTES + 1);
        let f = c.field_errors();
        assert_eq!(
            f.keys().copied().collect::<Vec<_>>(),
            ["code", "label.en", "label.ja"]
        );
        assert!(code("paid_in-full_2", &[], true).field_errors().is_empty());
    }
}
