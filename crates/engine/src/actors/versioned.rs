//! Numbered versions of a configuration document in the store's settings table, for
//! configuration edited live (`ivr_versions`, `survey_config`): version `n` of
//! document `doc` is setting `{doc}.version.{n}`, claimed with
//! [`crate::store::Store::setting_if_absent`] (a lightweight transaction on CQL), so
//! two saves over the same version — on two nodes — cannot both win; `{doc}.head` is a
//! hint of the newest, probed past at every read, so a crash between the claim and the
//! hint loses nothing.

use crate::store::{SharedStore, StoreError};
use serde::{de::DeserializeOwned, Serialize};

/// One versioned document's keys.
#[derive(Debug, Clone, Copy)]
pub struct Versioned(pub &'static str);

impl Versioned {
    fn version_key(&self, n: u64) -> String {
        format!("{}.version.{n}", self.0)
    }

    fn head_key(&self) -> String {
        format!("{}.head", self.0)
    }

    /// The newest stored version number (0 when none was stored past version 0).
    pub async fn head(&self, store: &SharedStore) -> Result<u64, StoreError> {
        let mut head = match store.setting(&self.head_key()).await? {
            Some(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            None => 0,
        };
        while store.setting(&self.version_key(head + 1)).await?.is_some() {
            head += 1;
        }
        Ok(head)
    }

    /// Version `n`, if stored.
    pub async fn get<T: DeserializeOwned>(
        &self,
        store: &SharedStore,
        n: u64,
    ) -> Result<Option<T>, StoreError> {
        match store.setting(&self.version_key(n)).await? {
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{} version {n}: {e}", self.0))),
            None => Ok(None),
        }
    }

    /// Stores `value` as version `n` unless another is there: whether it is ours.
    pub async fn claim<T: Serialize>(
        &self,
        store: &SharedStore,
        n: u64,
        value: &T,
    ) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec(value).expect("a version serialises");
        let kept = store
            .setting_if_absent(&self.version_key(n), bytes.clone())
            .await?;
        Ok(kept == bytes)
    }

    /// The head hint's write, for the batch that follows a claim.
    pub fn head_write(&self, n: u64) -> (String, Vec<u8>) {
        (self.head_key(), n.to_string().into_bytes())
    }
}
