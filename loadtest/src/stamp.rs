//! The correlation stamp the harness writes at the start of every message text it
//! sends, and reads back from what arrives (an offer's `preview`, a timeline event's
//! text): it tells which run, customer and message a text is, and when it was sent, so
//! the receiving end measures latency without any shared state. Harness-only: the
//! engine carries the text as it is.

/// What a stamped message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A customer's opening message (opens the conversation; measured to the offer).
    Open,
    /// A customer's message during the load phase (measured to the agent's `event`).
    Msg,
    /// An agent's reply (measured to the customer's `event`).
    Reply,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Open => 'o',
            Kind::Msg => 'm',
            Kind::Reply => 'r',
        }
    }

    fn from_letter(s: &str) -> Option<Kind> {
        match s {
            "o" => Some(Kind::Open),
            "m" => Some(Kind::Msg),
            "r" => Some(Kind::Reply),
            _ => None,
        }
    }
}

/// The correlation token at the start of every message text the harness sends:
/// `lt:<run>:<kind>:<customer_index>:<seq>:<sent_ns>`, optionally followed by a space
/// and padding. `run` (8 hex digits) tells this run's traffic from a previous run's
/// still held by the engine; `sent_ns` is [`crate::clock::now_ns`] at the send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run: u32,
    pub kind: Kind,
    pub customer: u32,
    pub seq: u64,
    pub sent_ns: u64,
}

impl Stamp {
    /// The message text: the stamp, padded with `x` to at least `min_bytes` bytes.
    pub fn text(&self, min_bytes: usize) -> String {
        let mut s = format!(
            "lt:{:08x}:{}:{}:{}:{}",
            self.run,
            self.kind.letter(),
            self.customer,
            self.seq,
            self.sent_ns
        );
        if min_bytes > s.len() + 1 {
            s.push(' ');
            let pad = min_bytes - s.len();
            s.extend(std::iter::repeat_n('x', pad));
        }
        s
    }

    /// Reads the stamp at the start of `text`, if there is one.
    pub fn parse(text: &str) -> Option<Stamp> {
        let word = text.split(' ').next()?;
        let mut it = word.split(':');
        if it.next()? != "lt" {
            return None;
        }
        let run = u32::from_str_radix(it.next()?, 16).ok()?;
        let kind = Kind::from_letter(it.next()?)?;
        let customer = it.next()?.parse().ok()?;
        let seq = it.next()?.parse().ok()?;
        let sent_ns = it.next()?.parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(Stamp {
            run,
            kind,
            customer,
            seq,
            sent_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trip_and_padding() {
        let s = Stamp {
            run: 0xdead_beef,
            kind: Kind::Reply,
            customer: 42,
            seq: 7,
            sent_ns: 123_456_789,
        };
        assert_eq!(s.text(0), "lt:deadbeef:r:42:7:123456789");
        assert_eq!(Stamp::parse(&s.text(0)), Some(s));
        let padded = s.text(100);
        assert_eq!(padded.len(), 100);
        assert_eq!(Stamp::parse(&padded), Some(s));
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("lt:zz:m:1:1:1"), None);
        assert_eq!(Stamp::parse("lt:00000001:m:1:1:1:9"), None);
    }
}
