//! One CRM lookup over HTTP: the URL from the template, the request with its deadline
//! and optional auth header, the body read up to a byte limit, and the answer
//! validated and bounded into [`CrmData`]. No caching and no retries here (see
//! `super::cache`).
//!
//! Expected answer (anything else is `invalid`):
//! `{"attributes": {"tier": "gold", "ltv": 1200}, "orders": [{"id": "A-1",
//! "date": "2026-11-02", "status": "shipped", "total": 49.5}]}`; both keys optional;
//! attribute values are strings, numbers or booleans (others are dropped).

use super::CrmSettings;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A validated CRM answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CrmData {
    /// Flat key -> value, as text.
    pub attributes: BTreeMap<String, String>,
    pub orders: Vec<Order>,
}

/// One order of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub id: String,
    pub date: String,
    pub status: String,
    /// The amount as the CRM wrote it (a number, or text with a currency).
    pub total: String,
}

/// Why a lookup failed; `outcome()` is the metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    #[error("crm answered HTTP {0}")]
    Status(u16),
    #[error("crm did not answer within {0} ms")]
    Timeout(u64),
    #[error("crm unreachable: {0}")]
    Unreachable(String),
    #[error("crm answer is not valid: {0}")]
    Invalid(String),
    #[error("crm answer is larger than {0} bytes")]
    TooLarge(usize),
}

impl CrmError {
    pub fn outcome(&self) -> &'static str {
        match self {
            CrmError::Status(_) => "http_error",
            CrmError::Timeout(_) => "timeout",
            CrmError::Unreachable(_) => "unreachable",
            CrmError::Invalid(_) => "invalid",
            CrmError::TooLarge(_) => "too_large",
        }
    }
}

use crate::domain::text::percent_encode as encode;

/// The lookup URL: the template with its placeholders replaced (percent-encoded).
pub(super) fn expand(template: &str, customer_id: &str, phone: &str, email: &str) -> String {
    template
        .replace("{customer_id}", &encode(customer_id))
        .replace("{phone}", &encode(phone))
        .replace("{email}", &encode(email))
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Validates and bounds an answer body.
pub fn parse(body: &[u8], s: &CrmSettings) -> Result<CrmData, CrmError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| CrmError::Invalid(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| CrmError::Invalid("not a JSON object".into()))?;
    let mut data = CrmData::default();
    match obj.get("attributes") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                if data.attributes.len() >= s.max_attributes {
                    break;
                }
                let key_ok = !k.is_empty()
                    && k.len() <= s.max_value_bytes
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if let (true, Some(val)) = (key_ok, scalar(v)) {
                    data.attributes
                        .insert(k.clone(), cut(val, s.max_value_bytes));
                }
            }
        }
        Some(_) => return Err(CrmError::Invalid("attributes is not an object".into())),
    }
    match obj.get("orders") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(list)) => {
            for o in list.iter().take(s.max_orders) {
                let field = |name: &str| {
                    o.get(name)
                        .and_then(scalar)
                        .map(|v| cut(v, s.max_value_bytes))
                        .unwrap_or_default()
                };
                if !o.is_object() || field("id").is_empty() {
                    return Err(CrmError::Invalid("an order needs an id".into()));
                }
                data.orders.push(Order {
                    id: field("id"),
                    date: field("date"),
                    status: field("status"),
                    total: field("total"),
                });
            }
        }
        Some(_) => return Err(CrmError::Invalid("orders is not a list".into())),
    }
    Ok(data)
}

fn transport(e: reqwest::Error, s: &CrmSettings) -> CrmError {
    if e.is_timeout() {
        CrmError::Timeout(s.timeout_ms)
    } else {
        CrmError::Unreachable(e.without_url().to_string())
    }
}

/// One lookup: the request, the bounded body, the parsed answer.
pub(super) async fn fetch(
    http: &reqwest::Client,
    s: &CrmSettings,
    url: &str,
) -> Result<CrmData, CrmError> {
    let timeout = Duration::from_millis(s.timeout_ms);
    let run = async {
        let mut req = http.get(url).header("accept", "application/json");
        if let Some(v) = &s.auth_value {
            req = req.header(s.auth_header.as_str(), v.as_str());
        }
        let mut resp = req.send().await.map_err(|e| transport(e, s))?;
        if !resp.status().is_success() {
            return Err(CrmError::Status(resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > s.max_response_bytes as u64)
        {
            return Err(CrmError::TooLarge(s.max_response_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(e, s))? {
            if body.len() + chunk.len() > s.max_response_bytes {
                return Err(CrmError::TooLarge(s.max_response_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        parse(&body, s)
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| CrmError::Timeout(s.timeout_ms))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_encodes_values() {
        assert_eq!(
            expand(
                "http://c/x?p={phone}&e={email}&i={customer_id}",
                "id",
                "+8190",
                "a b@x"
            ),
            "http://c/x?p=%2B8190&e=a%20b%40x&i=id"
        );
    }

    #[test]
    fn parse_bounds_and_validates() {
        let s = CrmSettings {
            max_attributes: 2,
            max_orders: 1,
            max_value_bytes: 4,
            ..Default::default()
        };
        let d = parse(
            br#"{"attributes":{"a":"12345","b":7,"c":true,"bad key":"x"},"orders":[{"id":"o1","total":9.5},{"id":"o2"}]}"#,
            &s,
        )
        .unwrap();
        assert_eq!(d.attributes.len(), 2);
        assert_eq!(d.attributes["a"], "1234");
        assert_eq!(d.attributes["b"], "7");
        assert_eq!(d.orders.len(), 1);
        assert_eq!(d.orders[0].total, "9.5");
        assert!(matches!(parse(b"<html>", &s), Err(CrmError::Invalid(_))));
        assert!(matches!(parse(b"[1]", &s), Err(CrmError::Invalid(_))));
        assert!(matches!(
            parse(br#"{"orders":[{"total":1}]}"#, &s),
            Err(CrmError::Invalid(_))
        ));
        assert!(matches!(
            parse(br#"{"attributes":[1]}"#, &s),
            Err(CrmError::Invalid(_))
        ));
        // Attribute values that are not scalars are dropped, not fatal.
        let d = parse(
            r#"{"attributes":{"n":{"x":1},"s":"é"}}"#.as_bytes(),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(d.attributes.len(), 1);
    }

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("日本".into(), 4), "日");
        assert_eq!(cut("ab".into(), 4), "ab");
    }
}
