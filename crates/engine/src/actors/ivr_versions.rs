//! The IVR tree in force, edited live: every save is a new numbered version kept in the
//! store, the highest one is in force on every node, and a rollback saves an old
//! version's tree again as the newest (history only grows). Version 0 is the tree of
//! the configuration file (`[ivr]`), in force until the first save.
//!
//! Layout in the store:
//! - settings `ivr.version.{n}` and `ivr.head` ([`super::versioned`]): version `n` in
//!   full ([`IvrVersion`]), claimed so that two admins saving over the same version on
//!   two nodes cannot both win (the second gets [`SaveError::Conflict`]);
//! - records of kind [`SUMMARY_KIND`]: one small [`VersionSummary`] per version, keyed
//!   so that ascending key order is newest first (the console's list).
//!
//! A save takes effect here at once and is broadcast to the other members
//! (`actors::mail::ConfigChanged`), which re-read the head; a member that was down
//! reads it at start. See docs/ivr.md "Editing the tree live".

use crate::actors::Engine;
use crate::domain::{Millis, QueueName, SkillFloors};
use crate::ivr::{Action, Tree, TreeError};
use crate::store::{Batch, RecordWrite, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

/// Records kind of the versions' summaries (newest first by key).
pub const SUMMARY_KIND: &str = "ivr_version";
const DOC: super::versioned::Versioned = super::versioned::Versioned("ivr");
/// Longest note a save may carry, bytes.
pub const MAX_NOTE_BYTES: usize = 500;

/// Ascending order of these keys is descending version order.
fn summary_key(n: u64) -> String {
    format!("{:020}", u64::MAX - n)
}

/// One saved version of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvrVersion {
    pub version: u64,
    /// When it was saved (0 for the configuration file's version 0).
    pub saved_at: Millis,
    /// The staff member who saved it (`config` for version 0).
    pub saved_by: String,
    pub note: String,
    /// The version whose tree a rollback saved again.
    pub restored_from: Option<u64>,
    pub tree: Tree,
}

/// A version without its tree, as the console lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: u64,
    pub saved_at: Millis,
    pub saved_by: String,
    pub note: String,
    pub restored_from: Option<u64>,
}

impl IvrVersion {
    pub fn summary(&self) -> VersionSummary {
        VersionSummary {
            version: self.version,
            saved_at: self.saved_at,
            saved_by: self.saved_by.clone(),
            note: self.note.clone(),
            restored_from: self.restored_from,
        }
    }
}

/// The tree in force and what the doors derive from it.
#[derive(Debug)]
pub struct ActiveIvr {
    pub version: u64,
    pub tree: Tree,
    /// Queues a chat option opens (a visitor may start a chat there), with the skills
    /// that option needs of the agent.
    pub chat_queues: BTreeMap<QueueName, SkillFloors>,
    /// Queues a callback option names: the only ones a visitor may ask a callback of.
    pub callback_queues: BTreeSet<QueueName>,
}

impl ActiveIvr {
    pub fn new(version: u64, tree: Tree) -> Self {
        let options = || tree.menus.iter().flat_map(|m| &m.options);
        let chat_queues = options()
            .filter_map(|o| match &o.action {
                Action::Chat(q) => Some((q.clone(), o.skills.clone())),
                _ => None,
            })
            .collect();
        let callback_queues = options()
            .filter_map(|o| match &o.action {
                Action::Callback(q) => q.clone(),
                _ => None,
            })
            .collect();
        Self {
            version,
            tree,
            chat_queues,
            callback_queues,
        }
    }
}

/// The engine's copy of the tree in force, and the lock that orders this node's saves.
pub struct IvrCell {
    active: RwLock<Option<Arc<ActiveIvr>>>,
    saving: tokio::sync::Mutex<()>,
}

impl IvrCell {
    /// Starts with the configuration file's tree as version 0.
    pub fn new(configured: Option<Tree>) -> Self {
        Self {
            active: RwLock::new(configured.map(|t| Arc::new(ActiveIvr::new(0, t)))),
            saving: tokio::sync::Mutex::new(()),
        }
    }
}

/// Why a save was refused.
#[derive(Debug)]
pub enum SaveError {
    /// The tree is wrong: every problem, each at its field.
    Invalid(Vec<TreeError>),
    /// The version edited is not the newest any more (`current` is).
    Conflict {
        current: u64,
    },
    Store(StoreError),
}

impl From<StoreError> for SaveError {
    fn from(e: StoreError) -> Self {
        SaveError::Store(e)
    }
}

impl Engine {
    /// The tree in force, if any.
    pub fn ivr(&self) -> Option<Arc<ActiveIvr>> {
        self.ivr_cell.active.read().expect("ivr cell").clone()
    }

    fn set_ivr(&self, v: &IvrVersion) {
        let mut active = self.ivr_cell.active.write().expect("ivr cell");
        // A late reload never takes a newer version back.
        if active.as_ref().is_none_or(|a| a.version <= v.version) {
            *active = Some(Arc::new(ActiveIvr::new(v.version, v.tree.clone())));
        }
    }

    /// Version `n` (0: the configuration file's tree unless a save stored it), if any.
    pub async fn ivr_version(&self, n: u64) -> Result<Option<IvrVersion>, StoreError> {
        if let Some(v) = DOC.get(&self.store, n).await? {
            return Ok(Some(v));
        }
        Ok((n == 0).then(|| self.configured_ivr()).flatten())
    }

    fn configured_ivr(&self) -> Option<IvrVersion> {
        self.settings.ivr_configured.clone().map(|tree| IvrVersion {
            version: 0,
            saved_at: Millis(0),
            saved_by: "config".into(),
            note: String::new(),
            restored_from: None,
            tree,
        })
    }

    /// Reads the newest version from the store and puts it in force here (at start,
    /// and when another member saved one).
    pub async fn ivr_reload(&self) -> Result<(), StoreError> {
        let head = DOC.head(&self.store).await?;
        if let Some(v) = self.ivr_version(head).await? {
            self.set_ivr(&v);
        }
        Ok(())
    }

    /// The newest `limit` versions, newest first, and the number of the one in force
    /// (`None`: no tree at all).
    pub async fn ivr_versions(
        &self,
        limit: usize,
    ) -> Result<(Option<u64>, Vec<VersionSummary>), StoreError> {
        let rows = self.store.records(SUMMARY_KIND, None, limit).await?;
        let mut out: Vec<VersionSummary> = rows
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        if out.len() < limit && !out.iter().any(|s| s.version == 0) {
            if let Some(v0) = self.configured_ivr() {
                out.push(v0.summary());
            }
        }
        Ok((self.ivr().map(|a| a.version), out))
    }

    /// Checks `tree` against the `[ivr]` limits and the queues that exist: every
    /// problem, each at its field (empty: the tree may be saved).
    pub fn ivr_check(&self, tree: &Tree) -> Vec<TreeError> {
        let mut found = tree.check_all(&self.settings.ivr);
        for (i, m) in tree.menus.iter().enumerate() {
            for (j, o) in m.options.iter().enumerate() {
                let q = match &o.action {
                    Action::Queue(q) | Action::Chat(q) | Action::Callback(Some(q)) => q,
                    _ => continue,
                };
                let path = format!("menus[{i}].options[{j}].action");
                if !self.queue_exists(q) && !found.iter().any(|e| e.path == path) {
                    found.push(TreeError {
                        path,
                        message: format!("no queue named {q}"),
                    });
                }
            }
        }
        found
    }

    /// Saves `tree` as the version after `edited`, which must be the newest, and puts
    /// it in force on every member. `restored_from` marks a rollback.
    pub async fn ivr_save(
        &self,
        edited: u64,
        tree: Tree,
        by: &str,
        note: String,
        restored_from: Option<u64>,
    ) -> Result<IvrVersion, SaveError> {
        let problems = self.ivr_check(&tree);
        if !problems.is_empty() {
            return Err(SaveError::Invalid(problems));
        }
        let _one_at_a_time = self.ivr_cell.saving.lock().await;
        let head = DOC.head(&self.store).await?;
        if edited != head {
            return Err(SaveError::Conflict { current: head });
        }
        // Version 0 enters the store with the first save, so that history no longer
        // changes with the configuration file.
        let mut records = Vec::new();
        if head == 0 {
            if let Some(v0) = self.configured_ivr() {
                DOC.claim(&self.store, 0, &v0).await?;
                records.push(summary_record(&v0));
            }
        }
        let v = IvrVersion {
            version: head + 1,
            saved_at: self.now(),
            saved_by: by.to_owned(),
            note,
            restored_from,
            tree,
        };
        if !DOC.claim(&self.store, v.version, &v).await? {
            return Err(SaveError::Conflict { current: v.version });
        }
        records.push(summary_record(&v));
        self.store
            .commit(Batch {
                settings: vec![DOC.head_write(v.version)],
                records,
                ..Default::default()
            })
            .await?;
        self.set_ivr(&v);
        self.broadcast(super::mail::ConfigChanged {
            what: super::mail::Config::Ivr,
        });
        Ok(v)
    }
}

fn summary_record(v: &IvrVersion) -> RecordWrite {
    RecordWrite::put(
        SUMMARY_KIND,
        summary_key(v.version),
        serde_json::to_vec(&v.summary()).expect("a summary serialises"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keys_sort_newest_first() {
        let mut keys: Vec<String> = [0, 1, 9, 10, 100, 12345].map(summary_key).to_vec();
        keys.sort();
        assert_eq!(
            keys,
            [12345, 100, 10, 9, 1, 0].map(summary_key).to_vec(),
            "ascending key order is descending version order"
        );
    }
}
