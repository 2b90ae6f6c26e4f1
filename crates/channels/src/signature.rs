//! Webhook signature checks, exactly as each provider documents them. Every comparison
//! is constant-time.
//!
//! - Twilio: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, full URL + each POST
//!   parameter's name and value, sorted by name)).
//! - LINE: `X-Line-Signature` = base64(HMAC-SHA256(channel secret, raw body)).
//! - Messenger, Instagram, WhatsApp: `X-Hub-Signature-256` = `sha256=` +
//!   hex(HMAC-SHA256(app secret, raw body)).
//! - X: `X-Twitter-Webhooks-Signature` = `sha256=` + base64(HMAC-SHA256(consumer
//!   secret, raw body)); the CRC challenge's `response_token` is the same over the
//!   `crc_token`.
//! - Our own links to stored files (`FileLinkKey`, for `crate::file_links`):
//!   base64url(HMAC-SHA256(file link key, "{customer}/{file}/{expiry}")).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Twilio's signature over `url` and the form parameters.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut data = String::with_capacity(url.len() + 256);
    data.push_str(url);
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> bool {
    let Some(given) = header else { return false };
    constant_time_eq(
        twilio_signature(auth_token, url, params).as_bytes(),
        given.trim().as_bytes(),
    )
}

pub fn line_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn verify_line(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header else { return false };
    constant_time_eq(
        line_signature(secret, body).as_bytes(),
        given.trim().as_bytes(),
    )
}

/// X's signature (and CRC response token) over `data`.
pub fn x_signature(consumer_secret: &str, data: &[u8]) -> String {
    format!("sha256={}", line_signature(consumer_secret, data))
}

pub fn verify_x(consumer_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header else { return false };
    constant_time_eq(
        x_signature(consumer_secret, body).as_bytes(),
        given.trim().as_bytes(),
    )
}

pub fn messenger_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

pub fn verify_messenger(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header else { return false };
    constant_time_eq(
        messenger_signature(app_secret, body).as_bytes(),
        given.trim().to_ascii_lowercase().as_bytes(),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret the links to stored files are signed with (32 bytes; `crate::file_links`).
#[derive(Clone)]
pub struct FileLinkKey([u8; 32]);

impl std::fmt::Debug for FileLinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileLinkKey(..)")
    }
}

impl FileLinkKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(
        &self,
        customer: crate::domain::CustomerId,
        file: &crate::domain::BlobId,
        exp_s: i64,
    ) -> Hmac<Sha256> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(format!("{customer}/{}/{exp_s}", file.as_str()).as_bytes());
        mac
    }

    /// The signature of a link to `file` of `customer` valid until `exp_s`.
    pub fn sign(
        &self,
        customer: crate::domain::CustomerId,
        file: &crate::domain::BlobId,
        exp_s: i64,
    ) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.mac(customer, file, exp_s).finalize().into_bytes())
    }

    /// Whether `sig` signs a link to `file` of `customer` until `exp_s`, and `now` is
    /// not past it. Constant-time in the signature.
    pub fn verify(
        &self,
        customer: crate::domain::CustomerId,
        file: &crate::domain::BlobId,
        exp_s: i64,
        sig: &str,
        now: crate::domain::Millis,
    ) -> bool {
        if now.0 > exp_s.saturating_mul(1000) {
            return false;
        }
        let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        self.mac(customer, file, exp_s).verify_slice(&raw).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_example() {
        // The example from Twilio's "Webhooks security" page.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = twilio_signature("12345", url, &params);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify_twilio("12345", url, &params, Some(&sig)));
        assert!(!verify_twilio("12346", url, &params, Some(&sig)));
        assert!(!verify_twilio("12345", url, &params[1..], Some(&sig)));
        assert!(!verify_twilio("12345", url, &params, None));
    }

    #[test]
    fn line_and_messenger_round_trip_and_reject_tampering() {
        let body = br#"{"events":[]}"#;
        let s = line_signature("secret", body);
        assert!(verify_line("secret", body, Some(&s)));
        assert!(!verify_line("secret", br#"{"events":[1]}"#, Some(&s)));
        assert!(!verify_line("other", body, Some(&s)));
        let m = messenger_signature("appsecret", body);
        assert!(m.starts_with("sha256=") && m.len() == 7 + 64);
        assert!(verify_messenger("appsecret", body, Some(&m)));
        assert!(!verify_messenger("appsecret", b"x", Some(&m)));
        assert!(!verify_messenger("appsecret", body, Some("sha1=abc")));
    }

    #[test]
    fn x_crc_token_and_signature() {
        // Computed independently (Python's hmac and base64 modules).
        let crc = b"9b4507b3-9040-4669-9ba9-b4b3b4b4e8d1";
        assert_eq!(
            x_signature("consumer-secret", crc),
            "sha256=GALHb5t7dl9TGECrhgHXVBxuASWf/1GgBCAuG7SOOoA="
        );
        let body = br#"{"for_user_id":"1"}"#;
        let s = x_signature("consumer-secret", body);
        assert!(verify_x("consumer-secret", body, Some(&s)));
        assert!(!verify_x("consumer-secret", b"{}", Some(&s)));
        assert!(!verify_x("other", body, Some(&s)));
        assert!(!verify_x("consumer-secret", body, None));
    }
}

#[cfg(test)]
mod file_link_tests {
    use super::*;
    use crate::domain::{BlobId, CustomerId, Millis};

    #[test]
    fn a_link_verifies_until_it_expires_and_for_its_file_only() {
        let k = FileLinkKey::new([3; 32]);
        let c = CustomerId::new();
        let f = BlobId::parse(&"a".repeat(64)).unwrap();
        let g = BlobId::parse(&"b".repeat(64)).unwrap();
        let sig = k.sign(c, &f, 1_000);
        assert!(k.verify(c, &f, 1_000, &sig, Millis(999_000)));
        assert!(k.verify(c, &f, 1_000, &sig, Millis(1_000_000)));
        assert!(!k.verify(c, &f, 1_000, &sig, Millis(1_000_001)), "expired");
        assert!(!k.verify(c, &f, 2_000, &sig, Millis(0)), "another expiry");
        assert!(!k.verify(c, &g, 1_000, &sig, Millis(0)), "another file");
        assert!(!k.verify(CustomerId::new(), &f, 1_000, &sig, Millis(0)));
        assert!(!FileLinkKey::new([4; 32]).verify(c, &f, 1_000, &sig, Millis(0)));
        assert!(!k.verify(c, &f, 1_000, "not base64!", Millis(0)));
    }
}
