//! Retries of a message whose commit failed. A failed commit is not "nothing written":
//! on the CQL store a write timeout means the write may have reached some replicas and
//! becomes readable later. So the event ids an attempt used are kept by its client id,
//! and a retry with the same client id reuses them — the same event ids and times — and
//! overwrites the same rows (timeline events, the outbox entry keyed by the event, and
//! the report events derived from those ids) instead of adding new ones. Owns only that
//! memory, bounded like the acknowledged client ids.
//!
//! A new conversation is *not* created again with the failed attempt's id: the queue
//! admitted and withdrew that id, and offers, tried agents and rescinds keyed by it must
//! not meet the retry. So a failed attempt's conversation row, if part of it reached a
//! replica, is left behind (docs/scylla.md).

use crate::domain::TimelineEvent;
use std::collections::{HashMap, VecDeque};

/// Failed attempts remembered at most (oldest forgotten first).
const MAX_ATTEMPTS: usize = 1_000;

/// What a failed attempt wrote, or may have written.
#[derive(Debug, Clone)]
struct Attempt {
    events: Vec<TimelineEvent>,
}

#[derive(Debug, Default)]
pub(crate) struct FailedAttempts {
    by_key: HashMap<String, Attempt>,
    order: VecDeque<String>,
}

impl FailedAttempts {
    /// Remembers the attempt under `key` (a client id's seen key); a later failure of
    /// the same key keeps the first attempt's ids, which are the ones it reuses.
    pub(crate) fn record(&mut self, key: &str, events: &[TimelineEvent]) {
        if self.by_key.contains_key(key) {
            return;
        }
        self.by_key.insert(
            key.to_owned(),
            Attempt {
                events: events.to_vec(),
            },
        );
        self.order.push_back(key.to_owned());
        while self.order.len() > MAX_ATTEMPTS {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
    }

    /// Gives `events` the ids and times of the failed attempt's events of the same kinds
    /// (each used once, in order).
    pub(crate) fn reuse(&self, key: Option<&String>, events: &mut [TimelineEvent]) {
        let Some(attempt) = key.and_then(|k| self.by_key.get(k)) else {
            return;
        };
        let mut used = vec![false; attempt.events.len()];
        for e in events.iter_mut() {
            let kind = std::mem::discriminant(&e.kind);
            if let Some(i) = (0..attempt.events.len())
                .find(|&i| !used[i] && std::mem::discriminant(&attempt.events[i].kind) == kind)
            {
                used[i] = true;
                e.id = attempt.events[i].id;
                e.at = attempt.events[i].at;
            }
        }
    }

    /// Whether a failed attempt of `key` is remembered (its retry rewrites its rows).
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// The attempt of `key` succeeded: nothing left to reuse.
    pub(crate) fn forget(&mut self, key: Option<&String>) {
        if let Some(k) = key {
            if self.by_key.remove(k).is_some() {
                self.order.retain(|o| o != k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, ConversationId, CustomerId, EventKind, Millis};

    fn event(
        customer: CustomerId,
        conv: ConversationId,
        at: i64,
        kind: EventKind,
    ) -> TimelineEvent {
        TimelineEvent::new(customer, Some(conv), Millis(at), kind)
    }

    fn message(text: &str) -> EventKind {
        EventKind::MessageIn {
            channel: Channel::Chat,
            address: "v".into(),
            text: text.into(),
            client_msg_id: Some("c1".into()),
            attachments: Vec::new(),
            subject: None,
        }
    }

    #[test]
    fn a_retry_reuses_the_failed_attempts_ids_and_times_by_kind() {
        let (cu, cv) = (CustomerId::new(), ConversationId::new());
        let mut failed = FailedAttempts::default();
        let first = vec![
            event(
                cu,
                cv,
                10,
                EventKind::ChannelSwitched {
                    from: Channel::Sms,
                    to: Channel::Chat,
                },
            ),
            event(cu, cv, 10, message("hi")),
        ];
        let key = "in:c1".to_owned();
        failed.record(&key, &first);
        // The retry takes another path: only the message this time.
        let mut retry = vec![event(cu, cv, 99, message("hi"))];
        failed.reuse(Some(&key), &mut retry);
        assert_eq!(retry[0].id, first[1].id);
        assert_eq!(retry[0].at, Millis(10));
        // A second failure keeps the first attempt's ids.
        failed.record(&key, &retry);
        let mut again = vec![event(cu, cv, 150, message("hi"))];
        failed.reuse(Some(&key), &mut again);
        assert_eq!(again[0].id, first[1].id);
        // Success forgets; another key reuses nothing.
        failed.forget(Some(&key));
        let mut fresh = vec![event(cu, cv, 200, message("hi"))];
        let id = fresh[0].id;
        failed.reuse(Some(&key), &mut fresh);
        assert_eq!(fresh[0].id, id);
    }

    #[test]
    fn memory_is_bounded() {
        let mut failed = FailedAttempts::default();
        for i in 0..(MAX_ATTEMPTS + 10) {
            failed.record(&format!("k{i}"), &[]);
        }
        assert_eq!(failed.by_key.len(), MAX_ATTEMPTS);
        assert!(!failed.by_key.contains_key("k0"));
    }
}
