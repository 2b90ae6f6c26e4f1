//! Where a subscriber's URL may point. A URL staff register is parsed and checked
//! ([`check_url`]): `https` (or `http` with `stream.allow_http`), a host, no user
//! name or password, and — unless `stream.allow_private_addresses` — no address that
//! is not public: loopback, private (RFC 1918, unique-local), link-local (the cloud
//! metadata service at 169.254.169.254 among them), carrier-grade NAT, unspecified,
//! multicast, documentation ranges, and names such as `localhost` or
//! `metadata.google.internal`. A name's addresses are checked again on every
//! connection by the client's resolver ([`Resolver`]), so a name that later resolves
//! to a private address (DNS rebinding) is refused at delivery too.

use super::StreamSettings;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a URL or address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("is not a URL")]
    NotUrl,
    #[error("is longer than {0} bytes")]
    TooLong(usize),
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("has no host")]
    NoHost,
    #[error("must not carry a fragment")]
    Fragment,
    #[error(
        "points at a non-public address ({0}); set stream.allow_private_addresses to allow it"
    )]
    NotPublic(String),
}

/// The URL as it is stored (normalised by the parser), or why it is refused.
pub fn check_url(raw: &str, settings: &StreamSettings) -> Result<String, Refused> {
    if raw.len() > settings.max_url_bytes {
        return Err(Refused::TooLong(settings.max_url_bytes));
    }
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| Refused::NotUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        _ => return Err(Refused::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    if url.fragment().is_some() {
        return Err(Refused::Fragment);
    }
    let host = url.host().ok_or(Refused::NoHost)?;
    if !settings.allow_private_addresses {
        match host {
            url::Host::Ipv4(ip) => refuse_ip(IpAddr::V4(ip))?,
            url::Host::Ipv6(ip) => refuse_ip(IpAddr::V6(ip))?,
            url::Host::Domain(name) => refuse_name(name)?,
        }
    }
    Ok(url.to_string())
}

/// Refuses a literal address that is not public.
pub fn refuse_ip(ip: IpAddr) -> Result<(), Refused> {
    if public(ip) {
        Ok(())
    } else {
        Err(Refused::NotPublic(ip.to_string()))
    }
}

/// Refuses the names that stand for the machine itself or a cloud's metadata service.
fn refuse_name(name: &str) -> Result<(), Refused> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let local = n == "localhost"
        || n.ends_with(".localhost")
        || n.ends_with(".local")
        || n.ends_with(".internal")
        || n == "metadata"
        || !n.contains('.');
    if local {
        Err(Refused::NotPublic(n))
    } else {
        Ok(())
    }
}

/// Whether `ip` is a public unicast address.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            public_v6(v6)
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || first == 0x0064) // NAT64 well-known prefix: may reach IPv4 private space
}

/// The delivery client's resolver: the system's lookup, keeping only the addresses a
/// subscriber may reach.
pub struct Resolver {
    pub allow_private: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if !allow_private {
                refuse_name(&host).map_err(|e| -> Box<dyn std::error::Error + Send + Sync> {
                    format!("{host} {e}").into()
                })?;
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || public(a.ip()))
                .collect();
            if kept.is_empty() {
                let shown = found
                    .first()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|| "no address".into());
                return Err(format!("{host} resolves to a non-public address ({shown})").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> StreamSettings {
        StreamSettings::default()
    }

    #[test]
    fn public_https_urls_pass_and_the_rest_is_refused() {
        let s = strict();
        assert_eq!(
            check_url("https://crm.example.com/hooks?x=1", &s).unwrap(),
            "https://crm.example.com/hooks?x=1"
        );
        assert!(check_url("https://93.184.216.34/in", &s).is_ok());
        for (bad, why) in [
            ("http://crm.example.com/", Refused::NotHttps),
            ("ftp://crm.example.com/", Refused::NotHttps),
            ("https://u:p@crm.example.com/", Refused::Credentials),
            ("https://crm.example.com/#x", Refused::Fragment),
            ("not a url", Refused::NotUrl),
        ] {
            assert_eq!(check_url(bad, &s).unwrap_err(), why, "{bad}");
        }
        for bad in [
            "https://127.0.0.1/",
            "https://127.1.2.3:8443/",
            "https://10.0.0.7/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://metadata.google.internal/",
            "https://intranet/",
            "https://2130706433/",
        ] {
            assert!(
                matches!(check_url(bad, &s), Err(Refused::NotPublic(_))),
                "{bad}: {:?}",
                check_url(bad, &s)
            );
        }
        let long = format!("https://crm.example.com/{}", "a".repeat(3_000));
        assert_eq!(check_url(&long, &s).unwrap_err(), Refused::TooLong(2_048));
    }

    #[test]
    fn settings_can_allow_a_local_receiver() {
        let s = StreamSettings {
            allow_http: true,
            allow_private_addresses: true,
            ..strict()
        };
        assert!(check_url("http://127.0.0.1:9000/in", &s).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_non_public_addresses() {
        let r = Resolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_err());
        let open = Resolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = open.resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
