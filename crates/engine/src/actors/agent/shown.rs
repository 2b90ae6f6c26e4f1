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
    /// The oldest event of the first listing. Events before it count as shown (the
    /// agent saw them before, or they are history), except those a catch-up names
    /// as lost: an actor that started after a takeover lists only the latest events.
    first_listed: Option<EventId>,
    /// The oldest event of such a catch-up already made: not made twice.
    owed_done: Option<EventId>,
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

    /// The oldest event before the first listing a catch-up must push, given the
    /// oldest `lost` it names: `lost` itself unless it is not before that listing or
    /// a catch-up from there was made already.
    pub fn owed_from(&self, lost: EventId) -> Option<EventId> {
        let before = self.first_listed.is_some_and(|o| lost < o);
        let again = self.owed_done.is_some_and(|d| lost >= d);
        (before && !again && !self.ids.contains(&lost)).then_some(lost)
    }

    /// A catch-up from `from` (see [`Shown::owed_from`]) is made.
    pub fn owed_taken(&mut self, from: EventId) {
        self.owed_done = Some(self.owed_done.map_or(from, |d| d.min(from)));
    }

    /// The oldest event of the first listing.
    pub fn first_listed(&self) -> Option<EventId> {
        self.first_listed
    }

    /// Whether a catch-up from `from` pushes `id`: not shown, or owed (from `from`
    /// up to the first listing).
    pub fn wanted(&self, id: EventId, from: Option<EventId>) -> bool {
        !self.has(id) || owed(id, from, self.first_listed) && !self.ids.contains(&id)
    }

    /// Whether a catch-up naming `first` (the oldest lost, when known) to `last` has
    /// anything to push past what was shown: either end not shown. (One lost event
    /// followed by a pushed one is the common case: the newest is shown, the lost one
    /// is not.)
    pub fn missing(&self, first: Option<EventId>, last: EventId) -> bool {
        !self.has(last) || first.is_some_and(|f| !self.has(f))
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

    /// The conversation was listed with every event from `oldest` up to `newest`.
    pub fn list(&mut self, oldest: EventId, newest: EventId) {
        if !self.listed() {
            self.first_listed = Some(oldest);
        }
        self.floor = self.floor.max(Some(newest));
        let floor = self.floor;
        self.ids.retain(|i| Some(*i) > floor);
    }
}

/// Whether `id` is owed by a catch-up from `from`: at or after it and before the
/// first listing (`first_listed`).
pub(super) fn owed(id: EventId, from: Option<EventId>, first_listed: Option<EventId>) -> bool {
    from.is_some_and(|f| id >= f) && first_listed.is_some_and(|o| id < o)
}

/// Two catch-ups of one conversation as one: from the older of their oldest lost
/// events (`None`: not known) to the newer of their newest.
pub(crate) fn widen(
    a: (Option<EventId>, EventId),
    b: (Option<EventId>, EventId),
) -> (Option<EventId>, EventId) {
    let first = match (a.0, b.0) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    (first, a.1.max(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_catch_ups_widen_to_the_older_first_and_the_newer_last() {
        assert_eq!(
            widen((Some(id(3)), id(9)), (Some(id(5)), id(7))),
            (Some(id(3)), id(9))
        );
        assert_eq!(
            widen((Some(id(5)), id(7)), (Some(id(3)), id(9))),
            (Some(id(3)), id(9))
        );
        assert_eq!(
            widen((None, id(7)), (Some(id(5)), id(6))),
            (Some(id(5)), id(7))
        );
        assert_eq!(
            widen((Some(id(5)), id(6)), (None, id(7))),
            (Some(id(5)), id(7))
        );
        assert_eq!(widen((None, id(6)), (None, id(7))), (None, id(7)));
    }

    fn id(n: u128) -> EventId {
        EventId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_lost_event_followed_by_a_pushed_one_is_still_missing() {
        let mut s = Shown::default();
        s.list(id(1), id(10));
        // 11 was lost between the nodes; 12 came by its own message.
        assert!(s.mark(id(12)));
        assert!(s.missing(Some(id(11)), id(12)), "11 was never shown");
        assert!(s.missing(None, id(13)), "13 was never shown");
        assert!(!s.missing(Some(id(9)), id(12)), "both ends shown");
        assert!(!s.missing(None, id(12)));
        assert!(s.mark(id(11)));
        assert!(!s.missing(Some(id(11)), id(12)), "caught up");
    }

    #[test]
    fn an_event_is_shown_once_whichever_way_comes_first() {
        let mut s = Shown::default();
        assert!(!s.listed());
        s.list(id(5), id(10));
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
    fn events_before_a_restarted_actors_listing_are_pushed_once_when_named_lost() {
        let mut s = Shown::default();
        // A welcome of an actor that started after a takeover lists events 40..=50.
        s.list(id(40), id(50));
        assert!(s.has(id(30)), "history before the listing counts as shown");
        assert_eq!(s.owed_from(id(45)), None, "listed");
        assert_eq!(
            s.owed_from(id(55)),
            None,
            "after the listing: an ordinary catch-up"
        );
        // Events from 30 were lost before the listing: a catch-up from 30 is owed.
        let from = s.owed_from(id(30));
        assert_eq!(from, Some(id(30)));
        assert!(s.wanted(id(30), from) && s.wanted(id(39), from));
        assert!(!s.wanted(id(29), from) && !s.wanted(id(40), from) && !s.wanted(id(50), from));
        assert!(s.wanted(id(51), from), "after the listing, not shown");
        s.owed_taken(id(30));
        assert_eq!(s.owed_from(id(30)), None, "made once");
        assert_eq!(s.owed_from(id(35)), None, "made once");
        assert_eq!(
            s.owed_from(id(20)),
            Some(id(20)),
            "an older loss still is owed"
        );
        // A later listing does not move the first one.
        s.list(id(60), id(70));
        assert_eq!(s.first_listed(), Some(id(40)));
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
        s.list(id(6), id(6));
        assert_eq!(s.ids, VecDeque::from([id(7)]));
        assert!(s.has(id(5)) && s.has(id(6)) && s.has(id(7)) && !s.has(id(8)));
    }
}
