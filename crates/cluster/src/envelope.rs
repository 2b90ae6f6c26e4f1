//! Node-to-node messages as pure rules (docs/cluster.md, "Node-to-node messages"): an
//! [`Envelope`] is addressed to whoever owns a key, under the epoch the sender believes
//! the owner holds, with a deadline; the receiver acts on it only by [`admit`], and
//! every envelope gets one [`Answer`]. The sender picks the target by [`route`].
//!
//! The rules, and why:
//! - **Only the owner acts.** A receiver delivers an envelope only while it owns the
//!   key (by its own deadline, the ownership loop's `owns`) under an epoch at least the
//!   envelope's. An epoch above the receiver's means the sender has seen a newer
//!   takeover than the receiver has: the receiver is stale and answers `moved`.
//! - **Nothing late is acted on.** Past its deadline (the sender's wall clock plus the
//!   time it will wait) an envelope is answered `expired` and dropped: the sender has
//!   given up on it and may have retried elsewhere, so acting would risk acting twice.
//! - **Moved names the owner when known.** The receiver's last-read lease rows say who
//!   holds the key; the sender tries there next (a bounded number of hops). It never
//!   names itself.

use crate::NodeId;
use serde::{Deserialize, Serialize};

/// The version of the node-to-node protocol this build speaks: the envelope and answer
/// shapes and what each kind's body means. Every request names it, and a receiver
/// refuses a request naming another (or none) before looking inside, so two builds
/// that would misread each other never act on each other's messages. Raised with any
/// change an older build could not read; a rolling upgrade across such a change runs
/// the old and new nodes' messages through no peer of the other version.
pub const PROTOCOL: u32 = 1;

/// A key's owner as the lease rows name it: the node, where it is reached, and the
/// epoch it holds the key under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub node: NodeId,
    pub address: String,
    pub epoch: u64,
}

/// One message for the owner of `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique among the sender's envelopes in its run (answers name it).
    pub id: u64,
    /// The sending run.
    pub from: NodeId,
    /// The owned key the message is for (`shard/17`, `queue/support`…).
    pub key: String,
    /// The epoch of `key` the sender believes the receiver holds.
    pub epoch: u64,
    /// Wall-clock milliseconds after which the receiver must not act on it.
    pub deadline: u64,
    /// Which handler takes the body.
    pub kind: String,
    pub body: serde_json::Value,
}

/// The receiver's answer to one envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// Acted on: the handler's reply.
    Done { id: u64, body: serde_json::Value },
    /// The handler refused it (nothing was done): a typed code and a message.
    Refused {
        id: u64,
        code: String,
        message: String,
    },
    /// The receiver does not own the key (or not under that epoch): who does, if it
    /// knows.
    Moved { id: u64, owner: Option<Owner> },
    /// It arrived past its deadline and was not acted on.
    Expired { id: u64 },
}

impl Answer {
    /// The envelope this answers.
    pub fn id(&self) -> u64 {
        match self {
            Answer::Done { id, .. }
            | Answer::Refused { id, .. }
            | Answer::Moved { id, .. }
            | Answer::Expired { id } => *id,
        }
    }
}

/// What a receiver does with an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    Deliver,
    Moved(Option<Owner>),
    Expired,
}

/// The receiving rule. `mine`: the epoch under which this node owns the key now, if it
/// does (checked against its own deadline); `holder`: the key's holder by the rows it
/// last read; `now`: its wall clock.
pub fn admit(
    env: &Envelope,
    me: &NodeId,
    mine: Option<u64>,
    holder: Option<Owner>,
    now: u64,
) -> Admit {
    if now > env.deadline {
        return Admit::Expired;
    }
    match mine {
        Some(epoch) if epoch >= env.epoch => Admit::Deliver,
        _ => Admit::Moved(holder.filter(|o| o.node != *me && o.epoch >= env.epoch)),
    }
}

/// Where a sender sends a message for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This node owns it under this epoch: handle it here.
    Local(u64),
    /// Another node holds it.
    Peer(Owner),
    /// Nobody holds it now (a takeover under way): the caller retries or gives up.
    Unowned,
}

/// The sending rule: here when this node owns the key, else the live holder its rows
/// name.
pub fn route(me: &NodeId, mine: Option<u64>, holder: Option<Owner>) -> Route {
    if let Some(epoch) = mine {
        return Route::Local(epoch);
    }
    match holder {
        Some(o) if o.node != *me => Route::Peer(o),
        _ => Route::Unowned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> NodeId {
        NodeId {
            name: name.into(),
            incarnation: 1,
        }
    }

    fn owner(name: &str, epoch: u64) -> Owner {
        Owner {
            node: node(name),
            address: format!("{name}:8080"),
            epoch,
        }
    }

    fn env(epoch: u64, deadline: u64) -> Envelope {
        Envelope {
            id: 7,
            from: node("a"),
            key: "shard/3".into(),
            epoch,
            deadline,
            kind: "echo".into(),
            body: json!({"x": 1}),
        }
    }

    #[test]
    fn only_the_owner_under_at_least_the_senders_epoch_delivers_before_the_deadline() {
        let b = node("b");
        // Owned under the sender's epoch, or a newer one (it took the key back since).
        assert_eq!(admit(&env(4, 100), &b, Some(4), None, 100), Admit::Deliver);
        assert_eq!(admit(&env(4, 100), &b, Some(6), None, 50), Admit::Deliver);
        // Past the deadline: never acted on, owner or not.
        assert_eq!(admit(&env(4, 100), &b, Some(4), None, 101), Admit::Expired);
        // The sender saw a newer takeover: this node is stale.
        assert_eq!(
            admit(&env(5, 100), &b, Some(4), Some(owner("c", 5)), 0),
            Admit::Moved(Some(owner("c", 5)))
        );
        // Not the owner: the holder it knows, never itself, never an older one.
        assert_eq!(
            admit(&env(4, 100), &b, None, Some(owner("c", 5)), 0),
            Admit::Moved(Some(owner("c", 5)))
        );
        assert_eq!(
            admit(&env(4, 100), &b, None, Some(owner("b", 4)), 0),
            Admit::Moved(None)
        );
        assert_eq!(
            admit(&env(4, 100), &b, None, Some(owner("c", 3)), 0),
            Admit::Moved(None)
        );
        assert_eq!(admit(&env(4, 100), &b, None, None, 0), Admit::Moved(None));
    }

    #[test]
    fn a_sender_routes_to_itself_the_holder_or_nowhere() {
        let a = node("a");
        assert_eq!(route(&a, Some(2), Some(owner("a", 2))), Route::Local(2));
        assert_eq!(
            route(&a, None, Some(owner("b", 3))),
            Route::Peer(owner("b", 3))
        );
        // Its rows still name itself, but it no longer owns the key by its deadline.
        assert_eq!(route(&a, None, Some(owner("a", 2))), Route::Unowned);
        assert_eq!(route(&a, None, None), Route::Unowned);
    }

    /// The wire shape is a contract between nodes of different builds (a rolling
    /// upgrade runs both): pinned here.
    #[test]
    fn the_wire_shape_is_pinned() {
        let text = serde_json::to_string(&env(4, 100)).unwrap();
        assert_eq!(
            text,
            r#"{"id":7,"from":{"name":"a","incarnation":1},"key":"shard/3","epoch":4,"deadline":100,"kind":"echo","body":{"x":1}}"#
        );
        let answers = vec![
            Answer::Done {
                id: 1,
                body: json!("ok"),
            },
            Answer::Refused {
                id: 2,
                code: "invalid".into(),
                message: "no".into(),
            },
            Answer::Moved {
                id: 3,
                owner: Some(owner("c", 5)),
            },
            Answer::Expired { id: 4 },
        ];
        let text = serde_json::to_string(&answers).unwrap();
        assert_eq!(
            text,
            r#"[{"answer":"done","id":1,"body":"ok"},{"answer":"refused","id":2,"code":"invalid","message":"no"},{"answer":"moved","id":3,"owner":{"node":{"name":"c","incarnation":1},"address":"c:8080","epoch":5}},{"answer":"expired","id":4}]"#
        );
        let back: Vec<Answer> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, answers);
        assert_eq!(
            back.iter().map(Answer::id).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }
}
