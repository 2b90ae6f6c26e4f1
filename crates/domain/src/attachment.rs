//! Files that travel with messages, as rules without I/O: the id of stored bytes
//! ([`BlobId`], their SHA-256), and the policy every file passes before it is stored
//! ([`FilePolicy::accept`]): a size limit, an allow-list of MIME types, a check that
//! the bytes are what their type claims (magic numbers), and a file name cleaned of
//! paths and control characters. Also how a stored file may be served
//! ([`served_inline`]). docs/attachments.md is the reference.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The SHA-256 of a stored file's bytes, 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobId(String);

impl BlobId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use std::fmt::Write;
        let hex = Sha256::digest(bytes)
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
        Self(hex)
    }

    /// An id as written by [`BlobId::of`]; anything else is refused.
    pub fn parse(s: &str) -> Result<Self, crate::ParseError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::ParseError::new(
                "file",
                "a file id is 64 lowercase hex digits (a SHA-256)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32 bytes of the hash.
    pub fn bytes(&self) -> [u8; 32] {
        let nibble = |b: u8| match b {
            b'0'..=b'9' => b - b'0',
            _ => b - b'a' + 10,
        };
        let mut out = [0u8; 32];
        for (i, pair) in self.0.as_bytes().chunks(2).enumerate() {
            out[i] = (nibble(pair[0]) << 4) | nibble(pair[1]);
        }
        out
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BlobId {
    type Error = crate::ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<BlobId> for String {
    fn from(id: BlobId) -> String {
        id.0
    }
}

/// What files are accepted (`[attachments]`). Every limit is explicit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilePolicy {
    /// Largest file accepted from anyone (an upload, an email part, a provider's
    /// media), bytes.
    pub max_bytes: u64,
    /// Files one message may carry.
    pub max_files_per_message: usize,
    /// MIME types accepted (lowercase, without parameters). A type is stored only if
    /// its bytes look like it (see [`sniff`]); types with no known signature (plain
    /// text aside) cannot be listed.
    pub types: Vec<String>,
    /// Longest file name kept, characters (longer names are cut, keeping the
    /// extension).
    pub max_name_chars: usize,
    /// Rows the bytes are stored in, bytes each (the CQL store keeps every row well
    /// under a megabyte).
    pub chunk_bytes: usize,
    /// How long a signed link to a file, handed to a provider that fetches an agent's
    /// file itself (Messenger, Instagram, Twilio MMS), stays valid, ms.
    pub link_ttl_ms: u64,
    /// A lower `max_bytes` for files taken from or sent on a channel, where its
    /// provider takes less (Twilio MMS: 5 MB in all).
    pub channel_max_bytes: std::collections::BTreeMap<crate::Channel, u64>,
}

impl Default for FilePolicy {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_files_per_message: 10,
            types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "audio/mpeg",
                "audio/ogg",
                "audio/mp4",
                "audio/wav",
                "video/mp4",
                "video/webm",
                "text/plain",
            ]
            .map(str::to_owned)
            .to_vec(),
            max_name_chars: 120,
            chunk_bytes: 256 * 1024,
            link_ttl_ms: 24 * 3_600_000,
            channel_max_bytes: [(crate::Channel::Sms, 5 * 1024 * 1024)].into(),
        }
    }
}

/// Why a file was refused; the message is safe to show and names no content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRefused {
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: u64, max: u64 },
    #[error("files of type {0:?} are not accepted")]
    Type(String),
    #[error("the file's bytes are not a {0} file")]
    Mismatch(String),
    #[error("the file is empty")]
    Empty,
    #[error("a message carries at most {0} files")]
    TooMany(usize),
}

/// A file that passed the policy: its clean type and name, and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub content_type: String,
    pub name: Option<String>,
    /// `image`, `audio`, `video` or `file`.
    pub kind: &'static str,
}

impl FilePolicy {
    /// Refuses a policy that could store a file it cannot check.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes == 0 || self.chunk_bytes == 0 || self.max_files_per_message == 0 {
            return Err(
                "attachments.max_bytes, chunk_bytes and max_files_per_message must be above 0"
                    .into(),
            );
        }
        if self.link_ttl_ms == 0 || self.link_ttl_ms > 30 * 24 * 3_600_000 {
            return Err("attachments.link_ttl_ms must be 1 ms to 30 days".into());
        }
        if let Some((c, _)) = self.channel_max_bytes.iter().find(|(_, m)| **m == 0) {
            return Err(format!("attachments.channel_max_bytes.{c} must be above 0"));
        }
        if self.chunk_bytes > 1024 * 1024 {
            return Err("attachments.chunk_bytes is at most 1048576 (one CQL row)".into());
        }
        for t in &self.types {
            if t != "text/plain" && sniff(t, &[]).is_none() {
                return Err(format!(
                    "attachments.types: {t:?} has no known signature, so its content \
                     cannot be checked"
                ));
            }
        }
        Ok(())
    }

    /// The largest file taken from or sent on `channel`: `max_bytes`, or the
    /// channel's lower `channel_max_bytes`.
    pub fn max_bytes_on(&self, channel: crate::Channel) -> u64 {
        self.channel_max_bytes
            .get(&channel)
            .map_or(self.max_bytes, |m| (*m).min(self.max_bytes))
    }

    /// Checks a file of `declared` type named `name` with `bytes`: the size, the type
    /// (allow-listed, parameters dropped) and that the bytes are of that type.
    pub fn accept(
        &self,
        declared: &str,
        name: Option<&str>,
        bytes: &[u8],
    ) -> Result<Accepted, FileRefused> {
        self.accept_at_most(self.max_bytes, declared, name, bytes)
    }

    /// [`FilePolicy::accept`] for a file taken from `channel` (its size limit).
    pub fn accept_on(
        &self,
        channel: crate::Channel,
        declared: &str,
        name: Option<&str>,
        bytes: &[u8],
    ) -> Result<Accepted, FileRefused> {
        self.accept_at_most(self.max_bytes_on(channel), declared, name, bytes)
    }

    fn accept_at_most(
        &self,
        max: u64,
        declared: &str,
        name: Option<&str>,
        bytes: &[u8],
    ) -> Result<Accepted, FileRefused> {
        let size = bytes.len() as u64;
        if size == 0 {
            return Err(FileRefused::Empty);
        }
        if size > max {
            return Err(FileRefused::TooLarge { size, max });
        }
        let content_type = essence(declared);
        if !self.types.contains(&content_type) {
            return Err(FileRefused::Type(content_type));
        }
        let ok = if content_type == "text/plain" {
            std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0)
        } else {
            sniff(&content_type, bytes) == Some(true)
        };
        if !ok {
            return Err(FileRefused::Mismatch(content_type));
        }
        Ok(Accepted {
            kind: kind_of(&content_type),
            name: name.and_then(|n| clean_name(n, self.max_name_chars)),
            content_type,
        })
    }
}

/// A MIME type without its parameters, lowercase: `Image/PNG; q=1` is `image/png`.
pub fn essence(declared: &str) -> String {
    declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `image`, `audio`, `video` or `file`, by type.
pub fn kind_of(content_type: &str) -> &'static str {
    match content_type.split('/').next() {
        Some("image") => "image",
        Some("audio") => "audio",
        Some("video") => "video",
        _ => "file",
    }
}

/// Whether `bytes` carry the signature of `content_type`: `None` when the type has
/// no known signature.
pub fn sniff(content_type: &str, bytes: &[u8]) -> Option<bool> {
    let at = |offset: usize, sig: &[u8]| bytes.get(offset..offset + sig.len()) == Some(sig);
    Some(match content_type {
        "image/png" => at(0, b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => at(0, b"\xff\xd8\xff"),
        "image/gif" => at(0, b"GIF87a") || at(0, b"GIF89a"),
        "image/webp" => at(0, b"RIFF") && at(8, b"WEBP"),
        "application/pdf" => at(0, b"%PDF-"),
        "audio/mpeg" => {
            at(0, b"ID3") || (bytes.len() > 1 && bytes[0] == 0xff && bytes[1] & 0xe0 == 0xe0)
        }
        "audio/ogg" => at(0, b"OggS"),
        "audio/wav" => at(0, b"RIFF") && at(8, b"WAVE"),
        "audio/mp4" | "video/mp4" => at(4, b"ftyp"),
        "video/webm" => at(0, b"\x1a\x45\xdf\xa3"),
        _ => return None,
    })
}

/// A file name as shown and offered for download: the last path segment, without
/// control characters or quotes, at most `max` characters (the extension kept).
/// `None` when nothing usable is left.
pub fn clean_name(name: &str, max: usize) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\u{202e}' | '\u{202d}'))
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return None;
    }
    let chars = clean.chars().count();
    if chars <= max {
        return Some(clean.to_owned());
    }
    let ext: String = match clean.rfind('.') {
        Some(i) if clean.len() - i <= 10 => clean[i..].to_owned(),
        _ => String::new(),
    };
    let keep = max.saturating_sub(ext.chars().count()).max(1);
    Some(clean.chars().take(keep).collect::<String>() + &ext)
}

/// Whether a stored file of `content_type` may be shown inline by a browser (images,
/// PDF, audio, video, plain text); anything else is served as a download.
pub fn served_inline(content_type: &str) -> bool {
    matches!(kind_of(content_type), "image" | "audio" | "video")
        || matches!(content_type, "application/pdf" | "text/plain")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn an_id_is_the_sha256_in_lowercase_hex_and_round_trips() {
        let id = BlobId::of(b"abc");
        assert_eq!(
            id.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(BlobId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!((id.bytes()[0], id.bytes()[31]), (0xba, 0xad));
        for bad in [
            "",
            "BA7816BF",
            &"g".repeat(64),
            &"a".repeat(63),
            "../etc/passwd",
        ] {
            assert!(BlobId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_passes_by_size_type_and_signature() {
        let p = FilePolicy::default();
        let ok = p.accept("Image/PNG; x=1", Some("C:\\tmp\\cat.png"), PNG);
        assert_eq!(
            ok,
            Ok(Accepted {
                content_type: "image/png".into(),
                name: Some("cat.png".into()),
                kind: "image",
            })
        );
        assert_eq!(
            p.accept("text/html", None, b"<script>"),
            Err(FileRefused::Type("text/html".into()))
        );
        assert_eq!(
            p.accept("image/png", None, b"<html><script>"),
            Err(FileRefused::Mismatch("image/png".into())),
            "a page calling itself an image is refused"
        );
        assert_eq!(
            p.accept("application/pdf", None, b""),
            Err(FileRefused::Empty)
        );
        let small = FilePolicy {
            max_bytes: 4,
            ..FilePolicy::default()
        };
        assert_eq!(
            small.accept("image/png", None, PNG),
            Err(FileRefused::TooLarge { size: 16, max: 4 })
        );
        assert!(p.accept("text/plain", None, b"a\0b").is_err());
        assert!(p.accept("application/pdf", None, b"%PDF-1.4\n").is_ok());
    }

    #[test]
    fn a_channels_limit_only_lowers_the_global_one() {
        let p = FilePolicy {
            max_bytes: 100,
            channel_max_bytes: [(crate::Channel::Sms, 10), (crate::Channel::Line, 1_000)].into(),
            ..Default::default()
        };
        assert_eq!(p.max_bytes_on(crate::Channel::Sms), 10);
        assert_eq!(p.max_bytes_on(crate::Channel::Line), 100, "never raised");
        assert_eq!(p.max_bytes_on(crate::Channel::Email), 100);
        assert_eq!(
            p.accept_on(crate::Channel::Sms, "image/png", None, PNG),
            Err(FileRefused::TooLarge { size: 16, max: 10 })
        );
        assert!(p
            .accept_on(crate::Channel::Email, "image/png", None, PNG)
            .is_ok());
        let zero = FilePolicy {
            channel_max_bytes: [(crate::Channel::Sms, 0)].into(),
            ..Default::default()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .contains("channel_max_bytes.sms"));
    }

    #[test]
    fn names_lose_paths_controls_and_excess_but_keep_the_extension() {
        assert_eq!(
            clean_name("../../etc/passwd", 50).as_deref(),
            Some("passwd")
        );
        assert_eq!(clean_name("a\r\nb\".pdf", 50).as_deref(), Some("ab.pdf"));
        assert_eq!(
            clean_name("evil\u{202e}fdp.exe", 50).as_deref(),
            Some("evilfdp.exe")
        );
        assert_eq!(clean_name("..", 50), None);
        assert_eq!(clean_name("dir/", 50), None);
        let long = format!("{}.pdf", "x".repeat(300));
        let cut = clean_name(&long, 20).unwrap_or_default();
        assert_eq!((cut.chars().count(), cut.ends_with(".pdf")), (20, true));
    }

    #[test]
    fn a_policy_cannot_allow_a_type_it_cannot_check() {
        assert!(FilePolicy::default().validate().is_ok());
        let html = FilePolicy {
            types: vec!["text/html".into()],
            ..FilePolicy::default()
        };
        assert!(html.validate().is_err());
        assert!(served_inline("application/pdf") && !served_inline("application/zip"));
    }
}
