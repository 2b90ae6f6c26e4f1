//! Exactly once: a message, reply, note or call end that carries an id (a client's
//! `client_msg_id`, a provider's message or call id) is applied once for as long as its
//! idempotency record lives (`limits.idempotency_retention_ms`), across passivation,
//! restart, `kill -9` and a move to another node.
//!
//! The record ([`IdempotencyRecord`]) is written in the same commit as the event it
//! produced and keyed by this customer and the id in its scope ([`Idem::key`]). Before
//! applying, the actor looks the id up in its memory (the acks of its latest ids,
//! `limits.remembered_ids_per_customer`) and then in the store; a hit answers the
//! original event with `duplicate: true`, or `conflict` when the id came with other
//! content ([`Idem::digest`]). On a store hit the event itself is read too: the CQL
//! store writes the record before the event, so a crash between the two leaves a record
//! whose event is missing, and that message is applied again (under a new event id)
//! rather than lost. The embedded store sweeps expired records (and erasure tombstones,
//! `crate::tombstones`) every `timing.idempotency_sweep_ms` ([`start_expiry`]); the CQL
//! store writes them with a TTL.

use super::*;
use crate::store::IdempotencyRecord;

/// An id to apply once, in its scope, with the fingerprint of what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Idem {
    /// `in:<id>` (customer and provider messages), `out:<agent>:<id>` (agent replies
    /// and notes), `call-end:<call id>`, `recording:<recording id>:<status>`.
    pub key: String,
    /// FNV-1a of the content (see [`digest`]).
    pub digest: u64,
}

/// The idempotency key of a customer's message with `client_msg_id` (as stored: a
/// provider's id is `{channel}:{id}`).
pub fn inbound_key(client_msg_id: &str) -> String {
    format!("in:{client_msg_id}")
}

impl Idem {
    /// The id of a customer's message, if it has one: its content is the channel, the
    /// text, the attachments (only their kinds for a provider's message), the queue and
    /// the skills asked for.
    pub(crate) fn inbound(msg: &Inbound) -> Option<Self> {
        let id = msg.client_msg_id.as_ref()?;
        let mut parts = vec![msg.channel.as_str(), msg.text.as_str()];
        for a in &msg.attachments {
            parts.push(a.kind.as_str());
            // A provider's media may be stored one time and only described the next
            // (a fetch that failed): its kind alone is the message's content.
            if msg.from_provider {
                continue;
            }
            parts.push(a.url.as_deref().unwrap_or(""));
            if let Some(f) = &a.file {
                parts.push(f.as_str());
            }
        }
        parts.push(msg.queue.as_ref().map(|q| q.as_str()).unwrap_or(""));
        // Skills asked for count only when there are some, so the digest of a message
        // without any is what it was before they existed.
        let skills: Vec<String> = msg
            .requirements
            .iter()
            .map(|(s, p)| format!("{}={}", s.as_str(), p.get()))
            .collect();
        parts.extend(skills.iter().map(String::as_str));
        Some(Self {
            key: inbound_key(id),
            digest: digest(&parts),
        })
    }

    /// An agent's reply or note: its content is the conversation, the kind, the
    /// channel asked for, the text and the files (when there are some, so the digest
    /// of a reply without any is what it was before files existed).
    pub(crate) fn agent(msg: &AgentWrite) -> Self {
        let conv = msg.conversation_id.to_string();
        let kind = if msg.note { "note" } else { "message" };
        let channel = msg.channel.map(|c| c.as_str()).unwrap_or("");
        let mut parts = vec![conv.as_str(), kind, channel, msg.text.as_str()];
        parts.extend(
            msg.attachments
                .iter()
                .filter_map(|a| a.file.as_ref().map(|f| f.as_str())),
        );
        Self {
            key: format!("out:{}:{}", msg.agent_id, msg.client_msg_id),
            digest: digest(&parts),
        }
    }

    /// The end of a call: the call id alone (a call ends once; a late report with
    /// another status is the same end, not a conflict).
    pub(crate) fn call_end(msg: &CallEnded) -> Self {
        Self {
            key: format!("call-end:{}", msg.call_id),
            digest: digest(&[]),
        }
    }
}

impl Idem {
    /// An agent's leg answered: the leg's id (the platform retries a callback).
    pub(crate) fn answered(msg: &PhoneAnswered) -> Self {
        Self {
            key: format!("call-answered:{}", msg.call_id),
            digest: digest(&[
                msg.conversation_id.to_string().as_str(),
                msg.agent_id.as_str(),
            ]),
        }
    }

    /// A recording's report: its id and status (the platform retries a callback; a
    /// recording that fails after it was reported in progress is a new report).
    pub(crate) fn recording(msg: &CallRecorded) -> Self {
        Self {
            key: format!("recording:{}:{}", msg.recording_id, msg.status.as_str()),
            digest: digest(&[msg.conversation_id.to_string().as_str()]),
        }
    }
}

/// 64-bit FNV-1a over `parts`, each followed by a 0xff byte (which UTF-8 never
/// contains, so `["ab", "c"]` and `["a", "bc"]` differ). Stable across builds and
/// machines, unlike `std`'s hasher, because records outlive the process that wrote them.
pub(crate) fn digest(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// An id this actor acknowledged lately (its memory of ids, before the store's).
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    ack: InboundAck,
    digest: u64,
}

/// The answer to an id seen before: the original event, or `conflict` when it came
/// with other content (nothing is stored either way).
fn repeat(idem: &Idem, ack: &InboundAck, digest: u64) -> EngineResult<InboundAck> {
    if digest != idem.digest {
        let id = idem.key.split_once(':').map_or("", |(_, id)| id);
        return Err(EngineError::new(
            ErrorCode::Conflict,
            format!(
                "id {id:?} was already used for different content (event {}); nothing was \
                 stored",
                ack.event_id
            ),
        )
        .with_event(ack.event_id));
    }
    crate::metrics::duplicate_answered();
    Ok(InboundAck {
        duplicate: true,
        ..ack.clone()
    })
}

impl CustomerActor {
    /// Runs `apply` unless `idem` was applied already, in which case the answer is the
    /// original ack (through `answer`) or `conflict`. Memory first, then the store; a
    /// retry of this process's own failed commit skips the store (it rewrites the same
    /// rows, see `retry`).
    pub(super) fn once<T: 'static>(
        &mut self,
        idem: Option<Idem>,
        answer: impl FnOnce(InboundAck) -> T + 'static,
        apply: impl FnOnce(&mut Self, &mut Context<Self>, Option<Idem>) -> Atomic<T> + 'static,
        ctx: &mut Context<Self>,
    ) -> Atomic<T> {
        let Some(idem) = idem else {
            return apply(self, ctx, None);
        };
        if let Some(seen) = self.seen.get(&idem.key) {
            return done(repeat(&idem, &seen.ack, seen.digest).map(answer));
        }
        if self.failed.contains(&idem.key) {
            return apply(self, ctx, Some(idem));
        }
        let store = self.engine.store.clone();
        let (customer, now) = (self.id, self.engine.now());
        let key = idem.key.clone();
        let lookup = async move {
            let Some(record) = store.idempotency(customer, &key, now).await? else {
                return Ok(None);
            };
            // Record first, event second on the CQL store: a record without its event
            // is an attempt that died in between, to be applied again.
            Ok(store
                .event(customer, record.event_id)
                .await?
                .map(|_| record))
        };
        Atomic::new(Box::pin(lookup.into_actor(self).then(
            move |res: Result<Option<IdempotencyRecord>, crate::store::StoreError>, act, ctx| {
                match res {
                    Err(e) => done(Err(e.into_engine())).into_future(),
                    Ok(Some(r)) => {
                        let ack = InboundAck {
                            event_id: r.event_id,
                            conversation_id: r.conversation_id,
                            duplicate: true,
                        };
                        act.remember_id(idem.key.clone(), ack.clone(), r.digest);
                        done(repeat(&idem, &ack, r.digest).map(answer)).into_future()
                    }
                    Ok(None) => apply(act, ctx, Some(idem)).into_future(),
                }
            },
        )))
    }

    /// `batch` with the record of `idem` (if any) for `event` in `conversation`, so the
    /// id is durable in the same commit as what it produced.
    pub(super) fn with_idem(
        &self,
        mut batch: Batch,
        idem: Option<&Idem>,
        event: &TimelineEvent,
        conversation: ConversationId,
    ) -> Batch {
        if let Some(idem) = idem {
            let retention = self.engine.settings.limits.idempotency_retention_ms;
            let r = record(self.id, idem, event, conversation, retention);
            batch.idempotency.push(r);
        }
        batch
    }

    /// Keeps the ack of `key` in memory (bounded, oldest forgotten first).
    pub(super) fn remember_id(&mut self, key: String, ack: InboundAck, digest: u64) {
        let seen = Seen {
            ack: InboundAck {
                duplicate: true,
                ..ack
            },
            digest,
        };
        if self.seen.insert(key.clone(), seen).is_none() {
            self.seen_order.push_back(key);
            let max = self.engine.settings.limits.remembered_ids_per_customer;
            while self.seen_order.len() > max {
                if let Some(old) = self.seen_order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// The ack of a message just applied as `event_id` in `conversation_id`; a retry
    /// of `idem` gets the same ack, marked `duplicate`.
    pub(super) fn acked(
        &mut self,
        idem: Option<Idem>,
        event_id: crate::domain::EventId,
        conversation_id: ConversationId,
    ) -> InboundAck {
        let ack = InboundAck {
            event_id,
            conversation_id,
            duplicate: false,
        };
        if let Some(idem) = idem {
            self.remember_id(idem.key, ack.clone(), idem.digest);
        }
        ack
    }
}

/// The durable record of `idem` for `event` in `conversation`, kept `retention_ms`.
pub(crate) fn record(
    customer: CustomerId,
    idem: &Idem,
    event: &TimelineEvent,
    conversation: ConversationId,
    retention_ms: u64,
) -> IdempotencyRecord {
    let retention = i64::try_from(retention_ms).unwrap_or(i64::MAX);
    IdempotencyRecord {
        customer_id: customer,
        key: idem.key.clone(),
        event_id: event.id,
        conversation_id: conversation,
        digest: idem.digest,
        at: event.at,
        expires_at: Millis(event.at.0.saturating_add(retention)),
    }
}

/// Starts the sweep that removes expired idempotency records and erasure tombstones (every
/// `timing.idempotency_sweep_ms`, up to `limits.idempotency_sweep_batch` per store
/// call, until none is left). A store whose records expire by themselves (CQL TTL)
/// removes none.
pub fn start_expiry(engine: Engine) {
    let every = Duration::from_millis(engine.settings.timing.idempotency_sweep_ms.max(1));
    let batch = engine.settings.limits.idempotency_sweep_batch.max(1);
    engine.every(every, move |engine| async move {
        // Until less than a whole batch was left; in a cluster, by the holder of
        // `singleton/idempotency-expiry`.
        while !engine.draining() && engine.runs(cluster::shard::Singleton::IdempotencyExpiry) {
            match engine.store.expire_idempotency(engine.now(), batch).await {
                Ok(n) => {
                    crate::metrics::idempotency_expired(n);
                    if n < batch {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "idempotency expiry failed");
                    break;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_fnv1a_with_separators() {
        // FNV-1a 64 of the empty input is its offset basis; separators make part
        // boundaries count.
        assert_eq!(digest(&[]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_ne!(digest(&["a"]), digest(&["a", ""]));
        // Pinned: records written by one build are read by the next.
        assert_eq!(digest(&["a"]), 0x089b_c907_b544_c769);
    }

    #[test]
    fn a_providers_media_stored_or_described_is_the_same_message() {
        let att = |url: Option<&str>, file: Option<&str>| crate::domain::Attachment {
            kind: "image".into(),
            name: None,
            content_type: Some("image/png".into()),
            size: None,
            url: url.map(str::to_owned),
            file: file.map(|f| crate::domain::BlobId::of(f.as_bytes())),
        };
        let msg = |from_provider: bool, a: crate::domain::Attachment| Inbound {
            client_msg_id: Some("sms:MM7".into()),
            attachments: vec![a],
            from_provider,
            ..Inbound::new(crate::domain::Channel::Sms, String::new(), "見て")
        };
        let key = |m: &Inbound| Idem::inbound(m).expect("an id").digest;
        let described = att(Some("https://media.example/MM7/ME7"), None);
        let stored = att(None, Some("png bytes"));
        assert_eq!(
            key(&msg(true, described.clone())),
            key(&msg(true, stored.clone()))
        );
        // A client's own files are its content: other files, other content.
        assert_ne!(key(&msg(false, described)), key(&msg(false, stored)));
        let mut video = att(None, Some("png bytes"));
        video.kind = "video".into();
        assert_ne!(
            key(&msg(true, att(None, Some("png bytes")))),
            key(&msg(true, video))
        );
    }
}
