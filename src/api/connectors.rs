//! Channel connector settings over REST (admin; docs/channels.md "Editing connector
//! settings"): `GET /api/v1/connectors` answers every connector's settings in force
//! with each secret masked (`{"set": true, "hint": "…f00d"}` — never its value), and
//! `PUT /api/v1/connectors` changes them live: the body is a partial document merged
//! over the settings in force (a secret given as a string is set, left out or `null`
//! it is kept: secrets are write-only), carrying the version it started from (409
//! otherwise). The result must pass the start-up check; switching a connector on or off
//! is refused (the engine's reply channels are fixed at start). Each save is a numbered
//! version in the store (`switchboard_engine::actors::versioned`, document
//! `channels`), put in force in this node's gateway and re-read by every other member
//! (`config.changed`).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::channels::config::ChannelSettings;
use crate::channels::Gateway;
use crate::domain::{ErrorCode, Millis};
use crate::store::{Batch, StoreError};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use switchboard_engine::actors::versioned::Versioned;

const DOC: Versioned = Versioned("channels");

/// Keys whose string values are secrets: never answered, only set.
const SECRET_KEYS: &[&str] = &[
    "auth_token",
    "api_key_secret",
    "channel_secret",
    "channel_access_token",
    "app_secret",
    "verify_token",
    "page_access_token",
    "access_token",
    "access_token_secret",
    "consumer_secret",
    "login_secret",
    "password",
    "bearer_token",
];

/// One saved version of the connector settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub settings: Value,
    pub version: u64,
    pub saved_by: String,
    pub saved_at: Millis,
}

/// `value` with every secret replaced by whether it is set and its last four
/// characters (when it is long enough that they give nothing away).
pub fn masked(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        // An optional secret not given (`email.relay.password`).
                        Value::Null if SECRET_KEYS.contains(&k.as_str()) => {
                            serde_json::json!({ "set": false, "hint": null })
                        }
                        Value::String(s) if SECRET_KEYS.contains(&k.as_str()) => {
                            let hint = (s.chars().count() >= 12).then(|| {
                                let tail: String = s.chars().rev().take(4).collect();
                                format!("…{}", tail.chars().rev().collect::<String>())
                            });
                            serde_json::json!({ "set": !s.is_empty(), "hint": hint })
                        }
                        other => masked(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        other => other.clone(),
    }
}

/// Merges `patch` over `base` (objects key by key; anything else replaced). A secret
/// left `null` (or as its masked form) is kept. Switching `enabled` is named in
/// `refused`, by path.
fn merge(base: &mut Value, patch: &Value, path: &str, refused: &mut BTreeMap<String, String>) {
    let (Value::Object(b), Value::Object(p)) = (&mut *base, patch) else {
        *base = patch.clone();
        return;
    };
    for (k, v) in p {
        let at = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if SECRET_KEYS.contains(&k.as_str()) && !v.is_string() {
            continue; // null or the masked form: kept.
        }
        if k == "enabled" && b.get(k) != Some(v) {
            refused.insert(
                at,
                "switching a connector on or off takes effect at start: change it in the settings file".into(),
            );
            continue;
        }
        match b.get_mut(k) {
            Some(existing) if existing.is_object() && v.is_object() => {
                merge(existing, v, &at, refused)
            }
            _ => {
                b.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The setting a start-up check's message names (`channels: sms.from_number is
/// required…`, `channels.voice.account_sid "x" must be…`), when `settings` has it: so
/// the console can show the error under its input.
fn field_of(message: &str, settings: &Value) -> Option<String> {
    let rest = message
        .strip_prefix("channels: ")
        .or_else(|| message.strip_prefix("channels."))?;
    let path: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let path = path.trim_end_matches('.');
    let mut at = settings;
    for part in path.split('.') {
        at = at.get(part)?;
    }
    (!path.is_empty()).then(|| path.to_owned())
}

/// Puts the newest saved version in force in `gateway` (at start, and when another
/// member saved one); a stored version that no longer passes the check is logged and
/// left out.
pub async fn reload(gateway: &Gateway) -> Result<(), StoreError> {
    let store = &gateway.engine.store;
    let head = DOC.head(store).await?;
    if head == 0 {
        return Ok(());
    }
    let Some(doc) = DOC.get::<Stored>(store, head).await? else {
        return Ok(());
    };
    match serde_json::from_value::<ChannelSettings>(doc.settings)
        .map_err(|e| e.to_string())
        .and_then(|s| s.validate().map(|()| s))
    {
        Ok(s) => gateway.set_channels(s),
        Err(e) => {
            tracing::error!(version = head, error = %e, "stored connector settings refused; the settings file's stay")
        }
    }
    Ok(())
}

async fn current_version(gateway: &Gateway) -> Result<Stored, ApiError> {
    let store = &gateway.engine.store;
    let head = DOC.head(store).await?;
    let settings = serde_json::to_value(&*gateway.channels())
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    if head == 0 {
        return Ok(Stored {
            settings,
            version: 0,
            saved_by: "config".into(),
            saved_at: Millis(0),
        });
    }
    let doc = DOC
        .get::<Stored>(store, head)
        .await?
        .ok_or_else(|| ApiError::not_found("connector settings version"))?;
    Ok(Stored { settings, ..doc })
}

/// Every connector's settings in force, secrets masked (admin).
#[utoipa::path(get, path = "/api/v1/connectors", tag = "channels", operation_id = "get_connectors",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{settings, version, saved_by, saved_at}`; each secret is `{set, hint}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn get(staff: Staff, gateway: web::Data<Gateway>) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let mut v = current_version(&gateway).await?;
    v.settings = masked(&v.settings);
    Ok(HttpResponse::Ok().json(v))
}

/// `PUT /api/v1/connectors`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Save {
    version: u64,
    settings: Value,
}

/// Changes connector settings live (admin).
///
/// Body `{version, settings}`: `settings` is merged over those in force (a secret as a
/// string is set; `null` or left out it is kept). 400 names what is wrong (`fields`),
/// 409 when `version` is not the newest. Answers the new version, secrets masked.
#[utoipa::path(put, path = "/api/v1/connectors", tag = "channels", operation_id = "put_connectors",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{version, settings}`"),
    responses(
        (status = 200, description = "`{settings, version, saved_by, saved_at}`, secrets masked"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    gateway: web::Data<Gateway>,
    body: web::Json<Save>,
) -> Result<HttpResponse, ApiError> {
    static SAVING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    staff.require_admin()?;
    let body = body.into_inner();
    if !body.settings.is_object() {
        return Err(ApiError::invalid("settings must be a JSON object"));
    }
    let _one_at_a_time = SAVING.lock().await;
    let before = current_version(&gateway).await?;
    if body.version != before.version {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "version {} was saved since this edit began: reload and edit it",
                before.version
            ),
        ));
    }
    let mut merged = before.settings.clone();
    let mut refused = BTreeMap::new();
    merge(&mut merged, &body.settings, "", &mut refused);
    if !refused.is_empty() {
        return Err(ApiError::fields(refused));
    }
    let parsed: ChannelSettings = serde_json::from_value(merged.clone()).map_err(|e| {
        let msg = e.to_string();
        ApiError::fields([("settings".to_owned(), msg)].into_iter().collect())
    })?;
    parsed.validate().map_err(|e| {
        let at = field_of(&e, &merged).unwrap_or_else(|| "settings".to_owned());
        ApiError::fields([(at, e)].into_iter().collect())
    })?;
    let store = &state.server.engine.store;
    let saved = Stored {
        settings: merged,
        version: before.version + 1,
        saved_by: staff.id.to_string(),
        saved_at: state.server.engine.now(),
    };
    if !DOC.claim(store, saved.version, &saved).await? {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "another save took this version: reload and edit it",
        ));
    }
    store
        .commit(Batch {
            settings: vec![DOC.head_write(saved.version)],
            ..Default::default()
        })
        .await?;
    gateway.set_channels(parsed);
    state
        .server
        .engine
        .broadcast(switchboard_engine::actors::mail::ConfigChanged {
            what: switchboard_engine::actors::mail::Config::Channels,
        });
    let answer = Stored {
        settings: masked(&saved.settings),
        ..saved
    };
    super::audit_trail::record_change(
        &req,
        Some(masked(&before.settings)),
        serde_json::to_value(&answer).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_and_kept_unless_given() {
        let base = json!({"sms": {"enabled": true, "auth_token": "0123456789abcdef", "from_number": "+1"}});
        assert_eq!(
            masked(&base),
            json!({"sms": {"enabled": true, "auth_token": {"set": true, "hint": "…cdef"}, "from_number": "+1"}})
        );
        let mut merged = base.clone();
        let mut refused = BTreeMap::new();
        merge(
            &mut merged,
            &json!({"sms": {"auth_token": null, "from_number": "+2"}}),
            "",
            &mut refused,
        );
        assert_eq!(merged["sms"]["auth_token"], "0123456789abcdef");
        assert_eq!(merged["sms"]["from_number"], "+2");
        merge(
            &mut merged,
            &json!({"sms": {"auth_token": "new-token-value", "enabled": false}}),
            "",
            &mut refused,
        );
        assert_eq!(merged["sms"]["auth_token"], "new-token-value");
        assert_eq!(merged["sms"]["enabled"], true, "not switched live");
        assert!(refused.contains_key("sms.enabled"), "{refused:?}");
        assert_eq!(
            masked(&json!({"relay": {"password": null}})),
            json!({"relay": {"password": {"set": false, "hint": null}}})
        );
    }

    #[test]
    fn a_check_names_the_field_it_refuses() {
        let s = json!({"sms": {"from_number": ""}, "voice": {"account_sid": "x", "softphone": {}}});
        let field = |m: &str| field_of(m, &s);
        assert_eq!(
            field("channels: sms.from_number is required when the connector is enabled").as_deref(),
            Some("sms.from_number")
        );
        assert_eq!(
            field("channels.voice.account_sid \"x\" must be AC and 32 hex digits").as_deref(),
            Some("voice.account_sid")
        );
        assert_eq!(
            field("channels.voice.softphone needs account_sid…").as_deref(),
            Some("voice.softphone")
        );
        assert_eq!(field("channels.nothing.here is wrong"), None);
        assert_eq!(field("something else"), None);
    }
}
