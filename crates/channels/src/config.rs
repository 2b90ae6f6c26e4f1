//! Settings of the channel connectors (the `[channels]` table of the config file).
//!
//! Every connector is off by default; enabling one without its secrets is a start-up
//! error, never a silently unsigned webhook. Every provider's API base URL is
//! configurable so that tests (and sandboxes) point outbound calls at a local server.

use crate::domain::QueueName;
use crate::ivr::IvrOption;
use serde::Deserialize;

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSettings {
    /// The engine's public base URL as providers see it (no trailing slash), e.g.
    /// `https://cc.example.com`. Twilio signs the exact URL it called, so signature
    /// checks rebuild it from this, not from the (possibly proxied) request.
    pub public_url: String,
    /// A customer who writes again (any channel) within this time after their last
    /// conversation was resolved reopens that conversation, with the same agent
    /// preferred, instead of starting a new one.
    pub reopen_window_ms: u64,
    /// Largest webhook body accepted, bytes.
    pub max_webhook_bytes: usize,
    /// Outbound sends waiting for a worker beyond which new sends fail at once.
    pub outbound_queue: usize,
    /// Concurrent outbound provider calls.
    pub outbound_workers: usize,
    /// Timeout of one provider API call.
    pub outbound_timeout_ms: u64,
    /// Attempts for a send that fails temporarily (network, 429, 5xx).
    pub outbound_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub outbound_retry_ms: u64,
    /// HS256 secret shared with the company's website / app, which signs login tokens
    /// (JWT) proving who a visitor is: `/ws/chat?login=<jwt>` and Messenger Account
    /// Linking. Empty (the default) turns login tokens off. See `channels::login`.
    pub login_secret: String,
    pub sms: TwilioSms,
    pub voice: TwilioVoice,
    pub line: Line,
    pub messenger: Messenger,
    pub whatsapp: WhatsApp,
    /// Instagram messaging: the Messenger Platform's settings, for the Facebook page
    /// linked to the Instagram professional account.
    pub instagram: Messenger,
    pub x: XDirect,
    /// Public social conversations (`[channels.public]`): Page comments, X mentions.
    pub public: PublicSocial,
    pub video: Video,
    /// Email: the SMTP listener (inbound) and the relay (outbound).
    pub email: switchboard_smtp::EmailSettings,
    /// Queue for new email conversations (else the channel's default queue).
    pub email_queue: Option<QueueName>,
    /// Fetching the media of inbound messages from the providers (`[channels.media]`).
    pub media: MediaSettings,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            reopen_window_ms: 7 * 24 * 3_600_000,
            max_webhook_bytes: 256 * 1024,
            outbound_queue: 10_000,
            outbound_workers: 8,
            outbound_timeout_ms: 10_000,
            outbound_attempts: 4,
            outbound_retry_ms: 500,
            login_secret: String::new(),
            sms: TwilioSms::default(),
            voice: TwilioVoice::default(),
            line: Line::default(),
            messenger: Messenger::default(),
            whatsapp: WhatsApp::default(),
            instagram: Messenger::default(),
            x: XDirect::default(),
            public: PublicSocial::default(),
            video: Video::default(),
            email: Default::default(),
            email_queue: None,
            media: Default::default(),
        }
    }
}

/// `[channels.media]`: fetching the media of inbound messages (`crate::media`).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Fetch media at all (off: every media item stays a described reference).
    pub fetch: bool,
    /// Timeout of one media request (the webhook waits for it: keep it well under the
    /// providers' webhook timeouts, 15 s for Twilio, 20 s for Meta).
    pub timeout_ms: u64,
    /// Redirects followed per item (Twilio's media URL redirects to its CDN).
    pub max_redirects: usize,
    /// Hosts media may be fetched from besides the connectors' API bases: exact names,
    /// or `*.example.com` for any subdomain.
    pub hosts: Vec<String>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            fetch: true,
            timeout_ms: 8_000,
            max_redirects: 3,
            hosts: [
                "api.twilio.com",
                "*.twiliocdn.com",
                "s3-external-1.amazonaws.com",
                "api-data.line.me",
                "lookaside.fbsbx.com",
                "*.fbcdn.net",
                "*.fbsbx.com",
                "ton.twitter.com",
                "pbs.twimg.com",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

/// Twilio Programmable Messaging (SMS).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioSms {
    pub enabled: bool,
    pub account_sid: String,
    /// Signs webhooks (X-Twilio-Signature) and authenticates API calls.
    pub auth_token: String,
    /// Our sending number, E.164.
    pub from_number: String,
    pub api_base: String,
    /// Queue for new SMS conversations (else the channel's default queue).
    pub queue: Option<QueueName>,
}

impl Default for TwilioSms {
    fn default() -> Self {
        Self {
            enabled: false,
            account_sid: String::new(),
            auth_token: String::new(),
            from_number: String::new(),
            api_base: "https://api.twilio.com".into(),
            queue: None,
        }
    }
}

/// Twilio Programmable Voice: call webhooks answered with TwiML.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioVoice {
    pub enabled: bool,
    /// Signs the voice webhooks (usually the same account's auth token as SMS).
    pub auth_token: String,
    /// Spoken first, before the menu.
    pub greeting: String,
    /// `<Say language=...>`.
    pub language: String,
    /// The IVR menu: one DTMF digit per option.
    pub menu: Vec<IvrOption>,
    /// Seconds to wait for a digit.
    pub gather_timeout_s: u32,
    /// The agents' browser softphone (Twilio Voice JS SDK): access tokens and the
    /// TwiML App's voice URL (docs/voice.md).
    pub softphone: Softphone,
    /// The number (E.164) the customer sees when an agent calls out from the
    /// softphone; empty: no calls out.
    pub caller_id: String,
    /// The Twilio account (`AC…`) whose REST API the engine calls with `auth_token`
    /// (playing recordings); empty: no REST calls.
    pub account_sid: String,
    /// The Twilio REST API's base URL (tests point it at a local recorder).
    pub api_base: String,
}

/// `[channels.voice.softphone]`: what signs an agent's Twilio access token and the
/// TwiML App its calls go through. All four ids or none.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Softphone {
    /// The Twilio account (`AC…`): the token's subject.
    pub account_sid: String,
    /// An API key of the account (`SK…`): the token's issuer.
    pub api_key_sid: String,
    /// That API key's secret: signs the token (HS256).
    pub api_key_secret: String,
    /// The TwiML App (`AP…`) whose voice URL is `/webhooks/twilio/voice/client`.
    pub twiml_app_sid: String,
    /// How long a token is valid, seconds (Twilio accepts at most 24 hours).
    pub token_ttl_s: u64,
}

impl Default for Softphone {
    fn default() -> Self {
        Self {
            account_sid: String::new(),
            api_key_sid: String::new(),
            api_key_secret: String::new(),
            twiml_app_sid: String::new(),
            token_ttl_s: 3600,
        }
    }
}

impl Softphone {
    /// Whether the softphone is configured (every id given).
    pub fn configured(&self) -> bool {
        !self.account_sid.is_empty()
    }

    /// Rejects a half-configured softphone or an impossible token lifetime.
    pub fn validate(&self) -> Result<(), String> {
        let given = [
            &self.account_sid,
            &self.api_key_sid,
            &self.api_key_secret,
            &self.twiml_app_sid,
        ]
        .iter()
        .filter(|v| !v.is_empty())
        .count();
        if given != 0 && given != 4 {
            return Err("channels.voice.softphone needs account_sid, api_key_sid, \
                        api_key_secret and twiml_app_sid together"
                .into());
        }
        if !(60..=86_400).contains(&self.token_ttl_s) {
            return Err("channels.voice.softphone.token_ttl_s must be within 60..=86400".into());
        }
        Ok(())
    }
}

impl TwilioVoice {
    /// The flat menu and its greeting, as the IVR core reads them.
    pub fn flat_menu(&self) -> crate::ivr::FlatMenu<'_> {
        crate::ivr::FlatMenu {
            greeting: &self.greeting,
            options: &self.menu,
        }
    }
}

impl Default for TwilioVoice {
    fn default() -> Self {
        Self {
            enabled: false,
            auth_token: String::new(),
            greeting: "お電話ありがとうございます。".into(),
            language: "ja-JP".into(),
            menu: Vec::new(),
            gather_timeout_s: 8,
            softphone: Softphone::default(),
            caller_id: String::new(),
            account_sid: String::new(),
            api_base: "https://api.twilio.com".into(),
        }
    }
}

/// LINE Messaging API.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Line {
    pub enabled: bool,
    /// Signs webhooks (X-Line-Signature).
    pub channel_secret: String,
    /// Bearer token for the reply and push APIs.
    pub channel_access_token: String,
    pub api_base: String,
    /// Where message content (images, audio, video, files) is read.
    pub data_api_base: String,
    pub queue: Option<QueueName>,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            enabled: false,
            channel_secret: String::new(),
            channel_access_token: String::new(),
            api_base: "https://api.line.me".into(),
            data_api_base: "https://api-data.line.me".into(),
            queue: None,
        }
    }
}

/// Messenger Platform: Facebook Messenger (`[channels.messenger]`) and Instagram
/// messaging (`[channels.instagram]`).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Messenger {
    pub enabled: bool,
    /// Signs webhooks (X-Hub-Signature-256).
    pub app_secret: String,
    /// Echoed in the subscription handshake (`hub.verify_token`).
    pub verify_token: String,
    pub page_access_token: String,
    pub api_base: String,
    pub api_version: String,
    pub queue: Option<QueueName>,
    /// The app has Meta's Human Agent permission: a reply between 24 hours and 7 days
    /// after the customer's last message goes out with the `HUMAN_AGENT` tag. Off:
    /// such a reply is refused with its reason.
    pub human_agent_tag: bool,
}

impl Default for Messenger {
    fn default() -> Self {
        Self {
            enabled: false,
            app_secret: String::new(),
            verify_token: String::new(),
            page_access_token: String::new(),
            api_base: "https://graph.facebook.com".into(),
            api_version: "v21.0".into(),
            queue: None,
            human_agent_tag: false,
        }
    }
}

/// WhatsApp Business Platform (Cloud API).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsApp {
    pub enabled: bool,
    /// The Meta app's secret: signs webhooks (X-Hub-Signature-256).
    pub app_secret: String,
    /// Echoed in the subscription handshake (`hub.verify_token`).
    pub verify_token: String,
    /// Bearer token of the system user that sends.
    pub access_token: String,
    /// The business phone number's id at Meta (sends go to `/{id}/messages`).
    pub phone_number_id: String,
    pub api_base: String,
    pub api_version: String,
    pub queue: Option<QueueName>,
    /// The message templates approved for this business, with their bodies: the only
    /// messages an agent may send after the 24-hour window.
    pub templates: Vec<crate::domain::ApprovedTemplate>,
}

impl Default for WhatsApp {
    fn default() -> Self {
        Self {
            enabled: false,
            app_secret: String::new(),
            verify_token: String::new(),
            access_token: String::new(),
            phone_number_id: String::new(),
            api_base: "https://graph.facebook.com".into(),
            api_version: "v21.0".into(),
            queue: None,
            templates: Vec::new(),
        }
    }
}

/// X (Twitter) direct messages: the Account Activity API in, the v2 DM API out.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XDirect {
    pub enabled: bool,
    /// The app's consumer secret: signs webhooks and answers the CRC challenge.
    pub consumer_secret: String,
    /// The business account's OAuth 2.0 user access token (`dm.write`).
    pub access_token: String,
    /// OAuth 1.0a user-context credentials (the app's API key, the account's access
    /// token and secret), with which the media of a customer's direct message is
    /// fetched from `ton.twitter.com` (X serves it to OAuth 1.0a only). All three or
    /// none: without them that media stays a described reference.
    pub oauth1_consumer_key: String,
    pub oauth1_token: String,
    pub oauth1_token_secret: String,
    pub api_base: String,
    pub queue: Option<QueueName>,
}

impl XDirect {
    /// The OAuth 1.0a credentials, when configured.
    pub fn oauth1(&self) -> Option<crate::oauth1::Credentials> {
        (!self.oauth1_consumer_key.is_empty()).then(|| crate::oauth1::Credentials {
            consumer_key: self.oauth1_consumer_key.clone(),
            consumer_secret: self.consumer_secret.clone(),
            token: self.oauth1_token.clone(),
            token_secret: self.oauth1_token_secret.clone(),
        })
    }
}

impl Default for XDirect {
    fn default() -> Self {
        Self {
            enabled: false,
            consumer_secret: String::new(),
            access_token: String::new(),
            oauth1_consumer_key: String::new(),
            oauth1_token: String::new(),
            oauth1_token_secret: String::new(),
            api_base: "https://api.x.com".into(),
            queue: None,
        }
    }
}

/// `[channels.public]`: public social conversations, taken on the private
/// connectors' webhooks and answered with their credentials.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicSocial {
    /// Comments and visitor posts on the Facebook Page (the app's Page subscription
    /// includes the `feed` field) become `facebook_comments` conversations, answered
    /// under the comment with the Messenger page access token (which then needs
    /// `pages_manage_engagement`). Needs `messenger.enabled`.
    pub facebook_comments: bool,
    /// Posts mentioning or answering the business account (Account Activity
    /// `tweet_create_events`) become `x_mentions` conversations, answered as replies
    /// with the X access token (which then needs `tweet.write`). Needs `x.enabled`.
    pub x_mentions: bool,
    /// Queue for new public conversations (else the channel's default queue).
    pub queue: Option<QueueName>,
}

/// Video escalation from web chat.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Video {
    pub enabled: bool,
    /// Join link; `{room}` becomes an unguessable room id, `{conversation}` the
    /// conversation id.
    pub join_url_template: String,
    pub queue: Option<QueueName>,
}

impl Default for Video {
    fn default() -> Self {
        Self {
            enabled: true,
            join_url_template: "https://meet.example.com/{room}".into(),
            queue: None,
        }
    }
}

impl ChannelSettings {
    /// Start-up check: an enabled connector must have its secrets.
    pub fn validate(&self) -> Result<(), String> {
        let need = |on: bool, what: &str, v: &str| {
            if on && v.trim().is_empty() {
                Err(format!(
                    "channels: {what} is required when the connector is enabled"
                ))
            } else {
                Ok(())
            }
        };
        need(self.sms.enabled, "sms.account_sid", &self.sms.account_sid)?;
        need(self.sms.enabled, "sms.auth_token", &self.sms.auth_token)?;
        need(self.sms.enabled, "sms.from_number", &self.sms.from_number)?;
        need(
            self.voice.enabled,
            "voice.auth_token",
            &self.voice.auth_token,
        )?;
        self.voice.softphone.validate()?;
        let account = &self.voice.account_sid;
        let sid_shaped = account.len() == 34
            && account.starts_with("AC")
            && account.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
        if !account.is_empty() && !sid_shaped {
            return Err(format!(
                "channels.voice.account_sid {account:?} must be AC and 32 hex digits"
            ));
        }
        let phone = &self.voice.softphone.account_sid;
        if !account.is_empty() && !phone.is_empty() && phone != account {
            return Err(
                "channels.voice.softphone.account_sid must be channels.voice.account_sid".into(),
            );
        }
        let caller_id = &self.voice.caller_id;
        if !caller_id.is_empty()
            && crate::domain::IdentityKey::parse(crate::domain::Channel::Voice, caller_id)
                .map_or(true, |k| k.address != *caller_id)
        {
            return Err(format!(
                "channels.voice.caller_id {caller_id:?} must be an E.164 number (+81…)"
            ));
        }
        need(
            self.line.enabled,
            "line.channel_secret",
            &self.line.channel_secret,
        )?;
        need(
            self.line.enabled,
            "line.channel_access_token",
            &self.line.channel_access_token,
        )?;
        need(
            self.messenger.enabled,
            "messenger.app_secret",
            &self.messenger.app_secret,
        )?;
        need(
            self.messenger.enabled,
            "messenger.verify_token",
            &self.messenger.verify_token,
        )?;
        need(
            self.messenger.enabled,
            "messenger.page_access_token",
            &self.messenger.page_access_token,
        )?;
        need(self.x.enabled, "x.consumer_secret", &self.x.consumer_secret)?;
        let oauth1 = [
            &self.x.oauth1_consumer_key,
            &self.x.oauth1_token,
            &self.x.oauth1_token_secret,
        ];
        if oauth1.iter().any(|v| v.is_empty()) && oauth1.iter().any(|v| !v.is_empty()) {
            return Err(
                "channels.x.oauth1_consumer_key, oauth1_token and oauth1_token_secret go \
                 together (all three, or none)"
                    .into(),
            );
        }
        if self.public.facebook_comments && !self.messenger.enabled {
            return Err(
                "channels.public.facebook_comments needs channels.messenger.enabled (the \
                 comments arrive on its webhook and are answered with its token)"
                    .into(),
            );
        }
        if self.public.x_mentions && !self.x.enabled {
            return Err(
                "channels.public.x_mentions needs channels.x.enabled (the mentions \
                        arrive on its webhook and are answered with its token)"
                    .into(),
            );
        }
        need(self.x.enabled, "x.access_token", &self.x.access_token)?;
        for (what, v) in [
            ("instagram.app_secret", &self.instagram.app_secret),
            ("instagram.verify_token", &self.instagram.verify_token),
            (
                "instagram.page_access_token",
                &self.instagram.page_access_token,
            ),
        ] {
            need(self.instagram.enabled, what, v)?;
        }
        for (what, v) in [
            ("whatsapp.app_secret", &self.whatsapp.app_secret),
            ("whatsapp.verify_token", &self.whatsapp.verify_token),
            ("whatsapp.access_token", &self.whatsapp.access_token),
            ("whatsapp.phone_number_id", &self.whatsapp.phone_number_id),
        ] {
            need(self.whatsapp.enabled, what, v)?;
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.whatsapp.templates {
            if t.name.trim().is_empty() || t.language.trim().is_empty() || t.body.is_empty() {
                return Err(
                    "channels.whatsapp.templates: name, language and body are required".into(),
                );
            }
            if !seen.insert((&t.name, &t.language)) {
                return Err(format!(
                    "channels.whatsapp.templates: {} ({}) twice",
                    t.name, t.language
                ));
            }
            if t.parameter_count() > crate::domain::channel::MAX_TEMPLATE_PARAMETERS {
                return Err(format!(
                    "channels.whatsapp.templates: {} takes over {} parameters",
                    t.name,
                    crate::domain::channel::MAX_TEMPLATE_PARAMETERS
                ));
            }
        }
        need(
            self.email.enabled,
            "email.relay.from_address",
            &self.email.relay.from_address,
        )?;
        need(self.email.enabled, "email.hostname", &self.email.hostname)?;
        if self.public_url.ends_with('/') {
            return Err("channels.public_url must not end with '/'".into());
        }
        let mut digits = std::collections::HashSet::new();
        for o in &self.voice.menu {
            if !(o.digit.is_ascii_digit() || o.digit == '*' || o.digit == '#') {
                return Err(format!("channels.voice.menu: {:?} is not a key", o.digit));
            }
            if !digits.insert(o.digit) {
                return Err(format!("channels.voice.menu: digit {} twice", o.digit));
            }
            if o.queue.is_none() && !o.callback {
                return Err(format!(
                    "channels.voice.menu: digit {} needs a queue or callback = true",
                    o.digit
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_softphone_is_configured_whole_or_not_at_all() {
        let mut s = Softphone::default();
        assert!(s.validate().is_ok() && !s.configured());
        s.account_sid = "AC1".into();
        assert!(s.validate().unwrap_err().contains("together"));
        s.api_key_sid = "SK1".into();
        s.api_key_secret = "secret".into();
        s.twiml_app_sid = "AP1".into();
        assert!(s.validate().is_ok() && s.configured());
        s.token_ttl_s = 90_000;
        assert!(s.validate().unwrap_err().contains("86400"));
    }

    #[test]
    fn the_caller_id_is_an_e164_number_as_written() {
        let mut c = ChannelSettings::default();
        for ok in ["", "+81501234567"] {
            c.voice.caller_id = ok.into();
            assert!(c.validate().is_ok(), "{ok}");
        }
        for bad in ["0501234567", "+81 50 1234 567", "our number"] {
            c.voice.caller_id = bad.into();
            assert!(c.validate().unwrap_err().contains("caller_id"), "{bad}");
        }
    }

    #[test]
    fn the_rest_account_is_an_account_sid_shared_with_the_softphone() {
        let sid = format!("AC{}", "0a".repeat(16));
        let mut c = ChannelSettings::default();
        c.voice.account_sid = sid.clone();
        assert!(c.validate().is_ok());
        c.voice.account_sid = "AC123".into();
        assert!(c.validate().unwrap_err().contains("account_sid"));
        c.voice.account_sid = sid.clone();
        c.voice.softphone.account_sid = format!("AC{}", "0b".repeat(16));
        c.voice.softphone.api_key_sid = "SK1".into();
        c.voice.softphone.api_key_secret = "s".into();
        c.voice.softphone.twiml_app_sid = "AP1".into();
        assert!(c.validate().unwrap_err().contains("softphone.account_sid"));
        c.voice.softphone.account_sid = sid;
        assert!(c.validate().is_ok());
    }
}
