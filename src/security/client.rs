//! The client address a request is counted against (login throttling, the anonymous
//! doors' budgets): the TCP peer, unless the peer is one of `security.trusted_proxies`;
//! then the last `X-Forwarded-For` hop that is not itself a trusted proxy (the one the
//! proxies saw). A header from anyone else is ignored, so a client cannot pick its own
//! address. A malformed header from a trusted proxy counts the proxy itself.

use actix_web::HttpRequest;
use std::net::IpAddr;

/// An address block of `security.trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    addr: IpAddr,
    prefix: u8,
}

impl Block {
    /// `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Result<Block, String> {
        let bad = || format!("security.trusted_proxies: {s:?} is not an IP address or CIDR block");
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Block { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl crate::config::SecuritySettings {
    /// `trusted_proxies` parsed (checked at load).
    pub fn trusted_proxies(&self) -> Result<Vec<Block>, String> {
        self.trusted_proxies
            .iter()
            .map(|s| Block::parse(s))
            .collect()
    }
}

/// The address `req` is counted against; `None` when the peer is unknown (not TCP).
pub fn client_ip(req: &HttpRequest, trusted: &[Block]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    Some(from_hops(peer, &forwarded, trusted))
}

/// [`client_ip`] on its inputs: walk back from the peer while the hop is trusted.
pub fn from_hops(peer: IpAddr, forwarded: &str, trusted: &[Block]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|b| b.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    return ip;
                }
            }
            // A hop we cannot read: stop at the last trusted one we could.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match() {
        let b = Block::parse("10.0.0.0/8").unwrap();
        assert!(b.contains(ip("10.200.1.1")));
        assert!(b.contains(ip("::ffff:10.1.1.1")));
        assert!(!b.contains(ip("11.0.0.1")));
        assert!(Block::parse("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
        assert!(!Block::parse("192.0.2.7").unwrap().contains(ip("192.0.2.8")));
        assert!(Block::parse("2001:db8::/32")
            .unwrap()
            .contains(ip("2001:db8:5::1")));
        assert!(Block::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0.0/x", "::/129"] {
            assert!(Block::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [Block::parse("10.0.0.0/8").unwrap()];
        // Not a proxy: the header is the client's own claim.
        assert_eq!(
            from_hops(ip("198.51.100.1"), "203.0.113.9", &trusted),
            ip("198.51.100.1")
        );
        // Through our proxy: the hop it saw, not what the client prepended.
        assert_eq!(
            from_hops(ip("10.0.0.2"), "1.2.3.4, 203.0.113.9", &trusted),
            ip("203.0.113.9")
        );
        // Two of our proxies in a row.
        assert_eq!(
            from_hops(ip("10.0.0.2"), "203.0.113.9, 10.0.0.3", &trusted),
            ip("203.0.113.9")
        );
        // Garbage or nothing from the proxy: the proxy itself.
        assert_eq!(from_hops(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
        assert_eq!(from_hops(ip("10.0.0.2"), "junk", &trusted), ip("10.0.0.2"));
        // No trusted proxies: never believed.
        assert_eq!(
            from_hops(ip("10.0.0.2"), "203.0.113.9", &[]),
            ip("10.0.0.2")
        );
    }
}
