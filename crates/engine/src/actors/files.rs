//! Files named in messages: a visitor's or an agent's message names files uploaded
//! before (`POST /api/v1/customers/{id}/files`) by their id; [`resolve`] turns those
//! ids into the attachments the timeline records, and refuses an id that is not a file
//! of that customer. A file a provider delivered with a message (an email part, media
//! fetched from the provider) is stored by [`store_incoming`] before the message is
//! committed, or described only when the policy refuses it. The bytes stay in the
//! [`crate::store::BlobStore`] (`Services::blobs`); the rules files pass are
//! `domain::attachment`'s.

use crate::actors::ingest::IncomingFile;
use crate::actors::messages::{EngineError, EngineResult};
use crate::actors::Engine;
use crate::domain::{Attachment, BlobId, Channel, CustomerId};

/// The attachments for `files` of `owner`, in order, each once. Refused: more files
/// than `attachments.max_files_per_message`, an id that is no file of `owner`.
pub async fn resolve(
    engine: &Engine,
    owner: CustomerId,
    files: &[BlobId],
) -> EngineResult<Vec<Attachment>> {
    let max = engine.settings.attachments.max_files_per_message;
    if files.len() > max {
        return Err(EngineError::invalid(format!(
            "a message carries at most {max} files"
        )));
    }
    let mut out: Vec<Attachment> = Vec::with_capacity(files.len());
    for id in files {
        if out.iter().any(|a| a.file.as_ref() == Some(id)) {
            continue;
        }
        let meta = engine
            .blobs
            .meta(owner, id)
            .await
            .map_err(|e| e.into_engine())?
            .ok_or_else(|| {
                EngineError::invalid(format!(
                    "file {id} was not uploaded for this customer; upload it first"
                ))
            })?;
        out.push(Attachment {
            kind: crate::domain::attachment::kind_of(&meta.content_type).to_owned(),
            name: meta.name,
            content_type: Some(meta.content_type),
            size: Some(meta.size),
            url: None,
            file: Some(meta.id),
        });
    }
    Ok(out)
}

/// Stores `f`, received on `channel` for `owner`, if the file policy accepts it: the
/// attachment naming the stored copy. A refused file (too large, a type not accepted,
/// bytes that are not their type) is described only (kind, name, type, size), logged
/// without content and counted; the message is still taken. A store failure fails the
/// message (the provider retries it).
pub async fn store_incoming(
    engine: &Engine,
    owner: CustomerId,
    channel: Channel,
    f: IncomingFile,
) -> EngineResult<Attachment> {
    let policy = &engine.settings.attachments;
    let size = f.bytes.len() as u64;
    let described = |kind: &str, content_type: String, name: Option<String>| Attachment {
        kind: kind.to_owned(),
        name,
        content_type: Some(content_type),
        size: Some(size),
        url: None,
        file: None,
    };
    match policy.accept_on(channel, &f.content_type, f.name.as_deref(), &f.bytes) {
        Ok(accepted) => {
            let meta = engine
                .blobs
                .put(
                    owner,
                    &accepted.content_type,
                    accepted.name.as_deref(),
                    f.bytes,
                    engine.now(),
                )
                .await
                .map_err(|e| e.into_engine())?;
            crate::metrics::file_stored(meta.size);
            Ok(Attachment {
                file: Some(meta.id),
                ..described(accepted.kind, accepted.content_type, accepted.name)
            })
        }
        Err(why) => {
            let reason = match why {
                crate::domain::FileRefused::TooLarge { .. } => "too_large",
                crate::domain::FileRefused::Type(_) => "type",
                crate::domain::FileRefused::Mismatch(_) => "mismatch",
                _ => "invalid",
            };
            tracing::info!(%channel, reason, size, "an inbound file was not stored: {why}");
            crate::metrics::file_refused(reason);
            let content_type = crate::domain::attachment::essence(&f.content_type);
            let name = f
                .name
                .as_deref()
                .and_then(|n| crate::domain::attachment::clean_name(n, policy.max_name_chars));
            Ok(described(
                crate::domain::attachment::kind_of(&content_type),
                content_type,
                name,
            ))
        }
    }
}
