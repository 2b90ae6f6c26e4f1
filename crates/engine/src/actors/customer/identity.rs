//! The customer actor's side of identity stitching: linking and unlinking an identity,
//! being merged away (`Retire`, then `Evict` or `Unretire`), absorbing a merged record
//! and undoing that (`Absorb`, `Unmerge`), taking a display name from a login, and a
//! web-chat visitor identifying themselves (`Identify`: name, email, phone).
//!
//! Each handler changes only this customer's record and the identity links it owns, and
//! commits before applying anything in memory. The decisions that span two customers
//! (which customer a login proves, the order of a merge, the lock that keeps "is this
//! address owned?" checks from interleaving) live in `crate::actors::stitching`; these
//! handlers never await another customer actor, so two merges in opposite directions
//! cannot deadlock.

use super::{done, try_atomic, Atomic, CustomerActor};
use crate::actors::messages::{EngineError, EngineResult, Identify};
use crate::domain::ErrorCode;
use crate::domain::{
    AgentId, Channel, Conversation, Customer, CustomerId, EventKind, IdentityKey, MergedRecord,
    TimelineEvent,
};
use crate::store::Batch;
use actix::prelude::*;
use std::time::Instant;

/// Link `key` to this customer if nobody owns it.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<LinkOutcome>")]
pub struct LinkIdentity {
    pub key: IdentityKey,
    pub by: Option<AgentId>,
    /// What proves the link (`agent`, `login_token`, ...), recorded in the event.
    pub evidence: String,
}

/// What a link request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkOutcome {
    Linked,
    /// It was already this customer's; nothing changed.
    AlreadyLinked,
    /// Another customer owns it; nothing changed (an agent may merge the two).
    OwnedBy(CustomerId),
}

/// Take `key` away from this customer: the address is handed to `fresh`, a new empty
/// customer (the stores have no link deletion; a new record is what a first message
/// from an unknown address would have created anyway).
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<()>")]
pub struct UnlinkIdentity {
    pub key: IdentityKey,
    pub by: Option<AgentId>,
    pub fresh: CustomerId,
}

/// First step of merging this record into `into`: refuse if it cannot be merged now,
/// else stop taking work and answer with the record as it stands.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<Customer>")]
pub struct Retire {
    pub into: CustomerId,
}

/// The merge did not happen: take work again.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct Unretire;

/// The record changed under this actor (merged away, or restored by an unmerge): stop,
/// so that the next request loads it afresh.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct Evict;

/// Merge `other` (already retired) into this customer.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<Customer>")]
pub struct Absorb {
    pub other: Customer,
    pub by: Option<AgentId>,
}

/// Undo the merge of `other` into this customer.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<Customer>")]
pub struct Unmerge {
    pub other: CustomerId,
    pub by: Option<AgentId>,
}

/// Set the display name if the customer has none (from a login token's `name`).
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<()>")]
pub struct NameIfUnnamed {
    pub name: String,
}

fn conflict(m: impl Into<String>) -> EngineError {
    EngineError::new(ErrorCode::Conflict, m)
}

impl Handler<LinkIdentity> for CustomerActor {
    type Result = Atomic<LinkOutcome>;

    fn handle(&mut self, msg: LinkIdentity, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        let store = self.engine.store.clone();
        let now = self.engine.now();
        let id = self.id;
        Atomic::new(Box::pin(
            async move {
                let owner = store
                    .customer_by_identity(&msg.key)
                    .await
                    .map_err(EngineError::unavailable)?;
                match owner {
                    Some(o) if o != id => return Ok((LinkOutcome::OwnedBy(o), None)),
                    Some(_) if customer.identities.contains(&msg.key) => {
                        return Ok((LinkOutcome::AlreadyLinked, None))
                    }
                    _ => {}
                }
                let mut cust = customer;
                if !cust.identities.contains(&msg.key) {
                    cust.identities.push(msg.key.clone());
                }
                let ev = TimelineEvent::new(
                    id,
                    None,
                    now,
                    EventKind::IdentityLinked {
                        channel: msg.key.channel,
                        address: msg.key.address.clone(),
                        by: msg.by,
                        evidence: Some(msg.evidence),
                        unlinked: false,
                    },
                );
                let batch = Batch {
                    customers: vec![cust.clone()],
                    identities: vec![(msg.key, id)],
                    events: vec![ev.clone()],
                    ..Default::default()
                };
                store
                    .commit(batch)
                    .await
                    .map_err(EngineError::unavailable)?;
                Ok((LinkOutcome::Linked, Some((cust, ev))))
            }
            .into_actor(self)
            .map(|res, act, _| {
                let (outcome, change) = res?;
                if let Some((cust, ev)) = change {
                    act.customer = Some(cust);
                    act.remember(&ev);
                }
                Ok(outcome)
            }),
        ))
    }
}

impl Handler<UnlinkIdentity> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: UnlinkIdentity, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        if !customer.identities.contains(&msg.key) {
            return done(Err(EngineError::not_found("identity of this customer")));
        }
        let now = self.engine.now();
        let mut cust = customer;
        cust.identities.retain(|k| k != &msg.key);
        let fresh = Customer {
            id: msg.fresh,
            display_name: None,
            identities: vec![msg.key.clone()],
            priority: 0,
            attributes: Default::default(),
            last_agent: None,
            opted_out: Default::default(),
            merged_into: None,
            merged: Vec::new(),
            created_at: now,
        };
        let ev = TimelineEvent::new(
            self.id,
            None,
            now,
            EventKind::IdentityLinked {
                channel: msg.key.channel,
                address: msg.key.address.clone(),
                by: msg.by,
                evidence: None,
                unlinked: true,
            },
        );
        let batch = Batch {
            customers: vec![fresh, cust.clone()],
            identities: vec![(msg.key, msg.fresh)],
            events: vec![ev.clone()],
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            act.customer = Some(cust);
            act.remember(&ev);
            Ok(())
        })
    }
}

impl Handler<Retire> for CustomerActor {
    type Result = EngineResult<Customer>;

    fn handle(&mut self, msg: Retire, _: &mut Context<Self>) -> Self::Result {
        self.last_activity = Instant::now();
        let customer = self.check_ready()?.clone();
        if let Some(c) = &self.open {
            return Err(conflict(format!(
                "customer {} has an open conversation ({}); resolve it first, or merge \
                 the other way",
                self.id, c.id
            )));
        }
        if !self.chat.is_empty() {
            return Err(conflict(format!(
                "customer {} is connected on web chat; merge once the chat is closed",
                self.id
            )));
        }
        self.retiring = Some(msg.into);
        Ok(customer)
    }
}

impl Handler<Unretire> for CustomerActor {
    type Result = ();

    fn handle(&mut self, _: Unretire, _: &mut Context<Self>) {
        self.retiring = None;
    }
}

impl Handler<Evict> for CustomerActor {
    type Result = ();

    fn handle(&mut self, _: Evict, ctx: &mut Context<Self>) {
        self.engine.customer_passivated(self.id, &ctx.address());
        ctx.stop();
    }
}

impl CustomerActor {
    /// Commits `batch` (the survivor's record is `cust`), then re-reads the logical
    /// timeline and conversations (a merge changed which partitions they span) and
    /// applies both to the actor.
    fn commit_and_reload(
        &self,
        batch: Batch,
        cust: Customer,
    ) -> ResponseActFuture<Self, EngineResult<Customer>> {
        let store = self.engine.store.clone();
        let id = self.id;
        let recent_n = self.engine.settings.limits.recent_events;
        Box::pin(
            async move {
                store
                    .commit(batch)
                    .await
                    .map_err(EngineError::unavailable)?;
                let convs = crate::actors::timeline::conversations(&store, id)
                    .await
                    .map_err(EngineError::unavailable)?;
                let mut recent = crate::actors::timeline::timeline(&store, id, None, recent_n)
                    .await
                    .map_err(EngineError::unavailable)?;
                recent.reverse();
                Ok((convs, recent))
            }
            .into_actor(self)
            .map(move |res, act, _| {
                let (convs, recent) = res?;
                act.customer = Some(cust.clone());
                act.last_closed = convs
                    .into_iter()
                    .filter(|c| !c.state.is_open())
                    .max_by_key(|c| c.updated_at)
                    .map(|c| Conversation {
                        customer_id: id,
                        ..c
                    });
                act.recent.clear();
                for e in &recent {
                    act.remember(e);
                }
                Ok(cust)
            }),
        )
    }
}

impl Handler<Absorb> for CustomerActor {
    type Result = Atomic<Customer>;

    fn handle(&mut self, msg: Absorb, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        let other = msg.other;
        if other.id == self.id {
            return done(Err(conflict("a customer cannot be merged into itself")));
        }
        if other.merged_into.is_some() {
            return done(Err(conflict(format!(
                "customer {} is already merged",
                other.id
            ))));
        }
        let now = self.engine.now();
        let moved = other.identities.clone();
        let mut survivor = customer;
        for k in &moved {
            if !survivor.identities.contains(k) {
                survivor.identities.push(k.clone());
            }
        }
        survivor.merged.push(MergedRecord {
            customer: other.id,
            identities: moved.clone(),
            at: now,
        });
        if survivor.display_name.is_none() {
            survivor.display_name = other.display_name.clone();
        }
        let mut gone = other;
        gone.merged_into = Some(self.id);
        gone.identities.clear();
        let ev = TimelineEvent::new(
            self.id,
            None,
            now,
            EventKind::CustomersMerged {
                merged: gone.id,
                by: msg.by,
                identities: moved.clone(),
            },
        );
        let batch = Batch {
            customers: vec![gone, survivor.clone()],
            identities: moved.into_iter().map(|k| (k, self.id)).collect(),
            events: vec![ev],
            ..Default::default()
        };
        Atomic::new(self.commit_and_reload(batch, survivor))
    }
}

impl Handler<Unmerge> for CustomerActor {
    type Result = Atomic<Customer>;

    fn handle(&mut self, msg: Unmerge, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        let Some(record) = customer
            .merged
            .iter()
            .find(|m| m.customer == msg.other)
            .cloned()
        else {
            return done(Err(conflict(format!(
                "customer {} is not merged into {}",
                msg.other, self.id
            ))));
        };
        let store = self.engine.store.clone();
        let now = self.engine.now();
        let id = self.id;
        let by = msg.by;
        // Identities unlinked from the survivor since the merge stay where they are.
        let back: Vec<IdentityKey> = record
            .identities
            .iter()
            .filter(|k| customer.identities.contains(k))
            .cloned()
            .collect();
        let mut survivor = customer;
        survivor.merged.retain(|m| m.customer != record.customer);
        survivor.identities.retain(|k| !back.contains(k));
        let kind = EventKind::CustomersUnmerged {
            restored: record.customer,
            by,
            identities: back.clone(),
        };
        let ev = TimelineEvent::new(id, None, now, kind.clone());
        let restored_ev = TimelineEvent::new(record.customer, None, now, kind);
        let surv = survivor.clone();
        Atomic::new(Box::pin(
            async move {
                let mut other = store
                    .customer(record.customer)
                    .await
                    .map_err(EngineError::unavailable)?
                    .ok_or_else(|| EngineError::not_found("merged customer"))?;
                if other.merged_into != Some(id) {
                    return Err(conflict(format!(
                        "customer {} is not merged into {id}",
                        other.id
                    )));
                }
                other.merged_into = None;
                other.identities = back.clone();
                Ok(Batch {
                    customers: vec![surv, other],
                    identities: back.into_iter().map(|k| (k, record.customer)).collect(),
                    events: vec![ev, restored_ev],
                    ..Default::default()
                })
            }
            .into_actor(self)
            .then(
                move |res, act, _| -> ResponseActFuture<Self, EngineResult<Customer>> {
                    match res {
                        Ok(batch) => act.commit_and_reload(batch, survivor),
                        Err(e) => Box::pin(fut::ready(Err(e))),
                    }
                },
            ),
        ))
    }
}

impl Handler<NameIfUnnamed> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: NameIfUnnamed, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.check_ready()).clone();
        let name: String = msg
            .name
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        if customer.display_name.is_some() || name.is_empty() || name.len() > 100 {
            return done(Ok(()));
        }
        let mut cust = customer;
        cust.display_name = Some(name);
        let batch = Batch {
            customers: vec![cust.clone()],
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            act.customer = Some(cust);
            Ok(())
        })
    }
}

impl Handler<Identify> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Identify, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        // A chat form is typed by whoever holds the browser: not evidence of identity.
        // The name becomes the display name; email and phone are kept, normalised, as
        // unverified attributes an agent can act on (link or merge), never as links.
        let mut cust = customer;
        for (attr, channel, value) in [
            ("unverified_email", Channel::Email, &msg.email),
            ("unverified_phone", Channel::Sms, &msg.phone),
        ] {
            if let Some(v) = value.as_deref().filter(|s| !s.trim().is_empty()) {
                match IdentityKey::parse(channel, v) {
                    Ok(k) => {
                        cust.attributes.insert(attr.to_owned(), k.address);
                    }
                    Err(e) => return done(Err(EngineError::invalid(e.to_string()))),
                }
            }
        }
        match msg.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(n) if n.len() > 100 || n.chars().any(char::is_control) => {
                return done(Err(EngineError::invalid(
                    "name must be at most 100 bytes of text",
                )))
            }
            Some(n) => cust.display_name = Some(n.to_owned()),
            None => {}
        }
        let batch = Batch {
            customers: vec![cust.clone()],
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            act.customer = Some(cust);
            Ok(())
        })
    }
}
