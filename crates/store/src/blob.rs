//! Files that travel with messages (attachments): the [`BlobStore`] seam, its default
//! implementation in the store's own tables ([`ChunkedBlobs`], chunked rows in both
//! backends), and the rows it writes ([`BlobMeta`], [`BlobPut`]).
//!
//! A blob belongs to one customer (`owner`) and is named by the SHA-256 of its bytes
//! ([`BlobId`]): the same file sent twice by one customer is stored once, and the
//! name proves the bytes on every read. Ownership is what access checks use: a blob is
//! served to the staff allowed to see its owner and to the owner's own visitor token,
//! and an erasure of the owner deletes it with the timeline ([`crate::Erasure`]).
//!
//! Rows: the chunks first (`seq` 0..chunks), then the metadata row, which is the commit
//! marker: a reader that finds the metadata finds every chunk. An interrupted put
//! leaves chunks without metadata, invisible and overwritten by the next put of the
//! same bytes. Another implementation (an S3-compatible object store) implements
//! [`BlobStore`] and keeps the same rule: the metadata is written last.

use crate::{Batch, SharedStore, StoreError};
use async_trait::async_trait;
pub use domain::BlobId;
use domain::{CustomerId, Millis};
use serde::{Deserialize, Serialize};

/// What is known of a stored blob; the row written last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMeta {
    pub owner: CustomerId,
    pub id: BlobId,
    /// The MIME type it was accepted as (checked against the allow-list at the door).
    pub content_type: String,
    /// The file name as sent (cleaned of paths and control characters at the door).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub size: u64,
    /// Number of chunk rows, `seq` 0..chunks.
    pub chunks: u32,
    pub created_at: Millis,
}

/// One blob to write: its chunks, then its metadata ([`Batch::blobs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPut {
    pub meta: BlobMeta,
    pub chunks: Vec<Vec<u8>>,
}

/// Where attachments' bytes live. The default, [`ChunkedBlobs`], keeps them in the
/// store; an object store can be plugged in by implementing this trait (and deleting
/// an owner's blobs when the owner is erased).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` for `owner`, durably; returns the metadata. Storing the same
    /// bytes again for the same owner is a no-op answered with the first metadata.
    async fn put(
        &self,
        owner: CustomerId,
        content_type: &str,
        name: Option<&str>,
        bytes: Vec<u8>,
        now: Millis,
    ) -> Result<BlobMeta, StoreError>;

    /// The metadata of `owner`'s blob `id`, if it is stored (whole).
    async fn meta(&self, owner: CustomerId, id: &BlobId) -> Result<Option<BlobMeta>, StoreError>;

    /// The metadata and bytes of `owner`'s blob `id`, verified against its hash.
    async fn read(
        &self,
        owner: CustomerId,
        id: &BlobId,
    ) -> Result<Option<(BlobMeta, Vec<u8>)>, StoreError>;
}

/// Blobs in the store's own tables, in chunks of `chunk_bytes` (a CQL row should stay
/// well under a megabyte; see docs/attachments.md).
pub struct ChunkedBlobs {
    store: SharedStore,
    chunk_bytes: usize,
}

/// Default chunk size: 256 KiB.
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

impl ChunkedBlobs {
    pub fn new(store: SharedStore, chunk_bytes: usize) -> Self {
        Self {
            store,
            chunk_bytes: chunk_bytes.max(1),
        }
    }
}

#[async_trait]
impl BlobStore for ChunkedBlobs {
    async fn put(
        &self,
        owner: CustomerId,
        content_type: &str,
        name: Option<&str>,
        bytes: Vec<u8>,
        now: Millis,
    ) -> Result<BlobMeta, StoreError> {
        let id = BlobId::of(&bytes);
        if let Some(meta) = self.store.blob(owner, &id).await? {
            return Ok(meta);
        }
        let chunks: Vec<Vec<u8>> = bytes.chunks(self.chunk_bytes).map(<[u8]>::to_vec).collect();
        let meta = BlobMeta {
            owner,
            id,
            content_type: content_type.to_owned(),
            name: name.map(str::to_owned),
            size: bytes.len() as u64,
            chunks: u32::try_from(chunks.len())
                .map_err(|_| StoreError::Backend("a blob of too many chunks".into()))?,
            created_at: now,
        };
        let batch = Batch {
            blobs: vec![BlobPut {
                meta: meta.clone(),
                chunks,
            }],
            ..Batch::default()
        };
        self.store.commit(batch).await?;
        Ok(meta)
    }

    async fn meta(&self, owner: CustomerId, id: &BlobId) -> Result<Option<BlobMeta>, StoreError> {
        self.store.blob(owner, id).await
    }

    async fn read(
        &self,
        owner: CustomerId,
        id: &BlobId,
    ) -> Result<Option<(BlobMeta, Vec<u8>)>, StoreError> {
        let Some(meta) = self.store.blob(owner, id).await? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        for seq in 0..meta.chunks {
            let chunk = self
                .store
                .blob_chunk(owner, id, seq)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("blob {id}: chunk {seq} is missing")))?;
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() as u64 != meta.size || BlobId::of(&bytes) != *id {
            return Err(StoreError::Corrupt(format!(
                "blob {id}: the stored bytes do not match their hash"
            )));
        }
        Ok(Some((meta, bytes)))
    }
}
