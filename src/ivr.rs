//! The IVR core (`switchboard-ivr`, re-exported) and its glue to the settings: which
//! tree is configured (`[ivr]` or the voice channel's flat menu), which chat queues it
//! opens, and the load-time validation of both.

pub use switchboard_ivr::*;

use crate::config::Settings;
use crate::domain::QueueName;

/// The configured tree: `[ivr]` menus, else the flat `channels.voice.menu`, else none.
pub fn tree(s: &Settings) -> Option<Tree> {
    Tree::from_settings(&s.ivr, s.channels.voice.flat_menu())
}

/// Whether a visitor may open a chat in `queue`: a chat option of the tree names it.
pub fn chat_queue(s: &Settings, queue: &QueueName) -> bool {
    tree(s).is_some_and(|t| {
        t.menus
            .iter()
            .flat_map(|m| &m.options)
            .any(|o| o.action == Action::Chat(queue.clone()))
    })
}

/// Validates `[ivr]` and `[callbacks]` at load.
pub fn validate_all(s: &Settings) -> Result<(), String> {
    validate_settings(&s.ivr, s.channels.voice.flat_menu())?;
    s.callbacks.validate()
}
