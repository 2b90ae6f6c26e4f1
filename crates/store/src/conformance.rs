//! Backend-independent conformance suite for the [`Store`] contract.
//!
//! This module owns the executable definition of what every backend must do: each
//! `pub async fn` checks one part of the contract documented in this crate's `lib.rs` and
//! panics (`assert!`) on any deviation; [`run_all`] runs them all. It must use only the
//! [`Store`] trait (it runs against the embedded store and against ScyllaDB) and must
//! work on a shared, non-empty database: every check uses fresh random ids and names,
//! and only ever asserts about records it created itself (e.g. "the agent list contains
//! mine", never "the agent list is exactly this").
//!
//! Backends differ in one documented way, passed in as [`Capabilities`]: whether a
//! multi-partition batch becomes visible atomically. The embedded store (one redb
//! transaction per batch) does; ScyllaDB has no multi-partition transactions, so its
//! backend instead writes a batch in reference order (a record is written only after the
//! records it refers to). Every backend must pass
//! [`batch_visible_in_reference_order`]; [`batch_visible_atomically`] runs only for
//! backends that claim atomicity, so the stronger check is never weakened for the store
//! that can meet it.

pub use super::Capabilities;
use super::{Batch, RecordWrite, SharedStore, StoreError, TraceEntry};
use domain::{
    AgentId, AgentProfile, Capacity, Channel, Conversation, ConversationId, ConversationState,
    Customer, CustomerId, EventId, EventKind, IdentityKey, Millis, Proficiency, QueueConfig,
    QueueName, Role, RoutingStrategy, Skill, SkillFloors, TimelineEvent,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs every check against `store`; checks of guarantees the backend does not claim
/// (`caps`) are skipped, and the reason is printed.
pub async fn run_all(store: SharedStore, caps: Capabilities) {
    health(&store).await;
    empty_batch(&store).await;
    missing_records(&store).await;
    round_trip_every_record(&store).await;
    customer_overwrite(&store).await;
    timeline_order_and_paging(&store).await;
    timeline_isolation(&store).await;
    journal_rows_with_their_events(&store).await;
    batch_visible_in_reference_order(&store).await;
    if caps.atomic_multi_partition_batches {
        batch_visible_atomically(&store).await;
    } else {
        eprintln!(
            "conformance: batch_visible_atomically not run: this backend does not claim \
             atomic multi-partition batches (batch_visible_in_reference_order ran instead)"
        );
    }
    open_conversation_index(&store).await;
    conversations_of_order(&store).await;
    conversation_requirements(&store).await;
    identity_links(&store).await;
    resolve_or_create_idempotent(&store).await;
    resolve_or_create_race(&store, 16).await;
    trace_order(&store).await;
    settings_overwrite(&store).await;
    setting_if_absent_race(&store, 8).await;
    records_put_delete_and_page(&store).await;
    agents_and_queues_overwrite(&store).await;
    outbox_until_done(&store).await;
    erase_and_audit(&store).await;
    idempotency_records(&store).await;
    erasure_tombstones(&store).await;
    report_events_by_queue_and_range(&store).await;
    presence_by_queue_and_range(&store).await;
    blobs_chunked_and_erased(&store).await;
    concurrent_commits(&store, 64).await;
    fenced_rows(&store).await;
    fenced_rows_race(&store, 6, 8).await;
}

/// `writers` batches of different epochs of one lease race to rewrite the same fresh
/// customer and conversation, `rounds` times: whatever each is answered, the rows end
/// as the highest epoch that was told `Ok` wrote them. A lower epoch landing after a
/// higher one's accepted write (a check-then-write without a compare-and-set) fails
/// this.
pub async fn fenced_rows_race(store: &SharedStore, writers: u64, rounds: usize) {
    for round in 0..rounds {
        let customer = new_customer();
        let conv = new_conversation(customer.id, ConversationState::Queued, 1_000);
        let mut tasks = tokio::task::JoinSet::new();
        for epoch in 1..=writers {
            let store = Arc::clone(store);
            let mut c = customer.clone();
            c.display_name = Some(format!("epoch {epoch}"));
            let mut v = conv.clone();
            v.priority = epoch as i32;
            tasks.spawn(async move {
                let batch = Batch {
                    customers: vec![c],
                    conversations: vec![v],
                    leases: BTreeMap::from([(
                        customer.id,
                        super::RowLease {
                            key: "shard/race".into(),
                            epoch,
                        },
                    )]),
                    ..Default::default()
                };
                (epoch, store.commit(batch).await)
            });
        }
        let mut accepted = Vec::new();
        while let Some(r) = tasks.join_next().await {
            match r.expect("writer panicked") {
                (epoch, Ok(())) => accepted.push(epoch),
                (_, Err(StoreError::Fenced(_) | StoreError::Unavailable(_))) => {}
                (epoch, Err(e)) => panic!("round {round}, epoch {epoch}: {e}"),
            }
        }
        let Some(last) = accepted.iter().max().copied() else {
            panic!("round {round}: no writer was accepted");
        };
        let c = ok(store.customer(customer.id).await, "customer").expect("customer");
        let v = ok(store.conversation(conv.id).await, "conversation").expect("conversation");
        assert_eq!(
            (c.display_name.as_deref(), v.priority),
            (Some(format!("epoch {last}").as_str()), last as i32),
            "round {round}: accepted {accepted:?}"
        );
    }
}

/// Rows written under a lease ([`Batch::leases`], docs/cluster.md "Fenced rows") are
/// rewritten only from the same or a later epoch of that lease. A batch of an older
/// epoch is refused with [`StoreError::Fenced`] and writes nothing of itself (neither
/// its customer, its conversation nor its events), whether its customer row or only a
/// conversation row is stale. Another lease's write, or an unfenced one, is not held
/// back, and an unfenced write leaves the fence where it was.
pub async fn fenced_rows(store: &SharedStore) {
    let mut customer = new_customer();
    let mut conv = new_conversation(customer.id, ConversationState::Queued, 1_000);
    let under = |key: &str, epoch: u64| {
        BTreeMap::from([(
            customer.id,
            super::RowLease {
                key: key.to_owned(),
                epoch,
            },
        )])
    };
    let write = |c: &Customer, v: &Conversation, n: usize, leases| {
        let batch = Batch {
            customers: vec![c.clone()],
            conversations: vec![v.clone()],
            events: vec![new_event(c.id, Some(v.id), n)],
            leases,
            ..Default::default()
        };
        let store = store.clone();
        async move { store.commit(batch).await }
    };
    let stored = || async {
        (
            ok(store.customer(customer.id).await, "customer"),
            ok(store.conversation(conv.id).await, "conversation"),
            ok(store.timeline(customer.id, None, 50).await, "timeline").len(),
        )
    };
    customer.display_name = Some("epoch 2".into());
    ok(
        write(&customer, &conv, 1, under("shard/7", 2)).await,
        "epoch 2",
    );
    let at_two = (Some(customer.clone()), Some(conv.clone()), 1);
    assert_eq!(stored().await, at_two);

    // A paused older owner: refused, nothing of its batch written.
    let mut stale = customer.clone();
    stale.display_name = Some("epoch 1".into());
    let mut stale_conv = conv.clone();
    stale_conv.state = ConversationState::Resolved;
    let refused = write(&stale, &stale_conv, 2, under("shard/7", 1)).await;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "a write of an older epoch: {refused:?}"
    );
    assert_eq!(stored().await, at_two, "the refused batch wrote nothing");
    // Its conversation alone is refused by the conversation row's own fence.
    let refused = store
        .commit(Batch {
            conversations: vec![stale_conv.clone()],
            leases: under("shard/7", 1),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "a conversation of an older epoch: {refused:?}"
    );
    assert_eq!(stored().await, at_two);

    // The same epoch writes again; a later one too, and then fences out the one before.
    conv.state = ConversationState::Assigned;
    ok(
        write(&customer, &conv, 3, under("shard/7", 2)).await,
        "epoch 2 again",
    );
    customer.display_name = Some("epoch 3".into());
    ok(
        write(&customer, &conv, 4, under("shard/7", 3)).await,
        "epoch 3",
    );
    let refused = write(&stale, &stale_conv, 5, under("shard/7", 2)).await;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "epoch 2 after epoch 3: {refused:?}"
    );
    assert_eq!(
        stored().await,
        (Some(customer.clone()), Some(conv.clone()), 3)
    );

    // Unfenced (a single node, an erasure): written, the fence stays.
    customer.priority += 1;
    ok(
        write(&customer, &conv, 6, BTreeMap::new()).await,
        "unfenced",
    );
    let refused = write(&stale, &stale_conv, 7, under("shard/7", 2)).await;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "the fence outlives an unfenced write: {refused:?}"
    );
    // Another lease (the row's customer moved shards, the cluster changed placement)
    // is not compared with this one's epochs, and takes the row over.
    customer.priority += 1;
    ok(
        write(&customer, &conv, 8, under("keyspace", 1)).await,
        "another lease",
    );
    assert_eq!(
        stored().await,
        (Some(customer.clone()), Some(conv.clone()), 5)
    );
    ok(
        write(&customer, &conv, 9, under("shard/7", 1)).await,
        "back under the first lease, at any epoch",
    );
}

/// An idempotency record is written with its event, read back by (customer, key) until
/// it expires (a lookup at or after `expires_at` finds nothing, whatever the backend's
/// own removal does), replaced by a later write of the same key, separate per customer
/// and key, and deleted with the customer's timeline by an erasure. `event` reads one
/// stored event by id. Expiring removes nothing that has not expired.
pub async fn idempotency_records(store: &SharedStore) {
    use super::IdempotencyRecord;
    let (customer, other) = (new_customer(), new_customer());
    let conv = new_conversation(customer.id, ConversationState::Queued, 1_000);
    let ev = new_event(customer.id, Some(conv.id), 7);
    let at = ev.at;
    let record = IdempotencyRecord {
        customer_id: customer.id,
        key: "in:m-1".into(),
        event_id: ev.id,
        conversation_id: conv.id,
        digest: u64::MAX - 5,
        at,
        expires_at: Millis(at.0 + 604_800_000),
    };
    // A long key with characters beyond ASCII keys exactly as given.
    let long = IdempotencyRecord {
        key: format!("out:agent-1:{}", "é".repeat(60)),
        digest: 3,
        ..record.clone()
    };
    let batch = Batch {
        customers: vec![customer.clone(), other.clone()],
        conversations: vec![conv.clone()],
        idempotency: vec![record.clone(), long.clone()],
        ..Default::default()
    }
    .event(ev.clone());
    ok(store.commit(batch).await, "commit with idempotency records");
    let read = |c: CustomerId, k: &'static str, now: i64| {
        let store = store.clone();
        async move { ok(store.idempotency(c, k, Millis(now)).await, "idempotency") }
    };
    assert_eq!(
        read(customer.id, "in:m-1", at.0).await,
        Some(record.clone())
    );
    assert_eq!(
        ok(
            store.idempotency(customer.id, &long.key, at).await,
            "long key"
        ),
        Some(long.clone())
    );
    assert_eq!(read(customer.id, "in:m-2", at.0).await, None, "other key");
    assert_eq!(read(other.id, "in:m-1", at.0).await, None, "other customer");
    assert_eq!(
        read(customer.id, "in:m-1", record.expires_at.0 - 1).await,
        Some(record.clone()),
        "alive until it expires"
    );
    assert_eq!(
        read(customer.id, "in:m-1", record.expires_at.0).await,
        None,
        "expired at expires_at"
    );
    assert_eq!(
        ok(store.event(customer.id, ev.id).await, "event"),
        Some(ev.clone())
    );
    assert_eq!(
        ok(store.event(other.id, ev.id).await, "event of another"),
        None
    );
    // Records are not events: the timeline holds the event only.
    assert_eq!(
        ok(store.timeline(customer.id, None, 100).await, "timeline"),
        vec![ev.clone()]
    );
    assert_eq!(
        ok(store.event(customer.id, EventId::new()).await, "missing"),
        None
    );
    // Expiring up to a time before the record's expiry keeps it.
    ok(store.expire_idempotency(at, 1_000).await, "expire");
    assert_eq!(
        read(customer.id, "in:m-1", at.0).await,
        Some(record.clone())
    );
    // A later write of the key replaces the record.
    let replaced = IdempotencyRecord {
        event_id: EventId::new(),
        digest: 11,
        expires_at: Millis(at.0 + 900_000_000),
        ..record.clone()
    };
    ok(
        store
            .commit(Batch {
                idempotency: vec![replaced.clone()],
                ..Default::default()
            })
            .await,
        "replace",
    );
    assert_eq!(
        read(customer.id, "in:m-1", at.0).await,
        Some(replaced.clone())
    );
    // Erasure deletes the customer's records with the timeline.
    ok(
        store
            .erase(super::Erasure {
                customers: vec![customer.clone()],
                timelines: vec![customer.id],
                identities: Vec::new(),
                conversations: Vec::new(),
                tombstones: Vec::new(),
                audit: super::AuditEntry {
                    id: EventId::new(),
                    at,
                    actor: new_agent_id(),
                    action: "customer_erased".into(),
                    customer_id: Some(customer.id),
                    detail: serde_json::json!({}),
                },
            })
            .await,
        "erase",
    );
    assert_eq!(read(customer.id, "in:m-1", at.0).await, None, "erased");
    assert_eq!(
        ok(
            store.idempotency(customer.id, &long.key, at).await,
            "erased"
        ),
        None
    );
}

/// An erasure leaves its tombstones: once the customer's idempotency records, timeline
/// and identity link are gone, the keyed hash of each erased provider message id still
/// says "seen" (with its channel) until it expires, whoever owns the address next. A
/// lookup at or after `expires_at` finds nothing, whatever the backend's own removal
/// does; expiring up to an earlier time keeps it; erasing again with a later expiry
/// extends it.
pub async fn erasure_tombstones(store: &SharedStore) {
    use super::{IdempotencyRecord, Tombstone};
    let hash = || {
        let mut h = [0u8; 32];
        h[..16].copy_from_slice(CustomerId::new().as_bytes());
        h[16..].copy_from_slice(CustomerId::new().as_bytes());
        h
    };
    let mut customer = new_customer();
    customer.merged_into = None;
    let address = customer.identities[0].clone();
    let conv = new_conversation(customer.id, ConversationState::Resolved, 1_000);
    let ev = new_event(customer.id, Some(conv.id), 3);
    let at = ev.at;
    let key = "in:sms:SM0123";
    let record = IdempotencyRecord {
        customer_id: customer.id,
        key: key.into(),
        event_id: ev.id,
        conversation_id: conv.id,
        digest: 9,
        at,
        expires_at: Millis(at.0 + 604_800_000),
    };
    let batch = Batch {
        customers: vec![customer.clone()],
        identities: vec![(address.clone(), customer.id)],
        conversations: vec![conv.clone()],
        idempotency: vec![record],
        ..Default::default()
    }
    .event(ev);
    ok(store.commit(batch).await, "commit before erase");
    let sms = Tombstone {
        hash: hash(),
        channel: Channel::Sms,
        expires_at: Millis(at.0 + 2_592_000_000),
    };
    let line = Tombstone {
        hash: hash(),
        channel: Channel::Line,
        ..sms.clone()
    };
    let unknown = hash();
    let read = |h: [u8; 32], now: i64| {
        let store = store.clone();
        async move { ok(store.tombstone(&h, Millis(now)).await, "tombstone") }
    };
    assert_eq!(
        read(sms.hash, at.0).await,
        None,
        "no tombstone before erase"
    );
    let erasure = |tombstones: Vec<Tombstone>| super::Erasure {
        customers: vec![customer.clone()],
        timelines: vec![customer.id],
        identities: vec![address.clone()],
        conversations: vec![],
        tombstones,
        audit: super::AuditEntry {
            id: EventId::new(),
            at,
            actor: new_agent_id(),
            action: "customer_erased".into(),
            customer_id: Some(customer.id),
            detail: serde_json::json!({}),
        },
    };
    ok(
        store.erase(erasure(vec![sms.clone(), line.clone()])).await,
        "erase",
    );
    // The customer's own de-duplication record went with the timeline; the tombstone
    // still says seen.
    assert_eq!(
        ok(store.idempotency(customer.id, key, at).await, "idempotency"),
        None
    );
    assert_eq!(
        ok(store.customer_by_identity(&address).await, "identity"),
        None
    );
    assert_eq!(read(sms.hash, at.0).await, Some(sms.clone()), "seen");
    assert_eq!(read(line.hash, at.0).await, Some(line.clone()));
    assert_eq!(read(unknown, at.0).await, None, "other hash");
    // Global, not per customer: somebody new owning the address changes nothing.
    let mut next = new_customer();
    next.identities = vec![address.clone()];
    ok(
        store.resolve_or_create(&address, next).await,
        "resolve again",
    );
    assert_eq!(read(sms.hash, at.0).await, Some(sms.clone()));
    assert_eq!(
        read(sms.hash, sms.expires_at.0 - 1).await,
        Some(sms.clone()),
        "alive until it expires"
    );
    assert_eq!(
        read(sms.hash, sms.expires_at.0).await,
        None,
        "expired at expires_at"
    );
    ok(store.expire_idempotency(at, 1_000).await, "expire");
    assert_eq!(read(sms.hash, at.0).await, Some(sms.clone()), "not due");
    // Erasing again (a retried erasure) with a later expiry keeps the later one.
    let later = Tombstone {
        expires_at: Millis(sms.expires_at.0 + 1_000),
        ..sms.clone()
    };
    ok(
        store.erase(erasure(vec![later.clone()])).await,
        "erase again",
    );
    assert_eq!(read(sms.hash, sms.expires_at.0).await, Some(later));
}

/// An erasure writes the scrubbed records, deletes the customer's whole timeline and
/// the named identity links, rewrites the conversations, and appends its audit entry;
/// other customers are untouched. The audit log reads newest first and pages with
/// `before`.
/// A blob reads back whole, chunk by chunk, from every backend; storing the same
/// bytes again keeps the first metadata; one customer's blob is not another's; an
/// erasure of its owner deletes every chunk and the metadata, and nobody else's.
pub async fn blobs_chunked_and_erased(store: &SharedStore) {
    use super::blob::{BlobId, BlobStore, ChunkedBlobs};
    let owner = new_customer();
    let other = new_customer();
    ok(
        store
            .commit(Batch {
                customers: vec![owner.clone(), other.clone()],
                ..Default::default()
            })
            .await,
        "customers",
    );
    let blobs = ChunkedBlobs::new(Arc::clone(store), 1000);
    let bytes: Vec<u8> = (0..2500u32).map(|i| (i * 7 % 251) as u8).collect();
    let at = Millis(1_700_000_000_000);
    let meta = ok(
        blobs
            .put(owner.id, "image/png", Some("a.png"), bytes.clone(), at)
            .await,
        "put",
    );
    assert_eq!(meta.id, BlobId::of(&bytes));
    assert_eq!(
        (meta.size, meta.chunks),
        (2500, 3),
        "three chunks of 1000 bytes"
    );
    let chunk = ok(store.blob_chunk(owner.id, &meta.id, 2).await, "chunk 2");
    assert_eq!(chunk.as_deref(), Some(&bytes[2000..]));
    assert_eq!(
        ok(blobs.read(owner.id, &meta.id).await, "read"),
        Some((meta.clone(), bytes.clone()))
    );
    let again = ok(
        blobs
            .put(
                owner.id,
                "image/png",
                Some("b.png"),
                bytes.clone(),
                Millis(at.0 + 5),
            )
            .await,
        "put again",
    );
    assert_eq!(again, meta, "the same bytes are stored once");
    assert_eq!(ok(blobs.meta(other.id, &meta.id).await, "other"), None);
    // Another customer's blob, stored directly, is theirs alone.
    let orphan = BlobId::of(b"orphan");
    ok(
        store
            .commit(Batch {
                blobs: vec![super::BlobPut {
                    meta: super::BlobMeta {
                        owner: other.id,
                        id: orphan.clone(),
                        content_type: "text/plain".into(),
                        name: None,
                        size: 6,
                        chunks: 1,
                        created_at: at,
                    },
                    chunks: vec![b"orphan".to_vec()],
                }],
                ..Default::default()
            })
            .await,
        "other's blob",
    );
    assert!(ok(blobs.meta(other.id, &orphan).await, "other's").is_some());
    assert_eq!(
        ok(blobs.meta(owner.id, &orphan).await, "not the owner's"),
        None
    );
    ok(
        store
            .erase(super::Erasure {
                customers: vec![owner.clone()],
                timelines: vec![owner.id],
                identities: Vec::new(),
                conversations: Vec::new(),
                tombstones: Vec::new(),
                audit: super::AuditEntry {
                    id: EventId::new(),
                    at,
                    actor: new_agent_id(),
                    action: "customer_erased".into(),
                    customer_id: Some(owner.id),
                    detail: serde_json::json!({}),
                },
            })
            .await,
        "erase",
    );
    assert_eq!(ok(blobs.meta(owner.id, &meta.id).await, "erased"), None);
    for seq in 0..3 {
        assert_eq!(
            ok(store.blob_chunk(owner.id, &meta.id, seq).await, "chunk"),
            None,
            "chunk {seq} erased"
        );
    }
    assert!(
        ok(blobs.read(other.id, &orphan).await, "other's kept").is_some(),
        "another customer's blob survives"
    );
}

pub async fn erase_and_audit(store: &SharedStore) {
    let mut customer = new_customer();
    customer.merged_into = None;
    let kept_key = new_identity();
    let other = new_customer();
    let mut conv = new_conversation(customer.id, ConversationState::Resolved, 2_000);
    conv.disposition = Some("called about her card".into());
    let events: Vec<_> = (0..30)
        .map(|n| new_event(customer.id, Some(conv.id), n))
        .collect();
    let other_event = new_event(other.id, None, 1);
    let batch = Batch {
        customers: vec![customer.clone(), other.clone()],
        identities: vec![
            (customer.identities[0].clone(), customer.id),
            (kept_key.clone(), other.id),
        ],
        events: events.clone(),
        conversations: vec![conv.clone()],
        ..Default::default()
    }
    .event(other_event.clone());
    ok(store.commit(batch).await, "commit before erase");
    let first = super::AuditEntry {
        id: EventId::new(),
        at: Millis(1_700_000_001_000),
        actor: new_agent_id(),
        action: "customer_exported".into(),
        customer_id: Some(customer.id),
        detail: serde_json::json!({"events": 30}),
    };
    ok(store.append_audit(first.clone()).await, "append_audit");
    let mut scrubbed = customer.clone();
    scrubbed.display_name = None;
    scrubbed.identities.clear();
    scrubbed.attributes.clear();
    let mut clean = conv.clone();
    clean.disposition = None;
    let erased = super::AuditEntry {
        id: EventId::new(),
        action: "customer_erased".into(),
        ..first.clone()
    };
    ok(
        store
            .erase(super::Erasure {
                customers: vec![scrubbed.clone()],
                timelines: vec![customer.id],
                identities: vec![customer.identities[0].clone()],
                conversations: vec![clean.clone()],
                tombstones: Vec::new(),
                audit: erased.clone(),
            })
            .await,
        "erase",
    );
    assert_eq!(
        ok(store.timeline(customer.id, None, 100).await, "timeline"),
        vec![]
    );
    assert_eq!(
        ok(
            store.customer_by_identity(&customer.identities[0]).await,
            "identity"
        ),
        None
    );
    assert_eq!(
        ok(store.customer(customer.id).await, "customer"),
        Some(scrubbed)
    );
    assert_eq!(
        ok(store.conversation(conv.id).await, "conversation"),
        Some(clean.clone())
    );
    assert_eq!(
        ok(
            store.conversations_of(customer.id).await,
            "conversations_of"
        ),
        vec![clean]
    );
    // Nobody else's data moved.
    assert_eq!(
        ok(store.timeline(other.id, None, 10).await, "other timeline"),
        vec![other_event]
    );
    assert_eq!(
        ok(
            store.customer_by_identity(&kept_key).await,
            "other identity"
        ),
        Some(other.id)
    );
    // Erasing again is not an error.
    let again = super::AuditEntry {
        id: EventId::new(),
        ..erased.clone()
    };
    let no_op = super::Erasure {
        customers: vec![],
        timelines: vec![customer.id],
        identities: vec![customer.identities[0].clone()],
        conversations: vec![],
        tombstones: vec![],
        audit: again.clone(),
    };
    ok(store.erase(no_op).await, "erase again");
    let mine = |all: Vec<super::AuditEntry>| -> Vec<super::AuditEntry> {
        all.into_iter()
            .filter(|a| a.customer_id == Some(customer.id))
            .collect()
    };
    let log = mine(ok(store.audit_log(None, 100_000).await, "audit_log"));
    assert_eq!(
        log,
        vec![again.clone(), erased.clone(), first.clone()],
        "newest first"
    );
    let older = mine(ok(
        store.audit_log(Some(erased.id), 100_000).await,
        "audit before",
    ));
    assert_eq!(older, vec![first]);
    assert!(ok(store.audit_log(None, 0).await, "limit 0").is_empty());
}

/// The report log: read back by queue or for every queue, in (day, queue, event id)
/// order, only `from <= at < to`, across day partitions, at most `limit`, and a
/// rewritten event is not duplicated.
pub async fn report_events_by_queue_and_range(store: &SharedStore) {
    use domain::report::DAY_MS;
    use domain::{OfferOrigin, ReportEvent, ReportKind};
    // A day no other check (or earlier run on a shared database) writes to.
    let day = 20_000
        + i64::from(CustomerId::new().0.as_bytes()[0]) * 40
        + i64::from(CustomerId::new().0.as_bytes()[1] % 40);
    let base = day * DAY_MS;
    let (qa, qb) = (new_queue_name(), new_queue_name());
    let customer = CustomerId::new();
    let conv = ConversationId::new();
    let ev = |queue: &QueueName, at: i64, kind: ReportKind| ReportEvent {
        id: EventId::new(),
        at: Millis(base + at),
        queue: queue.clone(),
        channel: Channel::Line,
        conversation: conv,
        customer,
        agent: Some(new_agent_id()),
        // Every other one carries a difficulty: both forms read back as written.
        difficulty: (at % 2 == 0).then(|| domain::Proficiency::new(3).expect("3")),
        kind,
    };
    // Created in time order, so ids sort like `at` within a day.
    let a1 = ev(&qa, 1_000, ReportKind::offered(OfferOrigin::New));
    let b1 = ev(
        &qb,
        2_000,
        ReportKind::Abandoned {
            wait_ms: 900,
            left_unserved: false,
        },
    );
    let a2 = ev(&qa, DAY_MS - 1, ReportKind::Answered { wait_ms: 20_000 });
    let a3 = ev(
        &qa,
        DAY_MS + 5,
        ReportKind::WrapupDone {
            talk_ms: 60_000,
            wrap_ms: 15_000,
        },
    );
    let late = ev(
        &qa,
        3 * DAY_MS,
        ReportKind::Resolved {
            first_contact: true,
        },
    );
    let csat = ev(
        &qb,
        DAY_MS + 7,
        ReportKind::Csat {
            score: 4,
            scale_max: 5,
        },
    );
    for batch in [
        vec![late.clone(), a3.clone(), b1.clone()],
        vec![csat.clone(), a2.clone(), a1.clone()],
    ] {
        ok(
            store
                .commit(Batch {
                    report_events: batch,
                    ..Batch::default()
                })
                .await,
            "commit report events",
        );
    }
    let two_days = Millis(base + 2 * DAY_MS);
    let read = |q: Option<QueueName>, from: i64, to: Millis, limit: usize| {
        let store = Arc::clone(store);
        async move {
            ok(
                store
                    .report_events(q.as_ref(), Millis(base + from), to, limit)
                    .await,
                "report_events",
            )
        }
    };
    assert_eq!(
        read(Some(qa.clone()), 0, two_days, 100).await,
        vec![a1.clone(), a2.clone(), a3.clone()]
    );
    // Half-open: `to` itself is excluded, `from` included.
    assert_eq!(
        read(Some(qa.clone()), 1_000, Millis(base + DAY_MS - 1), 100).await,
        vec![a1.clone()]
    );
    assert_eq!(
        read(Some(qa.clone()), 0, two_days, 2).await,
        vec![a1.clone(), a2.clone()]
    );
    assert!(read(Some(qa.clone()), 5, Millis(base + 5), 100)
        .await
        .is_empty());
    // Every queue: day by day, queues in a fixed order inside a day, ids inside a queue.
    let ours: Vec<ReportEvent> = read(None, 0, two_days, usize::MAX)
        .await
        .into_iter()
        .filter(|e| e.queue == qa || e.queue == qb)
        .collect();
    let (day0, day1): (Vec<_>, Vec<_>) = ours.iter().partition(|e| e.at.0 < base + DAY_MS);
    assert_eq!(ours.len(), 5, "{ours:?}");
    assert_eq!(
        [day0.len(), day1.len()],
        [3, 2],
        "days are read in order: {ours:?}"
    );
    for part in [&day0, &day1] {
        let mut by_queue: Vec<&ReportEvent> = part.to_vec();
        by_queue.sort_by_key(|e| (e.queue != part[0].queue, e.id));
        assert_eq!(
            part, &by_queue,
            "one queue's events are contiguous and ordered"
        );
    }
    // Rewriting an event (a retried commit) does not duplicate it.
    ok(
        store
            .commit(Batch {
                report_events: vec![a1.clone()],
                ..Batch::default()
            })
            .await,
        "rewrite report event",
    );
    assert_eq!(
        read(Some(qa.clone()), 0, Millis(base + DAY_MS), 100).await,
        vec![a1, a2]
    );
    assert_eq!(read(Some(qb), 0, two_days, 100).await, vec![b1, csat]);
}

/// The presence log: one queue's events read back in time order across day
/// partitions, only `from <= at < to`, at most `limit`; other queues' and the report
/// log's events never mix in; a rewritten event is not duplicated.
pub async fn presence_by_queue_and_range(store: &SharedStore) {
    use domain::report::DAY_MS;
    use domain::PresenceEvent;
    let day = 20_000
        + i64::from(CustomerId::new().0.as_bytes()[0]) * 40
        + i64::from(CustomerId::new().0.as_bytes()[1] % 40);
    let base = day * DAY_MS;
    let (qa, qb) = (new_queue_name(), new_queue_name());
    let agent = new_agent_id();
    let ev = |queue: &QueueName, at: i64, routable: bool| PresenceEvent {
        id: EventId::new(),
        at: Millis(base + at),
        queue: queue.clone(),
        agent: agent.clone(),
        routable,
    };
    let on = ev(&qa, 1_000, true);
    let other = ev(&qb, 1_500, true);
    let off = ev(&qa, DAY_MS - 1, false);
    let next = ev(&qa, DAY_MS + 5, true);
    let late = ev(&qa, 3 * DAY_MS, false);
    ok(
        store
            .commit(Batch {
                presence: vec![late.clone(), next.clone(), other.clone()],
                ..Batch::default()
            })
            .await,
        "commit presence",
    );
    ok(
        store
            .commit(Batch {
                presence: vec![off.clone(), on.clone()],
                ..Batch::default()
            })
            .await,
        "commit presence",
    );
    let read = |q: &QueueName, from: i64, to: i64, limit: usize| {
        let (store, q) = (Arc::clone(store), q.clone());
        async move {
            ok(
                store
                    .presence_events(&q, Millis(base + from), Millis(base + to), limit)
                    .await,
                "presence_events",
            )
        }
    };
    let two_days = 2 * DAY_MS;
    assert_eq!(
        read(&qa, 0, two_days, 100).await,
        vec![on.clone(), off.clone(), next.clone()]
    );
    assert_eq!(read(&qa, 1_000, DAY_MS - 1, 100).await, vec![on.clone()]);
    assert_eq!(
        read(&qa, 0, two_days, 2).await,
        vec![on.clone(), off.clone()]
    );
    assert!(read(&qa, 0, two_days, 0).await.is_empty());
    assert_eq!(read(&qb, 0, two_days, 100).await, vec![other]);
    // Not report events: the report log of the same queue and days holds none of them.
    assert!(ok(
        store
            .report_events(Some(&qa), Millis(base), Millis(base + two_days), 100)
            .await,
        "report_events",
    )
    .is_empty());
    ok(
        store
            .commit(Batch {
                presence: vec![on.clone()],
                ..Batch::default()
            })
            .await,
        "rewrite presence",
    );
    assert_eq!(read(&qa, 0, DAY_MS, 100).await, vec![on, off]);
}

/// A reply written to the outbox with its event is pending until marked done, which
/// removes it; other pending entries are untouched. Rewriting an entry (marked
/// attempted) replaces it in place.
pub async fn outbox_until_done(store: &SharedStore) {
    let customer = new_customer();
    let conv = new_conversation(customer.id, ConversationState::Assigned, 1_000);
    let entry = |n: usize| {
        let e = new_event(customer.id, Some(conv.id), n);
        let o = super::OutboxEntry {
            event_id: e.id,
            customer_id: customer.id,
            conversation_id: conv.id,
            channel: Channel::Sms,
            to: "+819012345678".into(),
            text: format!("返信 {n}"),
            subject: None,
            references: vec!["m1@example.jp".into()],
            created_at: e.at,
            attempted: false,
            // The second goes out as a template: that it comes back the same is
            // checked with the rest of the entry.
            send_as: if n == 2 {
                domain::SendAs::Template(domain::TemplateMessage {
                    name: "order_update".into(),
                    language: "ja".into(),
                    parameters: vec!["山田".into()],
                })
            } else {
                domain::SendAs::Reply
            },
            // The second carries a stored file, kept with the entry.
            attachments: if n == 2 {
                vec![domain::Attachment {
                    kind: "file".into(),
                    name: Some("見積書.pdf".into()),
                    content_type: Some("application/pdf".into()),
                    size: Some(9),
                    url: None,
                    file: Some(domain::BlobId::of(b"%PDF-1.4\n")),
                }]
            } else {
                Vec::new()
            },
            // And its quick replies.
            quick_replies: if n == 2 {
                vec!["はい".into(), "いいえ".into()]
            } else {
                Vec::new()
            },
        };
        (e, o)
    };
    let (e1, o1) = entry(1);
    let (e2, o2) = entry(2);
    let batch = Batch {
        customers: vec![customer.clone()],
        conversations: vec![conv.clone()],
        events: vec![e1, e2],
        outbox: vec![o1.clone(), o2.clone()],
        ..Default::default()
    };
    ok(store.commit(batch).await, "commit outbox");
    let mine = |all: Vec<super::OutboxEntry>| -> Vec<super::OutboxEntry> {
        all.into_iter()
            .filter(|o| o.customer_id == customer.id)
            .collect()
    };
    let pending = mine(ok(store.pending_outbox(100_000).await, "pending_outbox"));
    assert_eq!(
        pending,
        vec![o1.clone(), o2.clone()],
        "oldest first, every field"
    );
    // Marked attempted before its provider call: an upsert of the same entry.
    let o2 = super::OutboxEntry {
        attempted: true,
        ..o2
    };
    ok(
        store
            .commit(Batch {
                outbox: vec![o2.clone()],
                ..Default::default()
            })
            .await,
        "mark attempted",
    );
    let pending = mine(ok(store.pending_outbox(100_000).await, "pending_outbox"));
    assert_eq!(pending, vec![o1.clone(), o2.clone()], "attempted is kept");
    ok(
        store
            .commit(Batch {
                outbox_done: vec![o1.event_id],
                ..Default::default()
            })
            .await,
        "commit done",
    );
    let pending = mine(ok(store.pending_outbox(100_000).await, "pending_outbox"));
    assert_eq!(pending, vec![o2.clone()]);
    ok(
        store
            .commit(Batch {
                outbox_done: vec![o2.event_id],
                ..Default::default()
            })
            .await,
        "commit done",
    );
    assert!(mine(ok(store.pending_outbox(100_000).await, "pending_outbox")).is_empty());
}

// ---------------------------------------------------------------------------------------
// Fixtures: every id and name is fresh.

fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn unique() -> String {
    CustomerId::new().0.simple().to_string()
}

/// A fresh chat identity.
pub fn new_identity() -> IdentityKey {
    IdentityKey::parse(Channel::Chat, &format!("conformance-{}", unique()))
        .expect("fixture identity parses")
}

fn new_agent_id() -> AgentId {
    AgentId::parse(&format!("conf-{}", unique())).expect("fixture agent id parses")
}

fn new_queue_name() -> QueueName {
    QueueName::parse(&format!("conf-{}", unique())).expect("fixture queue name parses")
}

/// A fresh customer with every field set.
pub fn new_customer() -> Customer {
    let mut attributes = BTreeMap::new();
    attributes.insert("tier".to_owned(), "gold".to_owned());
    attributes.insert("lang".to_owned(), "ja".to_owned());
    Customer {
        id: CustomerId::new(),
        display_name: Some("山田 花子".to_owned()),
        identities: vec![new_identity()],
        priority: 3,
        attributes,
        last_agent: Some(new_agent_id()),
        opted_out: [Channel::Sms].into(),
        merged_into: Some(CustomerId::new()),
        merged: vec![domain::MergedRecord {
            customer: CustomerId::new(),
            identities: vec![new_identity()],
            at: Millis(1_700_000_000_500),
        }],
        created_at: Millis(1_700_000_000_000),
    }
}

fn new_conversation(
    customer: CustomerId,
    state: ConversationState,
    created_at: i64,
) -> Conversation {
    let agent = new_agent_id();
    Conversation {
        id: ConversationId::new(),
        customer_id: customer,
        channel: Channel::Sms,
        queue: new_queue_name(),
        state,
        priority: 2,
        created_at: Millis(created_at),
        enqueued_at: Millis(created_at + 5),
        enqueue_seq: 42,
        agent: if state == ConversationState::Queued {
            None
        } else {
            Some(agent.clone())
        },
        preferred_agent: Some(agent),
        required_agent: None,
        disposition: None,
        requirements: Default::default(),
        updated_at: Millis(created_at + 10),
    }
}

fn new_event(
    customer: CustomerId,
    conversation: Option<ConversationId>,
    n: usize,
) -> TimelineEvent {
    TimelineEvent::new(
        customer,
        conversation,
        Millis(1_700_000_000_000 + n as i64),
        EventKind::MessageIn {
            channel: Channel::Chat,
            address: "visitor".to_owned(),
            text: format!("message {n}"),
            client_msg_id: Some(unique()),
            attachments: Vec::new(),
            subject: None,
        },
    )
}

fn new_trace(conversation: ConversationId, queue: &QueueName, step: &str) -> TraceEntry {
    TraceEntry {
        conversation_id: conversation,
        id: EventId::new(),
        at: Millis(1_700_000_000_000),
        queue: queue.clone(),
        step: step.to_owned(),
        agent: Some(new_agent_id()),
        detail: format!("strategy=longest_idle step={step}"),
    }
}

fn new_agent(id: AgentId, display_name: &str) -> AgentProfile {
    let mut skills = BTreeMap::new();
    skills.insert(
        Skill::parse("billing").expect("fixture skill parses"),
        Proficiency::new(4).expect("fixture proficiency"),
    );
    AgentProfile {
        id,
        display_name: display_name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        role: Role::Supervisor,
        skills,
        capacity: Capacity {
            voice: 1,
            chat: 4,
            email: 2,
            messaging: 3,
        },
        queues: vec![new_queue_name()],
        disabled: false,
        phone: Some("+815011112222".to_owned()),
    }
}

fn new_queue(name: QueueName) -> QueueConfig {
    let mut q = QueueConfig::new(name);
    q.strategy = RoutingStrategy::RoundRobin;
    q.default_for = vec![Channel::Chat, Channel::Email];
    q.max_waiting = 77;
    q
}

/// `events`, newest (largest id) first.
fn newest_first(events: &[TimelineEvent]) -> Vec<TimelineEvent> {
    let mut v = events.to_vec();
    v.sort_by_key(|e| std::cmp::Reverse(e.id));
    v
}

fn ids(events: &[TimelineEvent]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

async fn open_ids(store: &SharedStore) -> Vec<ConversationId> {
    ok(store.open_conversations().await, "open_conversations")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Checks.

/// `health` answers `Ok`.
pub async fn health(store: &SharedStore) {
    ok(store.health().await, "health");
}

/// An empty batch commits.
pub async fn empty_batch(store: &SharedStore) {
    assert!(Batch::default().is_empty());
    ok(store.commit(Batch::default()).await, "commit empty batch");
}

/// Lookups of ids nobody wrote find nothing.
pub async fn missing_records(store: &SharedStore) {
    let c = CustomerId::new();
    let conv = ConversationId::new();
    assert_eq!(ok(store.customer(c).await, "customer"), None);
    assert_eq!(
        ok(
            store.customer_by_identity(&new_identity()).await,
            "customer_by_identity"
        ),
        None
    );
    assert!(ok(store.timeline(c, None, 100).await, "timeline").is_empty());
    assert_eq!(ok(store.conversation(conv).await, "conversation"), None);
    assert!(ok(store.conversations_of(c).await, "conversations_of").is_empty());
    assert!(!open_ids(store).await.contains(&conv));
    assert_eq!(ok(store.agent(&new_agent_id()).await, "agent"), None);
    assert!(ok(store.trace(conv).await, "trace").is_empty());
    assert_eq!(
        ok(
            store.setting(&format!("conformance.{}", unique())).await,
            "setting"
        ),
        None
    );
}

/// One batch holding every record type; each reads back equal.
pub async fn round_trip_every_record(store: &SharedStore) {
    let customer = new_customer();
    let key = new_identity();
    let conv = new_conversation(customer.id, ConversationState::Queued, 1_000);
    let events: Vec<_> = (0..3)
        .map(|n| new_event(customer.id, Some(conv.id), n))
        .collect();
    let agent = new_agent(new_agent_id(), "Alice");
    let queue = new_queue(new_queue_name());
    let traces = vec![
        new_trace(conv.id, &queue.name, "enqueued"),
        new_trace(conv.id, &queue.name, "offered"),
    ];
    let setting_key = format!("conformance.{}", unique());
    let setting_value = vec![0u8, 1, 2, 255, b'x'];
    let batch = Batch {
        customers: vec![customer.clone()],
        identities: vec![(key.clone(), customer.id)],
        events: events.clone(),
        conversations: vec![conv.clone()],
        agents: vec![agent.clone()],
        queues: vec![queue.clone()],
        traces: traces.clone(),
        settings: vec![(setting_key.clone(), setting_value.clone())],
        ..Default::default()
    };
    assert!(!batch.is_empty());
    ok(store.commit(batch).await, "commit");

    assert_eq!(
        ok(store.customer(customer.id).await, "customer"),
        Some(customer.clone())
    );
    assert_eq!(
        ok(
            store.customer_by_identity(&key).await,
            "customer_by_identity"
        ),
        Some(customer.id)
    );
    assert_eq!(
        ok(store.timeline(customer.id, None, 100).await, "timeline"),
        newest_first(&events)
    );
    assert_eq!(
        ok(store.conversation(conv.id).await, "conversation"),
        Some(conv.clone())
    );
    assert_eq!(
        ok(
            store.conversations_of(customer.id).await,
            "conversations_of"
        ),
        vec![conv.clone()]
    );
    let open = ok(store.open_conversations().await, "open_conversations");
    assert_eq!(
        open.iter().filter(|c| c.id == conv.id).collect::<Vec<_>>(),
        vec![&conv]
    );
    assert_eq!(
        ok(store.agent(&agent.id).await, "agent"),
        Some(agent.clone())
    );
    let agents = ok(store.agents().await, "agents");
    assert_eq!(
        agents
            .iter()
            .filter(|a| a.id == agent.id)
            .collect::<Vec<_>>(),
        vec![&agent]
    );
    let queues = ok(store.queues().await, "queues");
    assert_eq!(
        queues
            .iter()
            .filter(|q| q.name == queue.name)
            .collect::<Vec<_>>(),
        vec![&queue]
    );
    assert_eq!(ok(store.trace(conv.id).await, "trace"), traces);
    assert_eq!(
        ok(store.setting(&setting_key).await, "setting"),
        Some(setting_value)
    );
}

/// A customer written again replaces the earlier version.
pub async fn customer_overwrite(store: &SharedStore) {
    let mut c = new_customer();
    for priority in 0..5 {
        c.priority = priority;
        c.attributes
            .insert("round".to_owned(), priority.to_string());
        ok(
            store
                .commit(Batch {
                    customers: vec![c.clone()],
                    ..Batch::default()
                })
                .await,
            "commit customer",
        );
        assert_eq!(ok(store.customer(c.id).await, "customer"), Some(c.clone()));
    }
    c.display_name = None;
    c.last_agent = None;
    c.identities.clear();
    ok(
        store
            .commit(Batch {
                customers: vec![c.clone()],
                ..Batch::default()
            })
            .await,
        "commit customer",
    );
    assert_eq!(ok(store.customer(c.id).await, "customer"), Some(c));
}

/// Newest first by event id (not by insertion order); `before` is exclusive; `limit`
/// caps the page; paging with the last id of a page walks the whole timeline once.
/// Every streamed event committed gets its journal row (`crate::journal`), in its
/// hour's kind, in time order, with references only; an event the stream leaves out
/// gets none, and committing an event again adds no second row.
pub async fn journal_rows_with_their_events(store: &SharedStore) {
    use crate::journal;
    let c = CustomerId::new();
    let conv = ConversationId::new();
    // An hour no other case writes in: its kind holds exactly this case's rows.
    let base = 1_000_000_000_000 + (rand_u16() as i64) * journal::HOUR_MS;
    let at = |n: usize| Millis(base + n as i64);
    let mut events: Vec<TimelineEvent> = (0..3)
        .map(|n| {
            let mut e = new_event(c, Some(conv), n);
            e.at = at(n);
            e
        })
        .collect();
    let queued = TimelineEvent::new(
        c,
        Some(conv),
        at(3),
        EventKind::Queued {
            queue: new_queue_name(),
            priority: 0,
        },
    );
    events.push(queued);
    for batch in [events.clone(), vec![events[1].clone()]] {
        ok(
            store
                .commit(Batch {
                    events: batch,
                    ..Batch::default()
                })
                .await,
            "commit events",
        );
    }
    let kind = journal::kind_of(journal::hour_of(at(0)));
    let rows = ok(store.records(&kind, None, 100).await, "journal rows");
    let keys: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
    let want: Vec<String> = events[..3]
        .iter()
        .map(|e| journal::key_of(e.at, e.id))
        .collect();
    assert_eq!(keys, want, "one row per streamed event, in time order");
    for (_, value) in &rows {
        let entry: journal::Entry = serde_json::from_slice(value).expect("journal entry");
        assert_eq!(entry.customer, c);
        assert_eq!(entry.conversation, Some(conv));
        assert_eq!(entry.stream_type, "message.received");
    }
}

fn rand_u16() -> u16 {
    let b = *CustomerId::new().as_bytes();
    u16::from_le_bytes([b[0], b[1]])
}

pub async fn timeline_order_and_paging(store: &SharedStore) {
    let c = CustomerId::new();
    let events: Vec<_> = (0..10).map(|n| new_event(c, None, n)).collect();
    for w in events.windows(2) {
        assert!(w[0].id < w[1].id, "EventId::new() must be increasing");
    }
    // Written out of order: the newest half first, then the older half reversed, one
    // event in a batch of its own.
    let mut older: Vec<_> = events[..5].to_vec();
    older.reverse();
    for batch in [events[5..9].to_vec(), older, vec![events[9].clone()]] {
        ok(
            store
                .commit(Batch {
                    events: batch,
                    ..Batch::default()
                })
                .await,
            "commit events",
        );
    }
    let all_newest_first = newest_first(&events);
    assert_eq!(
        ok(store.timeline(c, None, 100).await, "timeline"),
        all_newest_first
    );
    assert_eq!(
        ok(
            store.timeline(c, None, usize::MAX).await,
            "timeline, limit usize::MAX"
        ),
        all_newest_first
    );
    assert!(ok(store.timeline(c, None, 0).await, "timeline, limit 0").is_empty());
    assert_eq!(
        ok(store.timeline(c, None, 3).await, "timeline, limit 3"),
        all_newest_first[..3].to_vec()
    );

    // `before` is exclusive.
    assert_eq!(
        ids(&ok(
            store.timeline(c, Some(events[5].id), 100).await,
            "before e5"
        )),
        ids(&newest_first(&events[..5]))
    );
    assert!(ok(
        store.timeline(c, Some(events[0].id), 100).await,
        "before oldest"
    )
    .is_empty());
    assert!(ok(
        store.timeline(c, Some(EventId::MIN), 100).await,
        "before MIN"
    )
    .is_empty());
    assert_eq!(
        ok(
            store.timeline(c, Some(EventId::new()), 100).await,
            "before a newer id"
        ),
        all_newest_first
    );
    assert_eq!(
        ok(
            store.timeline(c, Some(EventId::MAX), 100).await,
            "before MAX"
        ),
        all_newest_first
    );

    // Paging by 3: 3 + 3 + 3 + 1, then nothing.
    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = Vec::new();
    loop {
        let page = ok(store.timeline(c, before, 3).await, "timeline page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        pages.push(page.len());
        before = page.last().map(|e| e.id);
        seen.extend(page);
        assert!(pages.len() <= 10, "paging does not terminate");
    }
    assert_eq!(pages, vec![3, 3, 3, 1]);
    assert_eq!(seen, all_newest_first);
}

/// A customer's timeline holds its own events only, even for customers whose ids are
/// byte-adjacent.
pub async fn timeline_isolation(store: &SharedStore) {
    let base = CustomerId::new();
    let mut up = *base.as_bytes();
    up[15] = up[15].wrapping_add(1);
    let mut down = *base.as_bytes();
    down[15] = down[15].wrapping_sub(1);
    let customers = [
        base,
        CustomerId::from_bytes(up),
        CustomerId::from_bytes(down),
    ];
    let mut mine: Vec<Vec<TimelineEvent>> = vec![Vec::new(); customers.len()];
    let mut batch = Batch::default();
    // Interleaved in time, all in one batch.
    for n in 0..12 {
        let i = n % customers.len();
        let e = new_event(customers[i], None, n);
        mine[i].push(e.clone());
        batch.events.push(e);
    }
    ok(store.commit(batch).await, "commit interleaved events");
    for (c, events) in customers.iter().zip(&mine) {
        let got = ok(store.timeline(*c, None, 100).await, "timeline");
        assert_eq!(got, newest_first(events));
        assert!(got.iter().all(|e| e.customer_id == *c));
        // `before` taken from another customer's (newer) event still pages mine only.
        let newest_overall = mine.iter().flatten().map(|e| e.id).max();
        let got = ok(
            store.timeline(*c, newest_overall, 100).await,
            "timeline before",
        );
        assert!(got.iter().all(|e| e.customer_id == *c));
    }
}

/// Once `commit` returns every part of the batch is visible, and a concurrent reader
/// never sees part of a batch: reading the conversation first, then the customer, then
/// the timeline, seeing an earlier part means seeing the later parts.
pub async fn batch_visible_atomically(store: &SharedStore) {
    let customer = new_customer();
    let conv = new_conversation(customer.id, ConversationState::Queued, 5_000);
    let events: Vec<_> = (0..5)
        .map(|n| new_event(customer.id, Some(conv.id), n))
        .collect();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let store = Arc::clone(store);
        let done = Arc::clone(&done);
        let (cid, conv_id, n_events) = (customer.id, conv.id, events.len());
        tokio::spawn(async move {
            let mut empty_views = 0u64;
            loop {
                let stop = done.load(Ordering::SeqCst);
                let conv_seen = ok(store.conversation(conv_id).await, "conversation").is_some();
                let customer_seen = ok(store.customer(cid).await, "customer").is_some();
                let events_seen = ok(store.timeline(cid, None, 100).await, "timeline").len();
                if conv_seen {
                    assert!(customer_seen, "conversation visible before its customer");
                }
                if customer_seen {
                    assert_eq!(events_seen, n_events, "customer visible before its events");
                }
                if !conv_seen && !customer_seen && events_seen == 0 {
                    empty_views += 1;
                }
                if stop {
                    // The flag was set after `commit` returned: all must be visible.
                    assert!(conv_seen && customer_seen && events_seen == n_events);
                    return empty_views;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    ok(
        store
            .commit(Batch {
                customers: vec![customer.clone()],
                events: events.clone(),
                conversations: vec![conv.clone()],
                ..Batch::default()
            })
            .await,
        "commit",
    );
    done.store(true, Ordering::SeqCst);
    assert_eq!(
        ok(store.customer(customer.id).await, "customer"),
        Some(customer.clone())
    );
    assert_eq!(
        ok(store.conversation(conv.id).await, "conversation"),
        Some(conv.clone())
    );
    assert_eq!(
        ok(store.timeline(customer.id, None, 100).await, "timeline"),
        newest_first(&events)
    );
    assert_eq!(
        ok(
            store.conversations_of(customer.id).await,
            "conversations_of"
        ),
        vec![conv.clone()]
    );
    assert!(open_ids(store).await.contains(&conv.id));
    let _empty_views = reader.await.expect("reader task panicked");
}

/// Once `commit` returns every part of the batch is visible, and a concurrent reader
/// never sees a record before the records it refers to: an identity before its
/// customer, a timeline event before its conversation, a conversation before its
/// customer. Each reader pass reads the referrer first, then the referent, so a
/// backend that writes referents first passes even without atomicity.
pub async fn batch_visible_in_reference_order(store: &SharedStore) {
    let customer = new_customer();
    let key = new_identity();
    let conv = new_conversation(customer.id, ConversationState::Queued, 6_000);
    let events: Vec<_> = (0..4)
        .map(|n| new_event(customer.id, Some(conv.id), n))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = Arc::clone(store);
        let done = Arc::clone(&done);
        let (cid, conv_id, key, n_events) = (customer.id, conv.id, key.clone(), events.len());
        tokio::spawn(async move {
            loop {
                let stop = done.load(Ordering::SeqCst);
                let linked = ok(
                    store.customer_by_identity(&key).await,
                    "customer_by_identity",
                );
                let events_seen = ok(store.timeline(cid, None, 100).await, "timeline").len();
                let conv_seen = ok(store.conversation(conv_id).await, "conversation").is_some();
                let customer_seen = ok(store.customer(cid).await, "customer").is_some();
                if let Some(id) = linked {
                    assert_eq!(id, cid);
                    assert!(customer_seen, "identity visible before its customer");
                }
                if events_seen > 0 {
                    assert!(conv_seen, "event visible before its conversation");
                }
                if conv_seen {
                    assert!(customer_seen, "conversation visible before its customer");
                }
                if stop {
                    assert!(linked.is_some() && conv_seen && customer_seen);
                    assert_eq!(events_seen, n_events);
                    return;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    ok(
        store
            .commit(Batch {
                customers: vec![customer.clone()],
                identities: vec![(key.clone(), customer.id)],
                events: events.clone(),
                conversations: vec![conv.clone()],
                ..Batch::default()
            })
            .await,
        "commit",
    );
    done.store(true, Ordering::SeqCst);
    reader.await.expect("reader task panicked");
    assert_eq!(
        ok(store.timeline(customer.id, None, 100).await, "timeline"),
        newest_first(&events)
    );
}

/// `open_conversations` follows `state.is_open()` through every upsert (a parked
/// conversation is open).
pub async fn open_conversation_index(store: &SharedStore) {
    let customer = CustomerId::new();
    let mut conv = new_conversation(customer, ConversationState::Queued, 1_000);
    let steps = [
        ConversationState::Queued,
        ConversationState::Assigned,
        ConversationState::WrapUp,
        ConversationState::Resolved,
        ConversationState::Queued,
        ConversationState::Abandoned,
        ConversationState::Assigned,
        ConversationState::Parked,
        ConversationState::Queued,
    ];
    for (i, state) in steps.into_iter().enumerate() {
        conv.state = state;
        // Parked: no agent holds it, the one who parked it is the preferred one.
        let parked = state == ConversationState::Parked;
        conv.agent = (!parked).then(|| AgentId::parse("amy").unwrap());
        conv.preferred_agent = parked.then(|| AgentId::parse("amy").unwrap());
        conv.updated_at = Millis(2_000 + i as i64);
        conv.disposition = (!state.is_open()).then(|| format!("done-{i}"));
        ok(
            store
                .commit(Batch::default().conversation(conv.clone()))
                .await,
            "commit",
        );
        assert_eq!(
            ok(store.conversation(conv.id).await, "conversation"),
            Some(conv.clone())
        );
        let open = ok(store.open_conversations().await, "open_conversations");
        let mine: Vec<_> = open.iter().filter(|c| c.id == conv.id).collect();
        if state.is_open() {
            assert_eq!(mine, vec![&conv], "open after upsert to {}", state.as_str());
        } else {
            assert!(
                mine.is_empty(),
                "still open after upsert to {}",
                state.as_str()
            );
        }
        assert_eq!(
            ok(store.conversations_of(customer).await, "conversations_of"),
            vec![conv.clone()],
            "an upsert must not duplicate the conversation"
        );
    }

    // Two conversations in one batch: one opens, one closes.
    let mut a = new_conversation(customer, ConversationState::Queued, 3_000);
    let b = new_conversation(customer, ConversationState::Resolved, 3_001);
    ok(
        store
            .commit(
                Batch::default()
                    .conversation(a.clone())
                    .conversation(b.clone()),
            )
            .await,
        "commit",
    );
    let open = open_ids(store).await;
    assert!(open.contains(&a.id) && !open.contains(&b.id));
    // The same conversation twice in one batch: the later version wins.
    a.state = ConversationState::Assigned;
    let mut a_closed = a.clone();
    a_closed.state = ConversationState::Resolved;
    ok(
        store
            .commit(
                Batch::default()
                    .conversation(a.clone())
                    .conversation(a_closed.clone()),
            )
            .await,
        "commit",
    );
    assert_eq!(
        ok(store.conversation(a.id).await, "conversation"),
        Some(a_closed)
    );
    assert!(!open_ids(store).await.contains(&a.id));
}

/// `conversations_of` lists the customer's conversations only, newest `created_at`
/// first, whatever the write order; a conversation re-written with another
/// `customer_id` belongs to that customer only.
pub async fn conversations_of_order(store: &SharedStore) {
    let customer = CustomerId::new();
    let other = CustomerId::new();
    let middle = new_conversation(customer, ConversationState::Resolved, 2_000);
    let oldest = new_conversation(customer, ConversationState::Queued, 1_000);
    let newest = new_conversation(customer, ConversationState::Assigned, 3_000);
    let foreign = new_conversation(other, ConversationState::Queued, 2_500);
    for c in [&middle, &oldest, &foreign, &newest] {
        ok(
            store.commit(Batch::default().conversation(c.clone())).await,
            "commit",
        );
    }
    assert_eq!(
        ok(store.conversations_of(customer).await, "conversations_of"),
        vec![newest.clone(), middle.clone(), oldest.clone()]
    );
    assert_eq!(
        ok(store.conversations_of(other).await, "conversations_of"),
        vec![foreign.clone()]
    );
    // An update keeps the order and the count.
    let mut oldest2 = oldest.clone();
    oldest2.state = ConversationState::WrapUp;
    ok(
        store
            .commit(Batch::default().conversation(oldest2.clone()))
            .await,
        "commit",
    );
    assert_eq!(
        ok(store.conversations_of(customer).await, "conversations_of"),
        vec![newest.clone(), middle.clone(), oldest2.clone()]
    );
    // A conversation re-written with another customer is that customer's only.
    let mut moved = middle.clone();
    moved.customer_id = other;
    ok(
        store
            .commit(Batch::default().conversation(moved.clone()))
            .await,
        "commit",
    );
    assert_eq!(
        ok(store.conversations_of(customer).await, "conversations_of"),
        vec![newest, oldest2]
    );
    assert_eq!(
        ok(store.conversations_of(other).await, "conversations_of"),
        vec![foreign, moved]
    );
}

/// A conversation's own required skills (`requirements`) read back as written through
/// every read of a conversation (`conversation`, `conversations_of`,
/// `open_conversations`), whether its row is written plainly or under a lease; none
/// reads back as none, and a rewrite replaces them (with others, or with none: nothing
/// of the earlier set is left behind).
pub async fn conversation_requirements(store: &SharedStore) {
    let floors = |pairs: &[(&str, u8)]| -> SkillFloors {
        pairs
            .iter()
            .map(|(s, p)| {
                (
                    Skill::parse(s).expect("fixture skill parses"),
                    Proficiency::new(*p).expect("fixture proficiency"),
                )
            })
            .collect()
    };
    let customer = new_customer();
    let mut needs = new_conversation(customer.id, ConversationState::Queued, 1_000);
    needs.requirements = floors(&[("billing", 4), ("lang-ja", 1)]);
    let plain = new_conversation(customer.id, ConversationState::Queued, 2_000);
    assert!(plain.requirements.is_empty());
    // Every read path gives back exactly `expected` (newest first), all of them open.
    let reads_back = |expected: Vec<Conversation>, what: &'static str| async move {
        for c in &expected {
            assert_eq!(
                ok(store.conversation(c.id).await, "conversation"),
                Some(c.clone()),
                "conversation: {what}"
            );
        }
        assert_eq!(
            ok(
                store.conversations_of(customer.id).await,
                "conversations_of"
            ),
            expected,
            "conversations_of: {what}"
        );
        let open = ok(store.open_conversations().await, "open_conversations");
        let mine: Vec<_> = open
            .into_iter()
            .filter(|c| c.customer_id == customer.id)
            .collect();
        assert_eq!(mine.len(), expected.len(), "open_conversations: {what}");
        for c in &expected {
            assert!(mine.contains(c), "open_conversations: {what}: {c:?}");
        }
    };
    ok(
        store
            .commit(
                Batch::default()
                    .conversation(needs.clone())
                    .conversation(plain.clone()),
            )
            .await,
        "commit",
    );
    reads_back(vec![plain.clone(), needs.clone()], "written").await;

    // Rewritten with other floors, then with none.
    needs.state = ConversationState::Assigned;
    needs.agent = Some(new_agent_id());
    needs.requirements = floors(&[("billing", 2)]);
    ok(
        store
            .commit(Batch::default().conversation(needs.clone()))
            .await,
        "commit",
    );
    reads_back(vec![plain.clone(), needs.clone()], "replaced").await;
    needs.requirements.clear();
    ok(
        store
            .commit(Batch::default().conversation(needs.clone()))
            .await,
        "commit",
    );
    reads_back(vec![plain.clone(), needs.clone()], "cleared").await;

    // The same under a lease (the fenced rewrite of the conversation row).
    let under_lease = |c: &Conversation| Batch {
        customers: vec![customer.clone()],
        conversations: vec![c.clone()],
        leases: BTreeMap::from([(
            customer.id,
            super::RowLease {
                key: "shard/requirements".into(),
                epoch: 1,
            },
        )]),
        ..Default::default()
    };
    needs.requirements = floors(&[("billing", 4), ("lang-ja", 1)]);
    ok(
        store.commit(under_lease(&needs)).await,
        "commit under a lease",
    );
    reads_back(vec![plain.clone(), needs.clone()], "written under a lease").await;
    needs.requirements.clear();
    ok(
        store.commit(under_lease(&needs)).await,
        "commit under a lease",
    );
    reads_back(vec![plain, needs], "cleared under a lease").await;
}

/// `customer_by_identity`: none, then the linked customer; `Batch.identities`
/// overwrites, and `resolve_or_create` then finds the new link.
pub async fn identity_links(store: &SharedStore) {
    let key = new_identity();
    let (first, second) = (CustomerId::new(), CustomerId::new());
    assert_eq!(
        ok(
            store.customer_by_identity(&key).await,
            "customer_by_identity"
        ),
        None
    );
    for id in [first, second] {
        ok(
            store
                .commit(Batch {
                    identities: vec![(key.clone(), id)],
                    ..Batch::default()
                })
                .await,
            "commit identity",
        );
        assert_eq!(
            ok(
                store.customer_by_identity(&key).await,
                "customer_by_identity"
            ),
            Some(id)
        );
    }
    let mut fresh = new_customer();
    fresh.identities = vec![key.clone()];
    assert_eq!(
        ok(
            store.resolve_or_create(&key, fresh.clone()).await,
            "resolve_or_create"
        ),
        (second, false)
    );
    assert_eq!(ok(store.customer(fresh.id).await, "customer"), None);
    // Another identity of the same channel is unaffected.
    assert_eq!(
        ok(
            store.customer_by_identity(&new_identity()).await,
            "customer_by_identity"
        ),
        None
    );
}

/// The first `resolve_or_create` creates the customer (readable, mapped); the next,
/// with another new customer, returns the first id and creates nothing.
pub async fn resolve_or_create_idempotent(store: &SharedStore) {
    let key = new_identity();
    let mut a = new_customer();
    a.identities.push(key.clone());
    let mut b = new_customer();
    b.identities = vec![key.clone()];

    assert_eq!(
        ok(
            store.resolve_or_create(&key, a.clone()).await,
            "resolve_or_create"
        ),
        (a.id, true)
    );
    let stored = ok(store.customer(a.id).await, "customer").expect("created customer is readable");
    assert_eq!(stored, a);
    assert!(stored.identities.contains(&key));
    assert_eq!(
        ok(
            store.customer_by_identity(&key).await,
            "customer_by_identity"
        ),
        Some(a.id)
    );

    assert_eq!(
        ok(
            store.resolve_or_create(&key, b.clone()).await,
            "resolve_or_create again"
        ),
        (a.id, false)
    );
    assert_eq!(
        ok(store.customer(b.id).await, "customer"),
        None,
        "loser was created"
    );
    assert_eq!(ok(store.customer(a.id).await, "customer"), Some(a.clone()));
    assert_eq!(
        ok(
            store.customer_by_identity(&key).await,
            "customer_by_identity"
        ),
        Some(a.id)
    );
}

/// `n` tasks race `resolve_or_create` on one new key: all get the same id, exactly one
/// gets `created = true`, and only the winner's customer exists.
pub async fn resolve_or_create_race(store: &SharedStore, n: usize) {
    let key = new_identity();
    let mut tasks = tokio::task::JoinSet::new();
    let start = Arc::new(tokio::sync::Barrier::new(n));
    for _ in 0..n {
        let store = Arc::clone(store);
        let key = key.clone();
        let start = Arc::clone(&start);
        let mut c = new_customer();
        c.identities = vec![key.clone()];
        tasks.spawn(async move {
            let mine = c.id;
            start.wait().await;
            let got = ok(store.resolve_or_create(&key, c).await, "resolve_or_create");
            (mine, got)
        });
    }
    let mut results = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        results.push(r.expect("racing task panicked"));
    }
    assert_eq!(results.len(), n);
    let winner = results[0].1 .0;
    assert!(
        results.iter().all(|(_, (id, _))| *id == winner),
        "racers disagree on the customer id"
    );
    let created: Vec<_> = results
        .iter()
        .filter(|(_, (_, created))| *created)
        .collect();
    assert_eq!(created.len(), 1, "exactly one racer must create");
    assert_eq!(
        created[0].0, winner,
        "the creator's customer is the one returned"
    );
    assert_eq!(
        ok(
            store.customer_by_identity(&key).await,
            "customer_by_identity"
        ),
        Some(winner)
    );
    assert!(ok(store.customer(winner).await, "customer").is_some());
    for (mine, _) in &results {
        if *mine != winner {
            assert_eq!(
                ok(store.customer(*mine).await, "customer"),
                None,
                "loser was created"
            );
        }
    }
}

/// A conversation's trace, oldest first by entry id, whatever the write order, and
/// only that conversation's entries.
pub async fn trace_order(store: &SharedStore) {
    let conv = ConversationId::new();
    let other = ConversationId::new();
    let queue = new_queue_name();
    let steps = [
        "enqueued",
        "considered",
        "skipped",
        "offered",
        "timed_out",
        "requeued",
    ];
    let entries: Vec<_> = steps.iter().map(|s| new_trace(conv, &queue, s)).collect();
    let foreign = new_trace(other, &queue, "enqueued");
    for (i, e) in entries.iter().enumerate().rev() {
        let mut traces = vec![e.clone()];
        if i == 2 {
            traces.push(foreign.clone());
        }
        ok(
            store
                .commit(Batch {
                    traces,
                    ..Batch::default()
                })
                .await,
            "commit trace",
        );
    }
    assert_eq!(ok(store.trace(conv).await, "trace"), entries);
    assert_eq!(ok(store.trace(other).await, "trace"), vec![foreign]);
}

/// Settings overwrite; an empty value is a value, not an absence.
/// `writers` concurrent first writes of one setting, each with its own value (nodes
/// starting together, each making the shared key): all are answered the same value,
/// it is one of theirs, and it is what the store keeps; a later call keeps it too.
pub async fn setting_if_absent_race(store: &SharedStore, writers: u8) {
    let key = format!("conformance.once.{}", unique());
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = Arc::clone(store);
        let key = key.clone();
        tasks.spawn(async move { store.setting_if_absent(&key, vec![w; 32]).await });
    }
    let mut answers = Vec::new();
    while let Some(r) = tasks.join_next().await {
        answers.push(ok(r.expect("writer panicked"), "setting_if_absent"));
    }
    let kept = answers[0].clone();
    assert!(
        answers.iter().all(|a| *a == kept),
        "one value for all: {answers:?}"
    );
    assert!(
        kept.len() == 32 && kept[0] < writers,
        "one of theirs: {kept:?}"
    );
    assert_eq!(ok(store.setting(&key).await, "setting"), Some(kept.clone()));
    assert_eq!(
        ok(
            store.setting_if_absent(&key, b"late".to_vec()).await,
            "late"
        ),
        kept
    );
}

pub async fn settings_overwrite(store: &SharedStore) {
    let key = format!("conformance.{}", unique());
    for value in [
        b"first".to_vec(),
        b"second".to_vec(),
        Vec::new(),
        vec![0xff; 300],
    ] {
        ok(
            store
                .commit(Batch {
                    settings: vec![(key.clone(), value.clone())],
                    ..Batch::default()
                })
                .await,
            "commit setting",
        );
        assert_eq!(ok(store.setting(&key).await, "setting"), Some(value));
    }
    // Within one batch the later write wins.
    ok(
        store
            .commit(Batch {
                settings: vec![(key.clone(), b"a".to_vec()), (key.clone(), b"b".to_vec())],
                ..Batch::default()
            })
            .await,
        "commit setting twice",
    );
    assert_eq!(
        ok(store.setting(&key).await, "setting"),
        Some(b"b".to_vec())
    );
}

/// The generic records table: upsert, delete, bytewise key order, paging with `after`,
/// isolation between kinds (a kind that is a prefix of another included), later write
/// wins within a batch, and records commit atomically with timeline events.
pub async fn records_put_delete_and_page(store: &SharedStore) {
    let kind = format!("conf{}", unique());
    let longer = format!("{kind}x");
    let keys = ["b", "a", "a\u{3042}", "0009", "0010", "z"];
    let mut batch = Batch::default();
    for k in keys {
        batch
            .records
            .push(RecordWrite::put(&kind, k, format!("v-{k}").into_bytes()));
    }
    batch
        .records
        .push(RecordWrite::put(&longer, "a", b"other".to_vec()));
    batch
        .records
        .push(RecordWrite::put(&kind, "z", b"last".to_vec()));
    ok(store.commit(batch).await, "commit records");
    let all = ok(store.records(&kind, None, 100).await, "records");
    let got: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        got,
        ["0009", "0010", "a", "a\u{3042}", "b", "z"],
        "bytewise key order"
    );
    assert_eq!(all[5].1, b"last".to_vec(), "later write in a batch wins");
    let page = ok(store.records(&kind, Some("a"), 2).await, "records after");
    let got: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(got, ["a\u{3042}", "b"], "after is exclusive, limit applies");
    let through = |after: Option<&'static str>, until: &'static str, limit| {
        let (store, kind) = (store.clone(), kind.clone());
        async move {
            let rows = ok(
                store.records_through(&kind, after, until, limit).await,
                "records through",
            );
            rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        through(None, "a", 10).await,
        ["0009", "0010", "a"],
        "until is inclusive"
    );
    assert_eq!(
        through(Some("0009"), "a\u{3042}", 2).await,
        ["0010", "a"],
        "after is exclusive, limit applies"
    );
    assert_eq!(through(Some("a"), "b", 10).await, ["a\u{3042}", "b"]);
    assert!(
        through(Some("a"), "a~", 10).await.is_empty(),
        "bytewise: U+3042 sorts after '~'"
    );
    assert!(through(None, "0", 10).await.is_empty());
    assert_eq!(
        ok(store.record(&kind, "0010").await, "record"),
        Some(b"v-0010".to_vec())
    );
    assert_eq!(ok(store.record(&kind, "nope").await, "record"), None);
    assert_eq!(
        ok(store.records(&longer, None, 10).await, "other kind").len(),
        1,
        "kinds are separate even when one is a prefix of the other"
    );
    let customer = new_customer();
    let event = TimelineEvent {
        id: EventId::new(),
        customer_id: customer.id,
        conversation_id: None,
        at: Millis(1),
        kind: EventKind::Note {
            agent_id: AgentId::parse("conformance").expect("agent id"),
            text: "with a record".into(),
        },
    };
    ok(
        store
            .commit(Batch {
                customers: vec![customer.clone()],
                events: vec![event],
                records: vec![
                    RecordWrite::delete(&kind, "a"),
                    RecordWrite::delete(&kind, "zz"),
                ],
                ..Batch::default()
            })
            .await,
        "commit delete with an event",
    );
    assert_eq!(
        ok(store.record(&kind, "a").await, "record"),
        None,
        "deleted"
    );
    assert_eq!(
        ok(store.records(&kind, None, 100).await, "records").len(),
        5
    );
    assert_eq!(
        ok(store.timeline(customer.id, None, 10).await, "timeline").len(),
        1
    );
}

/// Agents are keyed by id and queues by name: writing again replaces, never duplicates.
pub async fn agents_and_queues_overwrite(store: &SharedStore) {
    let id = new_agent_id();
    let name = new_queue_name();
    let mut agent = new_agent(id.clone(), "Bob");
    let mut queue = new_queue(name.clone());
    for round in 0..3u16 {
        agent.display_name = format!("Bob {round}");
        agent.capacity.chat = round + 1;
        agent.disabled = round == 2;
        queue.display_name = format!("Queue {round}");
        queue.offer_timeout_ms = 1_000 * u64::from(round + 1);
        ok(
            store
                .commit(Batch {
                    agents: vec![agent.clone()],
                    queues: vec![queue.clone()],
                    ..Batch::default()
                })
                .await,
            "commit agent and queue",
        );
        assert_eq!(ok(store.agent(&id).await, "agent"), Some(agent.clone()));
        let agents = ok(store.agents().await, "agents");
        assert_eq!(
            agents.iter().filter(|a| a.id == id).collect::<Vec<_>>(),
            vec![&agent]
        );
        let queues = ok(store.queues().await, "queues");
        assert_eq!(
            queues.iter().filter(|q| q.name == name).collect::<Vec<_>>(),
            vec![&queue]
        );
    }
}

/// `n` concurrent commits all succeed and all are visible afterwards.
pub async fn concurrent_commits(store: &SharedStore, n: usize) {
    let customer = CustomerId::new();
    let prefix = format!("conformance.{}.", unique());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let store = Arc::clone(store);
        let key = format!("{prefix}{i}");
        tasks.spawn(async move {
            let e = new_event(customer, None, i);
            let id = e.id;
            ok(
                store
                    .commit(Batch {
                        events: vec![e],
                        settings: vec![(key, i.to_string().into_bytes())],
                        ..Batch::default()
                    })
                    .await,
                "concurrent commit",
            );
            id
        });
    }
    let mut written = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        written.push(r.expect("committing task panicked"));
    }
    written.sort();
    written.reverse();
    let got = ok(store.timeline(customer, None, usize::MAX).await, "timeline");
    assert_eq!(ids(&got), written);
    for i in 0..n {
        assert_eq!(
            ok(store.setting(&format!("{prefix}{i}")).await, "setting"),
            Some(i.to_string().into_bytes())
        );
    }
}

/// The coordination contract ([`super::coordination::Coordination`]) on fresh keys:
/// acquire, hold against others, renew, lapse (with the clock-skew allowance), steal
/// with a new epoch, fencing of the old holder (its renew and release refused),
/// release and re-acquire with yet another epoch, succession by a newer incarnation of
/// the holder's name (and never back), and one winner among racing acquirers.
pub async fn coordination(c: Arc<dyn super::coordination::Coordination>) {
    use super::coordination::Acquired;
    use cluster::NodeId;
    let key = format!("shard/conformance-{}", unique());
    let node = |name: &str, incarnation: u64| NodeId {
        name: name.to_owned(),
        incarnation,
    };
    let (a, b) = (node("node-a", 7), node("node-b", 3));
    let (ttl, skew) = (4_000u64, 500u64);
    let t0 = 1_700_000_000_000i64;
    let at = |ms: i64| Millis(t0 + ms);
    let renews = |lost: Vec<String>| lost.is_empty();
    assert_eq!(ok(c.lease(&key).await, "lease"), None);

    let Acquired::Granted(first) = ok(
        c.acquire(&key, &a, "10.0.0.1:8080", at(0), ttl, skew).await,
        "acquire",
    ) else {
        panic!("a fresh key is granted");
    };
    assert_eq!((first.epoch, first.expires_at), (1, (t0 + 4_000) as u64));
    assert_eq!(
        (&first.holder, first.address.as_str()),
        (&a, "10.0.0.1:8080")
    );
    assert_eq!(ok(c.lease(&key).await, "lease"), Some(first.clone()));
    let listed = ok(c.leases().await, "leases");
    assert!(listed.contains(&first), "every row is listed: {listed:?}");
    // Held against another node, even a little after expiry (clock skew).
    let held = ok(c.acquire(&key, &b, "b", at(4_400), ttl, skew).await, "held");
    assert_eq!(held, Acquired::Held(first.clone()));
    // Renewed by its holder only, under its epoch only.
    let k = |e: u64| vec![(key.clone(), e)];
    assert!(renews(ok(
        c.renew(&a, &k(1), at(1_000), ttl).await,
        "renew"
    )));
    assert_eq!(
        ok(c.lease(&key).await, "lease").map(|r| r.expires_at),
        Some((t0 + 5_000) as u64)
    );
    assert_eq!(
        ok(c.renew(&b, &k(1), at(1_000), ttl).await, "other"),
        k(1).into_iter().map(|x| x.0).collect::<Vec<_>>()
    );
    assert!(!renews(ok(
        c.renew(&a, &k(2), at(1_000), ttl).await,
        "epoch"
    )));
    let restarted = node("node-a", 8);
    assert!(!renews(ok(
        c.renew(&restarted, &k(1), at(1_000), ttl).await,
        "renew incarnation"
    )));
    // Acquiring what one holds renews it.
    let again = ok(
        c.acquire(&key, &a, "10.0.0.1:8080", at(2_000), ttl, skew)
            .await,
        "reacquire",
    );
    assert!(
        matches!(&again, Acquired::Granted(r) if r.epoch == 1 && r.expires_at == (t0 + 6_000) as u64),
        "{again:?}"
    );
    // Lapsed but untaken, the holder may still renew (it stopped at its own deadline
    // and nobody acted since).
    assert!(renews(ok(
        c.renew(&a, &k(1), at(6_100), ttl).await,
        "late renew"
    )));
    // Lapsed (past expiry plus skew): taken with a new epoch.
    let late = at(10_100 + 501);
    let Acquired::Granted(stolen) = ok(
        c.acquire(&key, &b, "10.0.0.2:8080", late, ttl, skew).await,
        "steal",
    ) else {
        panic!("a lapsed lease is taken");
    };
    assert_eq!(
        (stolen.epoch, &stolen.holder, stolen.address.as_str()),
        (2, &b, "10.0.0.2:8080")
    );
    // The old holder is fenced: it can neither renew nor release.
    assert!(!renews(ok(
        c.renew(&a, &k(1), late, ttl).await,
        "fenced renew"
    )));
    assert!(!ok(c.release(&key, &a, 1).await, "fenced release"));
    assert_eq!(ok(c.lease(&key).await, "lease").map(|r| r.epoch), Some(2));
    // Released: free at once (not even its holder renews it), with yet another epoch.
    assert!(ok(c.release(&key, &b, 2).await, "release"));
    assert!(!renews(ok(
        c.renew(&b, &k(2), late, ttl).await,
        "renew released"
    )));
    let Acquired::Granted(third) = ok(
        c.acquire(&key, &restarted, "a", late, ttl, skew).await,
        "after release",
    ) else {
        panic!("a released lease is free");
    };
    assert_eq!((third.epoch, &third.holder), (3, &restarted));
    // A later run of the holder's name takes over at once, lease live or not; an
    // earlier run never takes it back.
    let next = node("node-a", 9);
    let Acquired::Granted(fourth) = ok(
        c.acquire(&key, &next, "a", late, ttl, skew).await,
        "succession",
    ) else {
        panic!("a newer incarnation of the holder takes over");
    };
    assert_eq!((fourth.epoch, &fourth.holder), (4, &next));
    assert!(!renews(ok(
        c.renew(&restarted, &k(3), late, ttl).await,
        "the old run is fenced"
    )));
    let back = ok(
        c.acquire(&key, &restarted, "a", late, ttl, skew).await,
        "no way back",
    );
    assert!(
        matches!(back, Acquired::Held(ref r) if r.holder == next),
        "{back:?}"
    );

    // One renewal covers every key a node holds; a key taken from it is reported lost
    // and the others are renewed all the same.
    let keys: Vec<String> = (0..3)
        .map(|i| format!("shard/conformance-{}-{i}", unique()))
        .collect();
    let mut held = Vec::new();
    for key in &keys {
        let Acquired::Granted(r) = ok(c.acquire(key, &a, "a", at(0), ttl, skew).await, "hold")
        else {
            panic!("fresh keys are granted");
        };
        held.push((key.clone(), r.epoch));
    }
    assert!(renews(ok(
        c.renew(&a, &held, at(3_000), ttl).await,
        "renew all"
    )));
    // b takes the middle one after it lapsed (a's clock stopped renewing it).
    let taken = at(3_000 + 4_000 + 501);
    assert!(matches!(
        ok(
            c.acquire(&keys[1], &b, "b", taken, ttl, skew).await,
            "take one"
        ),
        Acquired::Granted(_)
    ));
    let lost = ok(c.renew(&a, &held, taken, ttl).await, "renew some");
    assert_eq!(lost, vec![keys[1].clone()]);
    for (i, key) in keys.iter().enumerate() {
        let row = ok(c.lease(key).await, "row").expect("a row");
        if i == 1 {
            assert_eq!(row.holder, b);
        } else {
            assert_eq!(
                (&row.holder, row.expires_at),
                (&a, (t0 + 7_501 + 4_000) as u64)
            );
        }
    }
    assert!(renews(ok(
        c.renew(&a, &[], taken, ttl).await,
        "nothing to renew"
    )));

    // Racing acquirers of a fresh key: exactly one wins, the others see it.
    let race = format!("queue/conformance-{}", unique());
    let attempts = (0..8).map(|i| {
        let (c, race) = (c.clone(), race.clone());
        async move {
            c.acquire(
                &race,
                &node(&format!("racer-{i}"), 1),
                "racer",
                Millis(t0),
                ttl,
                skew,
            )
            .await
        }
    });
    let results: Vec<Acquired> = futures_join(attempts).await;
    let winners: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Acquired::Granted(l) => Some(l.holder.clone()),
            Acquired::Held(_) => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        if let Acquired::Held(l) = r {
            assert_eq!(l.holder, winners[0]);
        }
    }
}

/// The contract of [`super::coordination::Coordination::acquire_many`]: a dead
/// member's lapsed keys, a released one, a fresh one and one the caller holds
/// already, asked for together, are each granted as `acquire` would (a new epoch for
/// a take, the same for a renewal), a key another node holds live is not, and the
/// outcomes come in the order asked; two nodes racing for overlapping keys each get a
/// key at most once between them, every key exactly once. And `release_many`: the
/// keys a stopping node still holds are freed together, one that moved is not.
pub async fn coordination_many(c: Arc<dyn super::coordination::Coordination>) {
    use super::coordination::Acquired;
    use cluster::NodeId;
    let node = |name: &str, incarnation: u64| NodeId {
        name: name.to_owned(),
        incarnation,
    };
    let (a, b, d) = (node("node-a", 1), node("node-b", 1), node("node-d", 1));
    let (ttl, skew) = (4_000u64, 500u64);
    let t0 = 1_700_000_000_000i64;
    let at = move |ms: i64| Millis(t0 + ms);
    let id = unique();
    let key = |what: &str| format!("shard/many-{id}-{what}");
    // d (about to die) holds three keys; it releases one; b holds one and keeps it
    // live; a holds one of its own.
    let dead: Vec<String> = (0..3).map(|i| key(&format!("dead{i}"))).collect();
    for k in &dead {
        ok(c.acquire(k, &d, "d", at(0), ttl, skew).await, "d holds");
    }
    let released = key("released");
    ok(
        c.acquire(&released, &d, "d", at(0), ttl, skew).await,
        "d holds",
    );
    assert!(ok(c.release(&released, &d, 1).await, "release"));
    let live = key("live");
    let mine = key("mine");
    let fresh = key("fresh");
    let late = 4_000 + 501;
    ok(
        c.acquire(&live, &b, "b", at(late - 10), ttl, skew).await,
        "b holds",
    );
    ok(
        c.acquire(&mine, &a, "a", at(late - 10), ttl, skew).await,
        "a holds",
    );

    let mut asked = dead.clone();
    asked.extend([released.clone(), live.clone(), mine.clone(), fresh.clone()]);
    let got = c.acquire_many(&asked, &a, "a", at(late), ttl, skew).await;
    let order: Vec<&String> = got.iter().map(|(k, _)| k).collect();
    assert_eq!(
        order,
        asked.iter().collect::<Vec<_>>(),
        "in the order asked"
    );
    let until = (t0 + late + 4_000) as u64;
    for (k, outcome) in got {
        let outcome = ok(outcome, "acquire_many");
        let want_epoch = match k.as_str() {
            k if k == live => {
                assert!(
                    matches!(&outcome, Acquired::Held(r) if r.holder == b),
                    "{k}: {outcome:?}"
                );
                continue;
            }
            k if k == mine || k == fresh => 1,
            _ => 2,
        };
        let Acquired::Granted(r) = &outcome else {
            panic!("{k}: granted to a, got {outcome:?}");
        };
        assert_eq!(
            (&r.holder, r.epoch, r.expires_at),
            (&a, want_epoch, until),
            "{k}"
        );
        assert_eq!(
            ok(c.lease(&k).await, "row").as_ref(),
            Some(r),
            "{k} as stored"
        );
    }
    // d is fenced out of what was taken.
    let held: Vec<(String, u64)> = dead.iter().map(|k| (k.clone(), 1)).collect();
    assert_eq!(ok(c.renew(&d, &held, at(late), ttl).await, "fenced"), dead);

    // Two nodes race for overlapping lapsed keys: each key goes to exactly one.
    let race: Vec<String> = (0..6).map(|i| key(&format!("race{i}"))).collect();
    for k in &race {
        ok(c.acquire(k, &d, "d", at(0), ttl, skew).await, "d holds");
    }
    let (first, second) = (race[..4].to_vec(), race[2..].to_vec());
    let (c1, c2) = (c.clone(), c.clone());
    let (a1, b1) = (a.clone(), b.clone());
    let one =
        tokio::spawn(async move { c1.acquire_many(&first, &a1, "a", at(late), ttl, skew).await });
    let two = tokio::spawn(async move {
        c2.acquire_many(&second, &b1, "b", at(late), ttl, skew)
            .await
    });
    let mut winners: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for outcomes in [one.await.expect("task"), two.await.expect("task")] {
        for (k, got) in outcomes {
            if let Acquired::Granted(r) = ok(got, "race") {
                winners.entry(k).or_default().push(r.lease.holder.name);
            }
        }
    }
    for k in &race {
        let row = ok(c.lease(k).await, "row").expect("a row");
        assert_eq!(
            winners.get(k).map(Vec::as_slice),
            Some(std::slice::from_ref(&row.holder.name)),
            "{k}: one winner, the stored holder"
        );
        assert_eq!(row.epoch, 2, "{k}");
    }

    // A graceful stop frees what it holds in one call: each key it still holds is
    // released (free to take at once, at the next epoch), one that moved meanwhile is
    // not, in the order asked.
    let going: Vec<String> = (0..4).map(|i| key(&format!("going{i}"))).collect();
    for k in &going {
        ok(c.acquire(k, &d, "d", at(0), ttl, skew).await, "d holds");
    }
    let moved = key("moved");
    ok(
        c.acquire(&moved, &d, "d", at(0), ttl, skew).await,
        "d holds",
    );
    ok(
        c.acquire(&moved, &b, "b", at(late), ttl, skew).await,
        "b takes it",
    );
    let mut held: Vec<(String, u64)> = going.iter().map(|k| (k.clone(), 1)).collect();
    held.insert(2, (moved.clone(), 1));
    let freed = c.release_many(&held, &d).await;
    let outcomes: Vec<(String, bool)> = freed
        .into_iter()
        .map(|(k, got)| (k, ok(got, "release_many")))
        .collect();
    let want: Vec<(String, bool)> = held.iter().map(|(k, _)| (k.clone(), *k != moved)).collect();
    assert_eq!(
        outcomes, want,
        "released in the order asked, the moved key not"
    );
    for k in &going {
        let taken = ok(c.acquire(k, &a, "a", at(10), ttl, skew).await, "take");
        assert!(
            matches!(&taken, Acquired::Granted(r) if r.epoch == 2 && r.holder == a),
            "{k}: free at once after the release: {taken:?}"
        );
    }
    let row = ok(c.lease(&moved).await, "row").expect("a row");
    assert_eq!((&row.holder, row.epoch), (&b, 2), "the moved key stays b's");
    assert!(c.release_many(&[], &d).await.is_empty());
}

/// Runs `futures` concurrently on the current runtime; panics on an error.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<super::coordination::Acquired>
where
    F: std::future::Future<Output = Result<super::coordination::Acquired, StoreError>>
        + Send
        + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(ok(h.await.expect("task"), "race"));
    }
    out
}
