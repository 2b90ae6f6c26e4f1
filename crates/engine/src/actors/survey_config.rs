//! The CSAT survey settings in force (`[survey]`: on or off, the answer window, the
//! longest comment, the default language), edited live from the admin console: each
//! save is a numbered version ([`super::versioned`], document `survey`) and the newest
//! is in force on every node — re-read when a member saves one
//! ([`super::mail::ConfigChanged`]) and at start. Version 0 is the configuration
//! file's. See docs/engagement.md "Survey settings in the console".

use super::Engine;
use crate::domain::Millis;
use crate::store::{Batch, StoreError};
use crate::survey::SurveySettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

const DOC: super::versioned::Versioned = super::versioned::Versioned("survey");

/// The settings in force and where they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyConfig {
    pub settings: SurveySettings,
    /// 0: the configuration file's.
    pub version: u64,
    /// Who saved it (`config` for version 0).
    pub saved_by: String,
    pub saved_at: Millis,
}

/// The engine's copy, and the lock that orders this node's saves.
pub struct SurveyCell {
    current: RwLock<Arc<SurveyConfig>>,
    saving: tokio::sync::Mutex<()>,
}

impl SurveyCell {
    pub fn new(configured: SurveySettings) -> Self {
        Self {
            current: RwLock::new(Arc::new(SurveyConfig {
                settings: configured,
                version: 0,
                saved_by: "config".into(),
                saved_at: Millis(0),
            })),
            saving: tokio::sync::Mutex::new(()),
        }
    }
}

/// Why a save was refused.
#[derive(Debug)]
pub enum SurveySaveError {
    Fields(BTreeMap<&'static str, String>),
    /// The version edited is not the newest (`current` is).
    Conflict {
        current: u64,
    },
    Store(StoreError),
}

impl From<StoreError> for SurveySaveError {
    fn from(e: StoreError) -> Self {
        SurveySaveError::Store(e)
    }
}

impl Engine {
    /// The survey settings in force.
    pub fn survey(&self) -> SurveySettings {
        self.survey_config().settings.clone()
    }

    /// The survey settings in force, with their version.
    pub fn survey_config(&self) -> Arc<SurveyConfig> {
        self.survey_cell
            .current
            .read()
            .expect("survey cell")
            .clone()
    }

    fn set_survey(&self, c: SurveyConfig) {
        let mut cur = self.survey_cell.current.write().expect("survey cell");
        if cur.version <= c.version {
            *cur = Arc::new(c);
        }
    }

    /// Reads the newest saved version and puts it in force here.
    pub async fn survey_reload(&self) -> Result<(), StoreError> {
        let head = DOC.head(&self.store).await?;
        if head > 0 {
            if let Some(c) = DOC.get::<SurveyConfig>(&self.store, head).await? {
                self.set_survey(c);
            }
        }
        Ok(())
    }

    /// Saves `settings` as the version after `edited`, which must be the newest, and
    /// puts it in force on every member.
    pub async fn survey_save(
        &self,
        edited: u64,
        settings: SurveySettings,
        by: &str,
    ) -> Result<SurveyConfig, SurveySaveError> {
        let fields = settings.field_errors();
        if !fields.is_empty() {
            return Err(SurveySaveError::Fields(fields));
        }
        let _one_at_a_time = self.survey_cell.saving.lock().await;
        let head = DOC.head(&self.store).await?;
        if edited != head {
            return Err(SurveySaveError::Conflict { current: head });
        }
        let c = SurveyConfig {
            settings,
            version: head + 1,
            saved_by: by.to_owned(),
            saved_at: self.now(),
        };
        if !DOC.claim(&self.store, c.version, &c).await? {
            return Err(SurveySaveError::Conflict { current: c.version });
        }
        self.store
            .commit(Batch {
                settings: vec![DOC.head_write(c.version)],
                ..Default::default()
            })
            .await?;
        self.set_survey(c.clone());
        self.broadcast(super::mail::ConfigChanged {
            what: super::mail::Config::Survey,
        });
        Ok(c)
    }
}
