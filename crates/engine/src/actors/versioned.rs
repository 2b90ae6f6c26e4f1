//! Numbered versions of configuration edited live, claimed in the store's settings
//! table so that two saves over one version cannot both win, on any number of nodes.
//! [`Versioned`] is a whole document (`ivr_versions`, `survey_config`, the connector
//! settings): version `n` of document `doc` is setting `{doc}.version.{n}`, claimed
//! with [`crate::store::Store::setting_if_absent`] (a lightweight transaction on CQL);
//! `{doc}.head` is a hint of the newest, probed past at every read, so a crash between
//! the claim and the hint loses nothing. [`Claimed`] is a kind of record edited one by
//! one (canned responses, wrap-up codes, notification rules, stream subscribers).

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

/// Records of one kind (`store.records`) whose changes are claimed one version at a
/// time, so that two saves over the same version of a record — through two nodes —
/// cannot both win (canned responses, wrap-up codes, notification rules, stream
/// subscribers). Change `n` of record `id` is setting `{kind}/{id}@{n}`, claimed with
/// [`crate::store::Store::setting_if_absent`] and holding the record as written
/// (or its deletion); the claim chain is the authority and the record row a copy of
/// its newest link. A save that loses its claim writes the newest claimed change into
/// the row, so a writer that died between its claim and its row write holds nobody up
/// (the next save over the stale row loses, repairs it, and the editor reloads).
#[derive(Debug, Clone, Copy)]
pub struct Claimed(pub &'static str);

/// What a claim holds: the record's bytes, or its deletion.
fn link(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        Some(b) => [b"+".as_slice(), b].concat(),
        None => b"-".to_vec(),
    }
}

fn unlink(bytes: &[u8]) -> Option<Vec<u8>> {
    bytes.strip_prefix(b"+").map(<[u8]>::to_vec)
}

impl Claimed {
    fn key(&self, id: &str, n: u64) -> String {
        format!("{}/{id}@{n}", self.0)
    }

    async fn write_row(
        &self,
        store: &SharedStore,
        id: &str,
        value: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let w = match value {
            Some(v) => crate::store::RecordWrite::put(self.0, id, v),
            None => crate::store::RecordWrite::delete(self.0, id),
        };
        store
            .commit(crate::store::Batch {
                records: vec![w],
                ..Default::default()
            })
            .await
    }

    /// The newest claimed change of `id` at or past `from` (`from` and its claim, or
    /// `(0, None)` when nothing was ever claimed and `from` is 0).
    async fn newest(
        &self,
        store: &SharedStore,
        id: &str,
        from: u64,
        at_from: Option<Vec<u8>>,
    ) -> Result<(u64, Option<Vec<u8>>), StoreError> {
        let (mut n, mut latest) = (from, at_from);
        while let Some(next) = store.setting(&self.key(id, n + 1)).await? {
            n += 1;
            latest = Some(next);
        }
        Ok((n, latest))
    }

    /// Writes `value` (`None`: deletes the record) as change `from + 1` of record `id`
    /// unless another save claimed it: whether this one did. Losing, the row is rolled
    /// forward to the newest claimed change.
    pub async fn change(
        &self,
        store: &SharedStore,
        id: &str,
        from: u64,
        value: Option<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        let mine = link(value.as_deref());
        let kept = store
            .setting_if_absent(&self.key(id, from + 1), mine.clone())
            .await?;
        if kept == mine {
            self.write_row(store, id, value).await?;
            return Ok(true);
        }
        let (_, latest) = self.newest(store, id, from + 1, Some(kept)).await?;
        let latest = latest.expect("a claim was kept");
        self.write_row(store, id, unlink(&latest)).await?;
        Ok(false)
    }

    /// Creates record `id`, which has no row, as the change after the newest one
    /// claimed (an id deleted before goes on from its last version): `value` is given
    /// the version it is created at. `None` when the id is taken — by a save that
    /// claimed it (on another node, or one that died before its row write: the row is
    /// written now) or that won this very creation.
    pub async fn create(
        &self,
        store: &SharedStore,
        id: &str,
        value: impl Fn(u64) -> Vec<u8>,
    ) -> Result<Option<u64>, StoreError> {
        let (n, latest) = self.newest(store, id, 0, None).await?;
        if let Some(live) = latest.as_deref().and_then(unlink) {
            self.write_row(store, id, Some(live)).await?;
            return Ok(None);
        }
        Ok(self
            .change(store, id, n, Some(value(n + 1)))
            .await?
            .then_some(n + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn one_save_per_version_and_a_lost_claim_repairs_the_row() {
        let dir =
            std::env::temp_dir().join(format!("switchboard-claimed-{}", uuid::Uuid::new_v4()));
        let store: SharedStore = Arc::new(EmbeddedStore::open(&dir, Default::default()).unwrap());
        let c = Claimed("thing");
        let row = |s: &SharedStore| {
            let s = s.clone();
            async move { s.record("thing", "a").await.unwrap() }
        };
        assert_eq!(
            c.create(&store, "a", |v| format!("a{v}").into())
                .await
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            c.create(&store, "a", |v| format!("a{v}").into())
                .await
                .unwrap(),
            None,
            "taken"
        );
        assert!(c
            .change(&store, "a", 1, Some(b"a2".to_vec()))
            .await
            .unwrap());
        assert!(
            !c.change(&store, "a", 1, Some(b"other".to_vec()))
                .await
                .unwrap(),
            "version 2 is taken"
        );
        assert_eq!(row(&store).await.as_deref(), Some(b"a2".as_slice()));

        // A writer that claimed version 3 and died before its row write.
        store
            .setting_if_absent("thing/a@3", link(Some(b"a3")))
            .await
            .unwrap();
        assert_eq!(
            row(&store).await.as_deref(),
            Some(b"a2".as_slice()),
            "the row is stale"
        );
        assert!(!c
            .change(&store, "a", 2, Some(b"late".to_vec()))
            .await
            .unwrap());
        assert_eq!(
            row(&store).await.as_deref(),
            Some(b"a3".as_slice()),
            "rolled forward"
        );

        // Deleted, then created again: its versions go on.
        assert!(c.change(&store, "a", 3, None).await.unwrap());
        assert_eq!(row(&store).await, None);
        assert_eq!(
            c.create(&store, "a", |v| format!("a{v}").into())
                .await
                .unwrap(),
            Some(5)
        );
        assert_eq!(row(&store).await.as_deref(), Some(b"a5".as_slice()));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
