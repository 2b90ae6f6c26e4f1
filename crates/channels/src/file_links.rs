//! Signed, expiring links to a customer's stored file, for the providers that fetch an
//! agent's file themselves (Messenger and Instagram attachments by URL, Twilio MMS
//! `MediaUrl`): `{public_url}/files/{customer}/{file}?exp={unix s}&sig={HMAC}`, where
//! the HMAC-SHA256 under the engine's `file_link_key` (`signature::FileLinkKey`, kept
//! in the store, the same on every node) covers the customer, the file and the
//! expiry. The server's
//! `GET /files/...` serves the bytes to whoever holds a link that verifies and has
//! not expired (`attachments.link_ttl_ms`), and to nobody else; the link names no
//! personal data beyond the ids.

use crate::domain::{Attachment, CustomerId};

/// The signed link to stored attachment `a` of `customer`, valid for
/// `attachments.link_ttl_ms` from now; `None` for a description without a stored
/// file.
pub fn link(gateway: &crate::Gateway, customer: CustomerId, a: &Attachment) -> Option<String> {
    let file = a.file.as_ref()?;
    let ttl = i64::try_from(gateway.settings.attachments.link_ttl_ms).unwrap_or(i64::MAX);
    let exp_s = gateway.now().0.saturating_add(ttl) / 1000;
    let sig = gateway.file_link_key.sign(customer, file, exp_s);
    Some(format!(
        "{}/files/{customer}/{}?exp={exp_s}&sig={sig}",
        gateway.channels().public_url,
        file.as_str()
    ))
}

/// Writes `name: link` for a file the channel cannot carry as a file under `text`
/// (LINE's documents, X's anything but images).
pub fn write_under(text: &mut String, a: &Attachment, link: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("{}: {link}", a.name.as_deref().unwrap_or("file")));
}

/// The signed links of every file a delivery carries, each with its kind (`image`,
/// `audio`, `video`, `file`), in order. A file the delivery describes without a
/// stored copy cannot be sent: a permanent failure.
pub fn of_delivery(
    gateway: &crate::Gateway,
    d: &switchboard_engine::outbound::Delivery,
) -> Result<Vec<(&'static str, String)>, crate::connector::SendFailure> {
    d.attachments
        .iter()
        .map(|a| {
            let url = link(gateway, d.customer_id, a).ok_or_else(|| {
                crate::connector::SendFailure::permanent("a file without a stored copy")
            })?;
            let kind = crate::domain::attachment::kind_of(a.content_type.as_deref().unwrap_or(""));
            Ok((kind, url))
        })
        .collect()
}
