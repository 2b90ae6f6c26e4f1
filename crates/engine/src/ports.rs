//! The services the server plugs into the engine besides outbound delivery
//! ([`crate::actors::outbound::Outbound`]): the knowledge base the bot answers from and the CRM
//! prefetch. Each is a small trait in domain terms; an engine without one behaves as
//! if the service had nothing (no answer, no prefetch).

use crate::bot::Candidate;
use crate::domain::{Channel, Customer};

/// The knowledge base, as the FAQ bot asks it.
pub trait Answers: Send + Sync + 'static {
    /// The best article for `text` written in `language` on `channel`, if any matches.
    fn best(&self, text: &str, language: &str, channel: Channel) -> Option<Candidate>;
}

/// Work to start when a customer's actor activates (the CRM lookup warms its cache so
/// the agent's panel is ready by the time the conversation is offered).
pub trait Prefetch: Send + Sync + 'static {
    fn customer_activated(&self, customer: &Customer);
}
