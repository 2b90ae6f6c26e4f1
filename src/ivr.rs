//! The IVR core (`switchboard-ivr`, re-exported) and its glue to the settings: which
//! tree is configured (`[ivr]` or the voice channel's flat menu), which chat queues it
//! opens, and the load-time validation of both.

pub use switchboard_ivr::*;

use crate::config::Settings;
use crate::domain::QueueName;
use std::collections::BTreeSet;

/// The configured tree: `[ivr]` menus, else the flat `channels.voice.menu`, else none.
pub fn tree(s: &Settings) -> Option<Tree> {
    Tree::from_settings(&s.ivr, s.channels.voice.flat_menu())
}

/// The queues a visitor may open a chat in: those a chat option of the tree names.
pub fn chat_queues(s: &Settings) -> BTreeSet<QueueName> {
    tree(s)
        .into_iter()
        .flat_map(|t| t.menus)
        .flat_map(|m| m.options)
        .filter_map(|o| match o.action {
            Action::Chat(q) => Some(q),
            _ => None,
        })
        .collect()
}

/// Validates `[ivr]` and `[callbacks]` at load.
pub fn validate_all(s: &Settings) -> Result<(), String> {
    validate_settings(&s.ivr, s.channels.voice.flat_menu())?;
    s.callbacks.validate()
}
