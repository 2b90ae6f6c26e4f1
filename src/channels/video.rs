//! Video escalation: a web-chat customer asks to continue on video; the conversation
//! switches to channel `video` (exclusive capacity, like voice) and a join link from
//! the configured template goes to both sides as a `video_invited` event. The video
//! service itself (WebRTC, SFU) is outside the engine, as the telephony platform is
//! for voice.

use super::config::Video;
use crate::domain::ConversationId;

/// The join link for a new room of `conversation`: the template with `{room}` set to an
/// unguessable id and `{conversation}` to the conversation id.
pub fn join_url(cfg: &Video, conversation: ConversationId) -> String {
    let room = uuid::Uuid::new_v4().simple().to_string();
    cfg.join_url_template
        .replace("{room}", &room)
        .replace("{conversation}", &conversation.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_unguessable_and_template_filled() {
        let cfg = Video {
            join_url_template: "https://v.example/{room}?c={conversation}".into(),
            ..Video::default()
        };
        let c = ConversationId::new();
        let a = join_url(&cfg, c);
        let b = join_url(&cfg, c);
        assert_ne!(a, b);
        assert!(a.starts_with("https://v.example/"));
        assert!(a.ends_with(&format!("?c={c}")));
        assert_eq!(
            a.len(),
            "https://v.example/".len() + 32 + 3 + c.to_string().len()
        );
    }
}
