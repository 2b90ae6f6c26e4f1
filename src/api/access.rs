//! Ownership rules for staff reads and changes of customer data. Supervisors and
//! admins see every customer and conversation; an agent sees only the conversations it
//! holds or held, and the customers of those conversations (their profile, timeline,
//! conversation list, identities). "Held" means the conversation is assigned to the
//! agent now or an `assigned` event names the agent in the customer's timeline
//! (merged records included), so a transfer does not erase the history of who served
//! whom. Anything else is 403 `forbidden`.
//!
//! What an agent is told must not reveal customers it may not see: a lookup by an
//! identity no customer has is refused like one of another agent's customer, and an
//! identity-link conflict does not name the owner (`super::identity`).
//!
//! The route-by-route table is in docs/security.md.

use super::error::ApiError;
use super::extract::Staff;
use crate::domain::{Conversation, ConversationId, Customer, CustomerId, EventKind};
use crate::Server;

/// Events read per page while looking through a timeline.
const PAGE: usize = 500;
/// Most events looked at (a customer with more history than this is visible to the
/// agents who served its recent conversations).
const MAX_SCAN: usize = 20_000;

/// Whether an `assigned` event for `staff` exists in `customer`'s timeline (for
/// `conversation` only, when given).
async fn held(
    server: &Server,
    staff: &Staff,
    customer: CustomerId,
    conversation: Option<ConversationId>,
) -> Result<bool, ApiError> {
    let found = find_event(server, customer, |e| match &e.kind {
        EventKind::Assigned { agent_id }
            if *agent_id == staff.id
                && conversation.is_none_or(|c| e.conversation_id == Some(c)) =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    Ok(found.is_some())
}

/// The first of `customer`'s events, newest first, for which `f` answers something —
/// at most [`MAX_SCAN`] events are looked at (read [`PAGE`] at a time).
pub(super) async fn find_event<T>(
    server: &Server,
    customer: CustomerId,
    mut f: impl FnMut(&crate::domain::TimelineEvent) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    let mut before = None;
    let mut seen = 0;
    while seen < MAX_SCAN {
        let page = crate::actors::timeline::timeline(&server.store, customer, before, PAGE).await?;
        if let Some(found) = page.iter().find_map(&mut f) {
            return Ok(Some(found));
        }
        seen += page.len();
        match page.last() {
            Some(last) if page.len() == PAGE => before = Some(last.id),
            _ => break,
        }
    }
    Ok(None)
}

/// Customer `id`, loaded for `staff`: 403 when they may not see it ([`customer`]), 404
/// when it does not exist.
pub async fn readable_customer(
    server: &Server,
    staff: &Staff,
    id: CustomerId,
) -> Result<Customer, ApiError> {
    customer(server, staff, id).await?;
    server
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))
}

/// `staff` may read or act on customer `id`.
pub async fn customer(server: &Server, staff: &Staff, id: CustomerId) -> Result<(), ApiError> {
    if staff.sees_everything() {
        return Ok(());
    }
    let holds_now = crate::actors::timeline::conversations(&server.store, id)
        .await?
        .iter()
        .any(|c| c.agent.as_ref() == Some(&staff.id));
    if holds_now || held(server, staff, id, None).await? {
        Ok(())
    } else {
        Err(customer_forbidden())
    }
}

/// What an agent is told about a customer it may not see. Lookups by identity answer
/// the same when no customer has the identity, so they do not tell whether a phone
/// number or address is known.
pub fn customer_forbidden() -> ApiError {
    ApiError::forbidden("agents see only customers whose conversations they hold or held")
}

/// Conversation `id`, loaded for `staff`: 404 when it does not exist, 403 when they
/// may not read it ([`conversation`]).
pub async fn readable_conversation(
    server: &Server,
    staff: &Staff,
    id: ConversationId,
) -> Result<Conversation, ApiError> {
    let c = server
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    conversation(server, staff, &c).await?;
    Ok(c)
}

/// `staff` may read conversation `c`.
pub async fn conversation(
    server: &Server,
    staff: &Staff,
    c: &Conversation,
) -> Result<(), ApiError> {
    if staff.sees_everything() || c.agent.as_ref() == Some(&staff.id) {
        return Ok(());
    }
    if held(server, staff, c.customer_id, Some(c.id)).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "agents see only conversations they hold or held",
        ))
    }
}
