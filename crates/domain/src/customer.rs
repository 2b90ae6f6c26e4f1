//! Customers and their channel identities.

use super::{AddressKind, Channel, CustomerId, Millis, ParseError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One person across every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub display_name: Option<String>,
    /// Identities stitched into this customer.
    pub identities: Vec<IdentityKey>,
    /// Routing priority; higher is served first (VIP customers > 0).
    #[serde(default)]
    pub priority: i32,
    /// Free-form attributes (CRM, tier, language...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The agent who last served this customer (sticky routing).
    #[serde(default)]
    pub last_agent: Option<super::AgentId>,
    /// Channels the customer opted out of (SMS STOP, LINE unfollow): nothing is sent
    /// there until they opt back in.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub opted_out: std::collections::BTreeSet<Channel>,
    /// Set on a record merged into another: its identities moved there and every
    /// lookup goes to the survivor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<CustomerId>,
    /// Records merged into this one, with the identities each brought (so that a wrong
    /// merge can be undone). Their timelines read as part of this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<MergedRecord>,
    pub created_at: Millis,
}

/// The customer attributes routing reads (docs/api.md "Novices"), e.g. from a CRM:
/// `difficulty` (1 to 5), how hard this customer's contacts are (a customer tier), and
/// `language` (e.g. `ja`), a language their agent must speak (the skill `lang-ja` at
/// 1). Any other attribute is free-form. Refused with the attribute's name when one is
/// malformed.
pub fn attribute_requirements(
    attributes: &BTreeMap<String, String>,
) -> Result<crate::SkillFloors, ParseError> {
    let mut out = crate::SkillFloors::new();
    if let Some(v) = attributes.get("difficulty") {
        let p = v
            .parse::<u8>()
            .ok()
            .and_then(|d| crate::Proficiency::new(d).ok())
            .ok_or_else(|| ParseError::new("attributes.difficulty", "must be 1 to 5"))?;
        out.insert(crate::difficulty_skill(), p);
    }
    if let Some(v) = attributes.get("language") {
        let skill = crate::language_skill(v).ok_or_else(|| {
            ParseError::new(
                "attributes.language",
                "must be a language code (2 to 8 lowercase letters, e.g. ja)",
            )
        })?;
        out.insert(
            skill,
            crate::Proficiency::new(1).expect("1 is a proficiency"),
        );
    }
    Ok(out)
}

impl Customer {
    /// What a contact of this customer needs of its agent: `contact`'s own
    /// requirements, plus those of the customer's attributes it does not give itself
    /// ([`attribute_requirements`]; ignored if malformed), up to
    /// [`crate::MAX_REQUIRED_SKILLS`].
    pub fn requirements_for(&self, contact: &crate::SkillFloors) -> crate::SkillFloors {
        let mut out = contact.clone();
        for (skill, p) in attribute_requirements(&self.attributes).unwrap_or_default() {
            if out.len() >= crate::MAX_REQUIRED_SKILLS {
                break;
            }
            out.entry(skill).or_insert(p);
        }
        out
    }
}

/// A customer record merged into another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedRecord {
    pub customer: CustomerId,
    pub identities: Vec<IdentityKey>,
    pub at: Millis,
}

/// A (channel, address) pair: a phone number for SMS/voice, an email address, a LINE
/// user id, a web-chat visitor id...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdentityKey {
    pub channel: Channel,
    pub address: String,
}

/// Longest accepted address, in bytes.
pub const MAX_ADDRESS_LEN: usize = 320;

impl IdentityKey {
    /// Parses and normalises an address for `channel` (trimmed; email lowercased;
    /// phone numbers reduced to `+` and digits).
    pub fn parse(channel: Channel, address: &str) -> Result<Self, ParseError> {
        let a = address.trim();
        if a.is_empty() || a.len() > MAX_ADDRESS_LEN {
            return Err(ParseError::new("address", "must be 1 to 320 bytes"));
        }
        if a.chars().any(|c| c.is_control()) {
            return Err(ParseError::new("address", "control characters"));
        }
        let address = match channel.capabilities().address {
            AddressKind::Email => {
                let lower = a.to_lowercase();
                let (local, domain) = lower
                    .split_once('@')
                    .ok_or_else(|| ParseError::new("address", "email needs an '@'"))?;
                if local.is_empty() || domain.is_empty() || domain.contains('@') {
                    return Err(ParseError::new("address", "malformed email address"));
                }
                lower
            }
            AddressKind::Phone => {
                let digits: String = a.chars().filter(|c| c.is_ascii_digit()).collect();
                if !a.starts_with('+') || digits.len() < 6 || digits.len() > 15 {
                    return Err(ParseError::new(
                        "address",
                        "phone numbers must be E.164 (+ and 6 to 15 digits)",
                    ));
                }
                if a.chars()
                    .any(|c| !(c.is_ascii_digit() || "+ -()".contains(c)))
                {
                    return Err(ParseError::new(
                        "address",
                        "unexpected character in phone number",
                    ));
                }
                format!("+{digits}")
            }
            AddressKind::Opaque | AddressKind::XAccount => a.to_owned(),
        };
        Ok(Self { channel, address })
    }

    /// Stable byte key `channel \0 address` used by the stores.
    pub fn storage_key(&self) -> String {
        format!("{}\u{0}{}", self.channel.as_str(), self.address)
    }

    /// The identity of a [`IdentityKey::storage_key`]; `None` for a channel this build
    /// does not know (or no separator). The address is taken as stored.
    pub fn from_storage_key(key: &str) -> Option<Self> {
        let (channel, address) = key.split_once('\u{0}')?;
        Some(Self {
            channel: Channel::parse(channel).ok()?,
            address: address.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        let e = IdentityKey::parse(Channel::Email, " Taro@Example.JP ").unwrap();
        assert_eq!(e.address, "taro@example.jp");
        let p = IdentityKey::parse(Channel::Sms, "+81 90-1234-5678").unwrap();
        assert_eq!(p.address, "+819012345678");
        assert!(IdentityKey::parse(Channel::Sms, "09012345678").is_err());
        assert!(IdentityKey::parse(Channel::Email, "nobody").is_err());
        assert!(IdentityKey::parse(Channel::Chat, "").is_err());
        assert!(IdentityKey::parse(Channel::Line, "U1234\n").is_ok()); // trimmed
        assert!(IdentityKey::parse(Channel::Line, "U12\u{7}34").is_err());
        assert_eq!(IdentityKey::from_storage_key(&p.storage_key()), Some(p));
        assert_eq!(IdentityKey::from_storage_key("fax\u{0}123"), None);
    }
}
