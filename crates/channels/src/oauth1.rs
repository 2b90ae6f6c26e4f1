//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), as X requires for the media of
//! direct messages (`ton.twitter.com`): the `Authorization: OAuth …` header of one
//! request, signed over its method, URL and query with the app's consumer secret and
//! the account's token secret; [`nonce`] makes each request's nonce. Pure apart from
//! that nonce and the clock its caller passes.

use base64::Engine as _;
use hmac::{Hmac, Mac};

/// The app's and the account's OAuth 1.0a credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token: String,
    pub token_secret: String,
}

impl std::fmt::Debug for Credentials {
    /// Secrets never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("consumer_key", &self.consumer_key)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// RFC 3986 percent-encoding, as OAuth 1.0a wants it.
pub use crate::domain::text::percent_encode as encode;

/// The signature of a request: base64 HMAC-SHA1, keyed by the two secrets, of
/// `METHOD&url&params` (`url` without its query; `params`: the query's and the body's
/// form parameters, decoded, plus the `oauth_*` ones).
pub fn signature(method: &str, url: &str, params: &[(String, String)], c: &Credentials) -> String {
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    pairs.sort();
    let joined = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(url),
        encode(&joined)
    );
    let key = format!("{}&{}", encode(&c.consumer_secret), encode(&c.token_secret));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A fresh `oauth_nonce`: 32 hex digits of 128 random bits (a UUID v4), unique per
/// request as OAuth 1.0a asks.
pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The `Authorization` header of `method` on `url` (its query signed too; no body
/// parameters), with `nonce` and `timestamp` (Unix seconds).
pub fn authorization(
    method: &str,
    url: &reqwest::Url,
    c: &Credentials,
    nonce: &str,
    timestamp: i64,
) -> String {
    let timestamp = timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", c.consumer_key.as_str()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", c.token.as_str()),
        ("oauth_version", "1.0"),
    ];
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.extend(oauth.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    let sig = signature(method, bare.as_str(), &params, c);
    let mut fields: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", encode(v)))
        .collect();
    fields.push(format!("oauth_signature=\"{}\"", encode(&sig)));
    fields.sort();
    format!("OAuth {}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        // The example of X's "Creating a signature" guide.
        Credentials {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog".into(),
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw".into(),
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into(),
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE".into(),
        }
    }

    #[test]
    fn the_guides_example_signs_as_published() {
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let params = [
            p(
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            p("include_entities", "true"),
            p("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            p("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            p("oauth_signature_method", "HMAC-SHA1"),
            p("oauth_timestamp", "1318622958"),
            p(
                "oauth_token",
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            ),
            p("oauth_version", "1.0"),
        ];
        assert_eq!(
            signature(
                "post",
                "https://api.twitter.com/1.1/statuses/update.json",
                &params,
                &creds()
            ),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }

    #[test]
    fn the_header_signs_the_query_and_names_every_field() {
        let url = reqwest::Url::parse(
            "https://ton.twitter.com/1.1/ton/data/dm/1/2/abc.jpg?include_entities=true",
        )
        .unwrap();
        let h = authorization("GET", &url, &creds(), "n0nce", 1_700_000_000);
        assert!(h.starts_with("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "));
        for f in [
            "oauth_nonce=\"n0nce\"",
            "oauth_signature_method=\"HMAC-SHA1\"",
            "oauth_timestamp=\"1700000000\"",
            "oauth_version=\"1.0\"",
        ] {
            assert!(h.contains(f), "{h}");
        }
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let expected = signature(
            "GET",
            "https://ton.twitter.com/1.1/ton/data/dm/1/2/abc.jpg",
            &[
                p("include_entities", "true"),
                p("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
                p("oauth_nonce", "n0nce"),
                p("oauth_signature_method", "HMAC-SHA1"),
                p("oauth_timestamp", "1700000000"),
                p("oauth_token", &creds().token),
                p("oauth_version", "1.0"),
            ],
            &creds(),
        );
        assert!(
            h.contains(&format!("oauth_signature=\"{}\"", encode(&expected))),
            "{h}"
        );
        assert_eq!(encode("a b+c/~"), "a%20b%2Bc%2F~");
        assert!(
            !format!("{:?}", creds()).contains("kAcSOq"),
            "no secret in Debug"
        );
    }
}
