//! The one list of connectors ([`CONNECTORS`]) and what is read from it: the webhook
//! routes every connector mounts, the connector that sends a channel's replies, and
//! which channels take replies with the configured settings. Adding a provider is one
//! line here; nothing else in the engine or the server names it.

use crate::config::ChannelSettings;
use crate::connector::{Connector, Sender};
use crate::domain::Channel;
use actix_web::web;

/// Every connector, in the order its routes are mounted.
pub static CONNECTORS: &[&dyn Connector] = &[
    &crate::twilio_sms::TwilioSms,
    &crate::twilio_voice::TwilioVoice,
    &crate::line::Line,
    &crate::messenger::Messenger,
    &crate::whatsapp::WhatsApp,
    &crate::instagram::Instagram,
    &crate::x::X,
    &crate::email::Email,
    &crate::facebook_comments::FacebookComments,
    &crate::x_mentions::XMentions,
];

/// The connector that sends `channel`'s replies, and how.
pub fn sender_for(channel: Channel) -> Option<(&'static dyn Connector, &'static dyn Sender)> {
    CONNECTORS.iter().copied().find_map(|c| {
        c.sender()
            .filter(|s| s.channel() == channel)
            .map(|s| (c, s))
    })
}

/// The channels an agent's text reply can go out on with these settings: those whose
/// sending connector is enabled.
pub fn reply_channels(settings: &ChannelSettings) -> std::collections::BTreeSet<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .filter(|&c| sender_for(c).is_some_and(|(connector, _)| connector.enabled(settings)))
        .collect()
}

/// The reply window of every channel whose enabled connector has one.
pub fn windows(
    settings: &ChannelSettings,
) -> std::collections::BTreeMap<Channel, crate::domain::ReplyWindow> {
    enabled_senders(settings)
        .filter_map(|s| Some((s.channel(), s.window(settings)?)))
        .collect()
}

/// The channels whose enabled connector's replies carry files.
pub fn file_channels(settings: &ChannelSettings) -> std::collections::BTreeSet<Channel> {
    enabled_senders(settings)
        .filter(|s| s.carries_files())
        .map(|s| s.channel())
        .collect()
}

/// The approved templates of every channel whose enabled connector takes them.
pub fn templates(
    settings: &ChannelSettings,
) -> std::collections::BTreeMap<Channel, Vec<crate::domain::ApprovedTemplate>> {
    enabled_senders(settings)
        .map(|s| (s.channel(), s.templates(settings)))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

fn enabled_senders(settings: &ChannelSettings) -> impl Iterator<Item = &'static dyn Sender> + '_ {
    CONNECTORS
        .iter()
        .filter(|c| c.enabled(settings))
        .filter_map(|c| c.sender())
}

/// Why a post could not be moderated.
#[derive(Debug)]
pub enum ModerationError {
    /// The channel's API does not let the business do it.
    Unsupported(String),
    /// The provider refused or could not be reached.
    Provider(crate::connector::SendFailure),
}

/// Hides, shows again or deletes the customer's public post `post_id` on `channel`
/// through its enabled connector.
pub async fn moderate(
    gateway: &crate::Gateway,
    client: &reqwest::Client,
    channel: Channel,
    post_id: &str,
    action: crate::domain::Moderation,
) -> Result<(), ModerationError> {
    let unsupported = || {
        ModerationError::Unsupported(format!(
            "{channel} does not let the business {} a post",
            action.as_str()
        ))
    };
    let (connector, sender) = sender_for(channel).ok_or_else(unsupported)?;
    if !connector.enabled(&gateway.channels()) {
        return Err(ModerationError::Unsupported(format!(
            "the {channel} connector is not enabled"
        )));
    }
    let cx = crate::connector::SendContext { gateway, client };
    let call = sender
        .moderate(cx, post_id, action)
        .ok_or_else(unsupported)?;
    call.await.map_err(ModerationError::Provider)
}

/// Mounts every connector's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for c in CONNECTORS {
        c.routes(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, ReplyPath};

    /// A channel whose replies travel through a connector has exactly one; no other
    /// channel has any. A new channel with `ReplyPath::Connector` fails here until its
    /// connector is registered.
    #[test]
    fn registry_covers_every_connector_channel() {
        for ch in Channel::ALL {
            let senders = CONNECTORS
                .iter()
                .filter(|c| c.sender().is_some_and(|s| s.channel() == ch))
                .count();
            let expected = usize::from(ch.capabilities().replies == ReplyPath::Connector);
            assert_eq!(senders, expected, "{ch}: {senders} connectors send it");
        }
        let mut names: Vec<_> = CONNECTORS.iter().map(|c| c.provider()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONNECTORS.len(), "provider names are unique");
    }
}
