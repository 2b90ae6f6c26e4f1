//! Erasure tombstones: what an erasure leaves of each provider message id in the erased
//! timelines, so that a message received before the erasure — redelivered by its
//! provider, or a captured, validly signed webhook posted again — cannot bring the
//! customer back (docs/security.md, "Privacy").
//!
//! This module owns the keyed hash of a provider message id (HMAC-SHA256 under
//! `settings/erasure_key`, 32 random bytes created on first start and kept in the
//! store like the token key, so hashes survive restarts and a standby taking over),
//! and which events leave a tombstone. It stores and reads nothing itself: the privacy
//! actor writes tombstones with the erasure (`Store::erase`), the provider door looks
//! them up before it resolves anyone (`actors::ingest::from_provider`).
//!
//! A tombstone holds the hash, the channel and an expiry
//! (`limits.erasure_tombstone_retention_ms` after the erasure) and nothing else: no
//! content, no address, no customer id. Without the key the hash does not confirm a
//! guessed id, and nothing in it leads back to the erased customer.

use crate::domain::{Channel, EventKind, Millis, TimelineEvent};
use crate::store::Tombstone;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeSet;

/// The store setting that holds the hashing key.
pub const KEY_SETTING: &str = "erasure_key";

/// The id the provider door stores a provider message under (the message's
/// `client_msg_id`, and what a tombstone hashes): `{channel}:{provider id}`.
pub fn provider_id(channel: Channel, id: &str) -> String {
    format!("{}:{id}", channel.as_str())
}

/// The provider's own id in `stored` (a [`provider_id`] of `channel`), if it is one.
pub fn provider_id_of(channel: Channel, stored: &str) -> Option<&str> {
    stored
        .strip_prefix(channel.as_str())
        .and_then(|rest| rest.strip_prefix(':'))
}

/// Hashes provider message ids with the engine's secret key.
#[derive(Clone)]
pub struct TombstoneKey {
    key: [u8; 32],
}

impl std::fmt::Debug for TombstoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TombstoneKey(..)")
    }
}

impl TombstoneKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn random_key() -> [u8; 32] {
        rand::random()
    }

    /// HMAC-SHA256 of `stored_id` (see [`provider_id`]).
    pub fn hash(&self, stored_id: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("hmac takes any key size");
        mac.update(stored_id.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The tombstones `events` leave, each expiring at `expires_at`: one per customer
    /// message (or opt-out keyword or event: SMS STOP, LINE unfollow) that came through
    /// the provider door with an id (its `client_msg_id` is
    /// [`provider_id`] of its own channel), once per id. Web-chat and REST ids are
    /// chosen by their clients and scoped to one customer: they leave none.
    pub fn of_events<'a>(
        &self,
        events: impl IntoIterator<Item = &'a TimelineEvent>,
        expires_at: Millis,
    ) -> Vec<Tombstone> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for e in events {
            let (channel, id) = match &e.kind {
                EventKind::MessageIn {
                    channel,
                    client_msg_id: Some(id),
                    ..
                }
                | EventKind::OptOutChanged {
                    channel,
                    provider_msg_id: Some(id),
                    ..
                } => (channel, id),
                _ => continue,
            };
            let from_provider = *channel != Channel::Chat
                && id
                    .strip_prefix(channel.as_str())
                    .is_some_and(|rest| rest.starts_with(':'));
            if !from_provider {
                continue;
            }
            let hash = self.hash(id);
            if seen.insert(hash) {
                out.push(Tombstone {
                    hash,
                    channel: *channel,
                    expires_at,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerId;

    fn message(channel: Channel, id: Option<&str>) -> TimelineEvent {
        TimelineEvent::new(
            CustomerId::new(),
            None,
            Millis(1),
            EventKind::MessageIn {
                channel,
                address: "a".into(),
                text: "t".into(),
                client_msg_id: id.map(str::to_owned),
                attachments: Vec::new(),
                subject: None,
            },
        )
    }

    #[test]
    fn the_hash_is_keyed_hmac_sha256() {
        let k = TombstoneKey::new([7; 32]);
        assert_eq!(k.hash("sms:SM1"), k.hash("sms:SM1"));
        assert_ne!(k.hash("sms:SM1"), k.hash("sms:SM2"));
        assert_ne!(
            k.hash("sms:SM1"),
            TombstoneKey::new([8; 32]).hash("sms:SM1")
        );
    }

    #[test]
    fn a_provider_id_reads_back_for_its_own_channel_only() {
        let stored = provider_id(Channel::XMentions, "1001");
        assert_eq!(provider_id_of(Channel::XMentions, &stored), Some("1001"));
        assert_eq!(
            provider_id_of(Channel::X, &stored),
            None,
            "x is a prefix of x_mentions"
        );
        assert_eq!(provider_id_of(Channel::Sms, "chat-123"), None);
    }

    #[test]
    fn only_provider_ids_leave_tombstones_once_each() {
        let k = TombstoneKey::new([1; 32]);
        let sms = provider_id(Channel::Sms, "SM1");
        let events = [
            message(Channel::Sms, Some(&sms)),
            message(Channel::Sms, Some(&sms)),
            message(Channel::Line, Some("line:5001")),
            // A REST id without the channel prefix, a web-chat id, no id at all.
            message(Channel::Sms, Some("rest-1")),
            message(Channel::Chat, Some("chat:c1")),
            message(Channel::Email, None),
            // Another channel's prefix is not this channel's provider id.
            message(Channel::Email, Some("sms:SM9")),
        ];
        let t = k.of_events(&events, Millis(99));
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!((t[0].hash, t[0].channel), (k.hash(&sms), Channel::Sms));
        assert_eq!(
            (t[1].hash, t[1].channel),
            (k.hash("line:5001"), Channel::Line)
        );
        assert!(t.iter().all(|t| t.expires_at == Millis(99)));
    }
}
