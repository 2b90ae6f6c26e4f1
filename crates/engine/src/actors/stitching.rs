//! Identity stitching across customers: explicit links and unlinks, the customer a
//! signed login proves, one customer per phone number, merging two customers and
//! undoing a merge.
//!
//! Strong evidence only, recorded with each link (`identity_linked.evidence`) and
//! shown to the agent: an identity is linked automatically when a login token signed
//! with `channels.login_secret` proves it (`login_token`; the server verifies the
//! token, see `crate::login`), when the provider delivered it from a phone number
//! another phone channel already knows (`same_phone_number`: the carrier or WhatsApp
//! verified the number), when X delivered a mention from an account whose direct
//! messages are known or the reverse (`same_x_account`), when Meta answered a private
//! reply to a Page comment with the commenter's Messenger id (`private_reply`), or by
//! hand by an agent (`agent`). A chat form, a display name
//! or a matching spelling never links or merges.
//!
//! Every operation here holds `Engine::identity_lock` for its whole run, so that an
//! "is this address owned?" check and the write that follows never interleave with
//! another link, unlink or merge in this engine. The customer actors do the writes
//! (`crate::actors::customer::identity`); this module only orders them, and is the only
//! place that talks to two customer actors for one operation.

use super::customer::identity::{
    Absorb, Evict, LinkIdentity, LinkOutcome, NameIfUnnamed, Retire, UnlinkIdentity, Unmerge,
    Unretire,
};
use super::messages::{EngineError, EngineResult};
use super::registry::Engine;
use crate::domain::ErrorCode;
use crate::domain::{AgentId, Customer, CustomerId, IdentityKey};
use crate::login::LoginClaims;
use std::collections::BTreeSet;

impl Engine {
    /// Links `key` to `customer` if nobody owns it (idempotent when it is already
    /// theirs); reports the owner otherwise.
    pub async fn link_identity(
        &self,
        customer: CustomerId,
        key: IdentityKey,
        by: Option<AgentId>,
        evidence: &str,
    ) -> EngineResult<LinkOutcome> {
        let _guard = self.identity_lock.lock().await;
        self.link_locked(customer, key, by, evidence).await
    }

    async fn link_locked(
        &self,
        customer: CustomerId,
        key: IdentityKey,
        by: Option<AgentId>,
        evidence: &str,
    ) -> EngineResult<LinkOutcome> {
        self.ask_customer(
            customer,
            LinkIdentity {
                key,
                by,
                evidence: evidence.to_owned(),
            },
        )
        .await
    }

    /// Takes `key` away from `customer`; the address then belongs to a new customer.
    pub async fn unlink_identity(
        &self,
        customer: CustomerId,
        key: IdentityKey,
        by: Option<AgentId>,
    ) -> EngineResult<()> {
        let _guard = self.identity_lock.lock().await;
        let owner = self
            .store
            .customer_by_identity(&key)
            .await
            .map_err(EngineError::unavailable)?;
        if owner != Some(customer) {
            return Err(EngineError::not_found("identity of this customer"));
        }
        self.ask_customer(
            customer,
            UnlinkIdentity {
                key,
                by,
                fresh: CustomerId::new(),
            },
        )
        .await
    }

    /// Merges `other` into `survivor`. `other` is retired first (it refuses if it has
    /// an open conversation, a chat socket, or is merged already), then the survivor
    /// commits the merge; on failure `other` takes work again.
    pub async fn merge_customers(
        &self,
        survivor: CustomerId,
        other: CustomerId,
        by: Option<AgentId>,
    ) -> EngineResult<Customer> {
        if survivor == other {
            return Err(EngineError::new(
                ErrorCode::Conflict,
                "a customer cannot be merged into itself",
            ));
        }
        let _guard = self.identity_lock.lock().await;
        // Both must exist before anything is retired.
        for id in [survivor, other] {
            if self
                .store
                .customer(id)
                .await
                .map_err(EngineError::unavailable)?
                .is_none()
            {
                return Err(EngineError::not_found("customer"));
            }
        }
        let record = self.ask_customer(other, Retire { into: survivor }).await?;
        match self
            .ask_customer(survivor, Absorb { other: record, by })
            .await
        {
            Ok(c) => {
                tracing::info!(survivor = %survivor, merged = %other, "customers merged");
                self.tell_customer(other, Evict);
                Ok(c)
            }
            Err(e) => {
                self.tell_customer(other, Unretire);
                Err(e)
            }
        }
    }

    /// Undoes the merge of `other` into `survivor`: the identities it brought go back
    /// to it. Events written to the survivor since the merge stay with the survivor.
    pub async fn unmerge_customers(
        &self,
        survivor: CustomerId,
        other: CustomerId,
        by: Option<AgentId>,
    ) -> EngineResult<Customer> {
        let _guard = self.identity_lock.lock().await;
        let c = self.ask_customer(survivor, Unmerge { other, by }).await?;
        // A live actor of `other` would hold the merged record: let it reload.
        self.tell_customer(other, Evict);
        tracing::info!(survivor = %survivor, restored = %other, "customers unmerged");
        Ok(c)
    }

    /// The customer a verified login token proves, with the identities it proves
    /// linked to them when nobody else owns them (those owned by someone else are left
    /// alone and logged: an agent can merge). See `crate::login::proven_identities`.
    pub async fn resolve_login(&self, claims: &LoginClaims) -> EngineResult<CustomerId> {
        let keys = crate::login::proven_identities(claims)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let _guard = self.identity_lock.lock().await;
        let acct = &keys[0];
        let owner_of = |k: &IdentityKey| {
            let store = self.store.clone();
            let k = k.clone();
            async move {
                store
                    .customer_by_identity(&k)
                    .await
                    .map_err(EngineError::unavailable)
            }
        };
        let customer = match owner_of(acct).await? {
            Some(id) => id,
            None => {
                let mut owners = BTreeSet::new();
                for k in &keys[1..] {
                    if let Some(o) = owner_of(k).await? {
                        owners.insert(o);
                    }
                }
                let mut it = owners.into_iter();
                match (it.next(), it.next()) {
                    (Some(only), None) => only,
                    (first, second) => {
                        if second.is_some() {
                            tracing::info!(
                                customer = ?first,
                                "login proves identities of several customers; new customer"
                            );
                        }
                        self.resolve_identity(acct).await?.0
                    }
                }
            }
        };
        for k in keys {
            let (channel, address) = (k.channel, k.address.clone());
            match self.link_locked(customer, k, None, "login_token").await? {
                LinkOutcome::OwnedBy(other) => tracing::info!(
                    customer = %customer, owner = %other, channel = %channel, address = %address,
                    "login identity owned by another customer; left alone (an agent can merge)"
                ),
                LinkOutcome::Linked | LinkOutcome::AlreadyLinked => {}
            }
        }
        if let Some(name) = claims.name.clone() {
            self.ask_customer(customer, NameIfUnnamed { name }).await?;
        }
        Ok(customer)
    }

    /// One customer per phone number (per X account): the customer of `key`, or —
    /// when `key` is new and another channel of its address space knows the same
    /// address (SMS, voice and WhatsApp share E.164 numbers; X direct messages and
    /// mentions share the account id) — that channel's customer, with `key` linked to
    /// them under `evidence` (`same_phone_number`, `same_x_account`); else a new
    /// customer (`true`: created). A known identity costs one read; a new one reads
    /// its address on the sibling channels. No lock is held across the create, so a
    /// saturated store refuses a flood of new addresses at once (`busy`) instead of
    /// queueing it behind a lock; only the link takes the identity lock (links are
    /// rare). The store's atomic create decides each key, so a text and a call from a
    /// brand-new number arriving in the same instant may make two customers, which an
    /// agent merges (undoably).
    pub(super) async fn resolve_shared(
        &self,
        key: &IdentityKey,
        evidence: &str,
    ) -> EngineResult<(CustomerId, bool)> {
        let owner_of = |k: IdentityKey| async move {
            self.store
                .customer_by_identity(&k)
                .await
                .map_err(crate::store::StoreError::into_engine)
        };
        if let Some(id) = owner_of(key.clone()).await? {
            return Ok((id, false));
        }
        let space = key.channel.capabilities().address;
        for sibling in crate::domain::Channel::ALL {
            if sibling == key.channel || sibling.capabilities().address != space {
                continue;
            }
            let other = IdentityKey {
                channel: sibling,
                address: key.address.clone(),
            };
            let Some(owner) = owner_of(other).await? else {
                continue;
            };
            let _guard = self.identity_lock.lock().await;
            return match self.link_locked(owner, key.clone(), None, evidence).await? {
                LinkOutcome::Linked | LinkOutcome::AlreadyLinked => Ok((owner, false)),
                LinkOutcome::OwnedBy(other) => Ok((other, false)),
            };
        }
        // New on every channel of its address space.
        self.create_for_identity(key).await
    }

    /// Links `key` (e.g. a Messenger PSID) to the customer a login proves; a key owned
    /// by another customer is left alone and logged.
    pub async fn link_by_login(
        &self,
        claims: &LoginClaims,
        key: IdentityKey,
        evidence: &str,
    ) -> EngineResult<(CustomerId, LinkOutcome)> {
        let customer = self.resolve_login(claims).await?;
        let outcome = self
            .link_identity(customer, key.clone(), None, evidence)
            .await?;
        if let LinkOutcome::OwnedBy(other) = outcome {
            tracing::info!(
                customer = %customer, owner = %other, channel = %key.channel,
                "identity owned by another customer; left alone (an agent can merge)"
            );
        }
        Ok((customer, outcome))
    }
}

/// What one page of [`Engine::stitch_shared_identities`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StitchReport {
    /// Links of a shared address space read on this page.
    pub scanned: usize,
    /// Customers merged because they share an address.
    pub merged: Vec<Stitched>,
    /// Customers sharing an address that were left apart, and why (an open
    /// conversation, a chat socket...): run the page again later, or merge by hand.
    pub skipped: Vec<Stitched>,
    /// The next page's cursor; `None`: the pass is complete.
    pub next: Option<String>,
}

/// Two customers known by one address.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stitched {
    /// The one kept: the earliest created.
    pub survivor: CustomerId,
    pub other: CustomerId,
    /// `same_phone_number` or `same_x_account`.
    pub evidence: &'static str,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Longest chain of merges followed to a survivor.
const MAX_MERGE_HOPS: usize = 8;
/// Events of a customer read for an agent's unlink of an address.
const UNLINK_LOOKBACK: usize = 1_000;

impl Engine {
    /// One page (`limit` links, after cursor `after`) of the pass that makes one
    /// customer per shared address of the identities stored before that rule (or
    /// split by a race, see `resolve_shared`): for each link on a channel of a shared
    /// address space (phone numbers; X accounts), the owners of the same address on
    /// the sibling channels; two or more customers are merged into the one created
    /// first (undoable, like every merge). A merge the engine refuses (the other
    /// customer has an open conversation or a chat socket) is reported and left; the
    /// pass can be run again. The caller keeps the cursor: nothing is held between
    /// pages.
    pub async fn stitch_shared_identities(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> EngineResult<StitchReport> {
        let page = self
            .store
            .identities_page(after, limit)
            .await
            .map_err(crate::store::StoreError::into_engine)?;
        let mut report = StitchReport {
            next: page.next,
            ..Default::default()
        };
        for (key, owner) in page.links {
            let space = key.channel.capabilities().address;
            let Some(evidence) = space.shared_evidence() else {
                continue;
            };
            report.scanned += 1;
            let mut owners = vec![owner];
            for sibling in crate::domain::Channel::ALL {
                if sibling == key.channel || sibling.capabilities().address != space {
                    continue;
                }
                let other = IdentityKey {
                    channel: sibling,
                    address: key.address.clone(),
                };
                if let Some(o) = self
                    .store
                    .customer_by_identity(&other)
                    .await
                    .map_err(crate::store::StoreError::into_engine)?
                {
                    owners.push(o);
                }
            }
            let mut live = Vec::new();
            for o in owners {
                if let Some(c) = self.survivor_record(o).await? {
                    if !live.iter().any(|l: &Customer| l.id == c.id) {
                        live.push(c);
                    }
                }
            }
            if live.len() < 2 {
                continue;
            }
            live.sort_by_key(|c| (c.created_at, c.id));
            let survivor = live[0].id;
            // An address an agent took away from a customer stays apart (a family's
            // shared phone): their unlink outranks the shared address.
            let mut unlinked = false;
            for c in &live {
                unlinked |= self.unlinked_address(c.id, &key.address).await?;
            }
            for other in &live[1..] {
                let pair = |reason| Stitched {
                    survivor,
                    other: other.id,
                    evidence,
                    reason,
                };
                if unlinked {
                    report.skipped.push(pair(Some(
                        "an agent unlinked this address from one of them".into(),
                    )));
                    continue;
                }
                match self.merge_customers(survivor, other.id, None).await {
                    Ok(_) => report.merged.push(pair(None)),
                    Err(e) if e.code == ErrorCode::Unavailable || e.code == ErrorCode::Busy => {
                        return Err(e)
                    }
                    Err(e) => report.skipped.push(pair(Some(e.message))),
                }
            }
        }
        Ok(report)
    }

    /// Whether an agent unlinked `address` (on any channel) from `customer`, among its
    /// latest [`UNLINK_LOOKBACK`] events.
    async fn unlinked_address(&self, customer: CustomerId, address: &str) -> EngineResult<bool> {
        let events = self
            .store
            .timeline(customer, None, UNLINK_LOOKBACK)
            .await
            .map_err(crate::store::StoreError::into_engine)?;
        Ok(events.iter().any(|e| {
            matches!(&e.kind, crate::domain::EventKind::IdentityLinked {
                address: a,
                unlinked: true,
                ..
            } if a == address)
        }))
    }

    /// The customer record `id` was merged into, through the chain of merges (the
    /// record itself when not merged); `None` when it does not exist.
    async fn survivor_record(&self, mut id: CustomerId) -> EngineResult<Option<Customer>> {
        for _ in 0..MAX_MERGE_HOPS {
            let Some(c) = self
                .store
                .customer(id)
                .await
                .map_err(crate::store::StoreError::into_engine)?
            else {
                return Ok(None);
            };
            match c.merged_into {
                Some(next) => id = next,
                None => return Ok(Some(c)),
            }
        }
        Ok(None)
    }
}
