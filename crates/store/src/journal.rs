//! The event journal: a time-ordered index of the timeline events other systems are
//! told about (the outbound event stream, docs/event-stream.md). Every backend's
//! [`crate::Store::commit`] passes its batch through [`extend`] first, so each streamed
//! event (one whose kind has an [`domain::EventKind::stream_type`]) gets one row in the
//! generic records table, written with the event itself: no commit site can forget
//! it, and a cluster's nodes all write to the one journal the stream reads. The
//! embedded store writes both in one transaction; the CQL store writes the row with the
//! other records, before the event (the one exception to "referents first": a commit
//! cut short leaves a row whose event is missing — which the stream waits for, then
//! skips — never an event the stream cannot find).
//!
//! A row holds references only — customer, conversation, event id and type — never
//! the message: the stream reads the event itself when it delivers it, so an erased
//! customer's events are never sent, and the journal holds no personal data.
//!
//! Rows live in one kind per UTC hour (`journal/{hour}`, a bounded CQL partition);
//! inside an hour the key is `{at:013}/{event id}`, which sorts by the event's time,
//! then by its id (UUID v7, monotonic per process). Old hours are deleted by the
//! stream's pruner after `stream.journal_hours`.

use crate::{Batch, RecordWrite};
use domain::{ConversationId, CustomerId, EventId, Millis, TimelineEvent};
use serde::{Deserialize, Serialize};

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// The records kind of `hour` (hours since the Unix epoch).
pub fn kind_of(hour: i64) -> String {
    format!("journal/{hour}")
}

/// The hour (since the Unix epoch) an instant falls in.
pub fn hour_of(at: Millis) -> i64 {
    at.0.max(0) / HOUR_MS
}

/// The key of an event at `at` with `id` inside its hour's kind.
pub fn key_of(at: Millis, id: EventId) -> String {
    format!("{:013}/{}", at.0.max(0), id.0)
}

/// The smallest key at `at` (every event at `at` or later sorts after or at it).
pub fn key_at(at: Millis) -> String {
    key_of(at, EventId::MIN)
}

/// The time and event id of a journal key, if it is one.
pub fn parse_key(key: &str) -> Option<(Millis, EventId)> {
    let (at, id) = key.split_once('/')?;
    if at.len() != 13 {
        return None;
    }
    let at = at.parse().ok()?;
    let id = EventId::parse(id).ok()?;
    Some((Millis(at), id))
}

/// One journal row's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub customer: CustomerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
    /// The stream type (`message.received`…).
    #[serde(rename = "type")]
    pub stream_type: String,
}

/// The journal row of `event`, if its kind is streamed.
pub fn row_of(event: &TimelineEvent) -> Option<RecordWrite> {
    let stream_type = event.kind.stream_type()?;
    let entry = Entry {
        customer: event.customer_id,
        conversation: event.conversation_id,
        stream_type: stream_type.to_owned(),
    };
    let value = serde_json::to_vec(&entry).ok()?;
    Some(RecordWrite::put(
        &kind_of(hour_of(event.at)),
        key_of(event.at, event.id),
        value,
    ))
}

/// Adds the journal rows of `batch`'s streamed events to its records. Writing the same
/// event again writes the same row (the same key and value).
pub fn extend(batch: &mut Batch) {
    let rows: Vec<RecordWrite> = batch.events.iter().filter_map(row_of).collect();
    batch.records.extend(rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AgentId, EventKind};

    #[test]
    fn keys_sort_by_time_then_id_and_read_back() {
        let early = key_of(Millis(999), EventId::new());
        let later = key_of(Millis(1_000), EventId::MIN);
        assert!(early < later, "{early} < {later}");
        let id = EventId::new();
        assert_eq!(parse_key(&key_of(Millis(42), id)), Some((Millis(42), id)));
        assert_eq!(parse_key("42/x"), None);
        assert_eq!(hour_of(Millis(HOUR_MS * 3 + 1)), 3);
    }

    #[test]
    fn only_streamed_events_get_a_row() {
        let customer = CustomerId::new();
        let note = TimelineEvent::new(
            customer,
            Some(ConversationId::new()),
            Millis(HOUR_MS + 5),
            EventKind::Note {
                agent_id: AgentId::parse("alice").unwrap(),
                text: "secret".into(),
            },
        );
        let queued = TimelineEvent::new(
            customer,
            None,
            Millis(7),
            EventKind::Queued {
                queue: domain::QueueName::parse("support").unwrap(),
                priority: 0,
            },
        );
        let mut batch = Batch {
            events: vec![note.clone(), queued],
            ..Default::default()
        };
        extend(&mut batch);
        assert_eq!(batch.records.len(), 1);
        let row = &batch.records[0];
        assert_eq!(row.kind, "journal/1");
        assert_eq!(row.key, key_of(note.at, note.id));
        let entry: Entry = serde_json::from_slice(row.value.as_deref().unwrap()).unwrap();
        assert_eq!(entry.stream_type, "note.added");
        assert_eq!(entry.customer, customer);
        let text = String::from_utf8(row.value.clone().unwrap()).unwrap();
        assert!(!text.contains("secret"), "references only: {text}");
    }
}
