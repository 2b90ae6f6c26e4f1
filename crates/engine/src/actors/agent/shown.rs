//! What an agent's sockets were shown of one held conversation, so that every event is
//! pushed once: by its own message from the customer's actor, or by a catch-up that
//! read the conversation after that message was lost between nodes — whichever comes
//! first; the other finds it shown.

use crate::domain::EventId;
use std::collections::VecDeque;

/// Events pushed one by one that are remembered past the floor; older ones raise it.
const MEMORY: usize = 256;

#[derive(Debug, Clone, Default)]
pub(super) struct Shown {
    /// Every event up to this one counts as shown: listed whole by a welcome or an
    /// assignment, or forgotten from `ids`.
    floor: Option<EventId>,
    /// Events past the floor pushed one by one, in the order pushed.
    ids: VecDeque<EventId>,
}

impl Shown {
    /// A welcome or an assignment listed the conversation, or one of its events was
    /// pushed: a catch-up knows where to start from.
    pub fn listed(&self) -> bool {
        self.floor.is_some() || !self.ids.is_empty()
    }

    /// Every event up to this one counts as shown.
    pub fn floor(&self) -> Option<EventId> {
        self.floor
    }

    /// Whether `id` was shown.
    pub fn has(&self, id: EventId) -> bool {
        self.floor.is_some_and(|f| id <= f) || self.ids.contains(&id)
    }

    /// `id` was pushed. Returns false (and remembers nothing) when it was shown before.
    pub fn mark(&mut self, id: EventId) -> bool {
        if self.has(id) {
            return false;
        }
        self.ids.push_back(id);
        if self.ids.len() > MEMORY {
            let oldest = self.ids.iter().copied().min();
            self.floor = self.floor.max(oldest);
            let floor = self.floor;
            self.ids.retain(|i| Some(*i) > floor);
        }
        true
    }

    /// The conversation was listed with every event up to `newest`.
    pub fn list(&mut self, newest: EventId) {
        self.floor = self.floor.max(Some(newest));
        let floor = self.floor;
        self.ids.retain(|i| Some(*i) > floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> EventId {
        EventId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn an_event_is_shown_once_whichever_way_comes_first() {
        let mut s = Shown::default();
        assert!(!s.listed());
        s.list(id(10));
        assert!(s.listed());
        assert!(s.has(id(3)) && s.has(id(10)));
        // Live push of 12, then 11 comes by a catch-up and again late by its message.
        assert!(s.mark(id(12)));
        assert!(!s.has(id(11)));
        assert!(s.mark(id(11)));
        assert!(!s.mark(id(11)), "pushed twice");
        assert!(!s.mark(id(12)), "pushed twice");
        assert!(!s.mark(id(9)), "listed before");
    }

    #[test]
    fn memory_is_bounded_and_forgets_by_raising_the_floor() {
        let mut s = Shown::default();
        for n in 1..=(MEMORY as u128 + 50) {
            assert!(s.mark(id(n * 2)));
        }
        assert!(s.ids.len() <= MEMORY);
        // The oldest pushed are now under the floor: still shown, never again pushed.
        assert!(s.has(id(2)));
        assert!(!s.mark(id(2)));
        // An unpushed id above the floor is not shown.
        let top = (MEMORY as u128 + 50) * 2;
        assert!(!s.has(id(top - 1)));
        assert!(s.has(id(top)));
    }

    #[test]
    fn a_listing_drops_what_it_covers() {
        let mut s = Shown::default();
        s.mark(id(5));
        s.mark(id(7));
        s.list(id(6));
        assert_eq!(s.ids, VecDeque::from([id(7)]));
        assert!(s.has(id(5)) && s.has(id(6)) && s.has(id(7)) && !s.has(id(8)));
    }
}
