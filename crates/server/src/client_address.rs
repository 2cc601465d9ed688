//! The client's address: the peer's, or, when the peer is a configured trusted proxy, the
//! first untrusted hop of the one header that proxy sets (`TOLLGATE_CLIENT_ADDRESS_HEADER`),
//! read from the right. One answer for failure limiting, usage and the audit log alike; no
//! other header is read, so a client's own `Forwarded` or `X-Real-IP` chooses nothing.

use actix_web::http::header::HeaderMap;
use std::net::IpAddr;

/// The most hops of the header read from the right: a longer chain of trusted proxies than
/// this is not believed, and the client is [`Client::Unknown`].
const MAX_HOPS: usize = 16;

/// `TOLLGATE_TRUSTED_PROXIES`: the networks whose forwarding header is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 192.168.1.7, ::1/128`. A bare address is a network of one.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (address, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("`{item}` is not an IP address or CIDR network"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("`{item}`: the prefix length must be 0 to {max}"))?,
            };
            networks.push((address, bits));
        }
        Ok(TrustedProxies(networks))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|(net, bits)| match (canonical(*net), ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            _ => false,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The header a trusted proxy names the client in (`TOLLGATE_CLIENT_ADDRESS_HEADER`): one,
/// never "whichever is present".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AddressHeader {
    /// `X-Forwarded-For`: nginx (`$proxy_add_x_forwarded_for` or `$remote_addr`), Traefik,
    /// Caddy, Envoy, most ingress controllers and load balancers.
    #[default]
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    #[value(name = "forwarded")]
    Forwarded,
    /// `X-Real-IP`: one address (nginx's `proxy_set_header X-Real-IP $remote_addr`).
    #[value(name = "x-real-ip")]
    XRealIp,
}

impl AddressHeader {
    pub fn name(self) -> &'static str {
        match self {
            AddressHeader::XForwardedFor => "x-forwarded-for",
            AddressHeader::Forwarded => "forwarded",
            AddressHeader::XRealIp => "x-real-ip",
        }
    }

    /// The hops the header names, oldest first, `None` for an entry that is not an address
    /// (`unknown`, an obfuscated name, garbage); `None` when the header is absent.
    fn hops(self, headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
        let mut values = headers.get_all(self.name()).peekable();
        values.peek()?;
        let texts: Vec<&str> = values.map(|v| v.to_str().unwrap_or("\u{0}")).collect();
        Some(match self {
            AddressHeader::XForwardedFor => texts
                .iter()
                .flat_map(|v| v.split(','))
                .map(|s| parse_node(s.trim()))
                .collect(),
            AddressHeader::Forwarded => texts
                .iter()
                .flat_map(|v| v.split(','))
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
                })
                .collect(),
            // One address; several headers, or a list, is not what a proxy sets.
            AddressHeader::XRealIp => match texts.as_slice() {
                [one] => vec![parse_node(one.trim())],
                _ => vec![None],
            },
        })
    }
}

/// Where a request comes from, as far as it can be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The connection's peer, which is no trusted proxy.
    Direct(IpAddr),
    /// A trusted proxy's own request: it named no client (no header at all).
    Proxy(IpAddr),
    /// The client a trusted proxy named.
    Forwarded(IpAddr),
    /// A trusted proxy passed on something that is not a believable address (`unknown`, an
    /// obfuscated name, garbage, too many hops): every such client is one budget.
    Unknown,
}

impl Client {
    /// The address to record (usage, audit log), when there is one to believe.
    pub fn address(self) -> Option<IpAddr> {
        match self {
            Client::Direct(ip) | Client::Proxy(ip) | Client::Forwarded(ip) => Some(ip),
            Client::Unknown => None,
        }
    }

    /// The failure budget of a direct endpoint (`/auth/token`, leak reports): the client's,
    /// never a trusted proxy's own.
    pub fn budget(self) -> Option<Budget> {
        match self {
            Client::Direct(ip) | Client::Forwarded(ip) => Some(Budget::of(ip)),
            Client::Unknown => Some(Budget::Unknown),
            Client::Proxy(_) => None,
        }
    }

    /// The failure budget at an endpoint that a gateway or proxy asks for everybody
    /// (introspection, forward auth): only an end client that a trusted proxy names, or the
    /// shared budget of those it could not name; the asking peer's own address never is one.
    pub fn end_client_budget(self) -> Option<Budget> {
        match self {
            Client::Forwarded(ip) => Some(Budget::of(ip)),
            Client::Unknown => Some(Budget::Unknown),
            Client::Direct(_) | Client::Proxy(_) => None,
        }
    }
}

/// Whom failures are counted against: an IPv4 address, an IPv6 /64 (one subscriber's
/// network: a client that rotates within its prefix stays one budget), or every client whose
/// address could not be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    V4([u8; 4]),
    V6([u8; 8]),
    Unknown,
}

impl Budget {
    pub fn of(ip: IpAddr) -> Budget {
        match canonical(ip) {
            IpAddr::V4(v4) => Budget::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Budget::V6(prefix)
            }
        }
    }
}

/// How this server finds a request's client: the trusted proxies and their one header.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    pub trusted: TrustedProxies,
    pub header: AddressHeader,
}

impl ClientAddresses {
    /// The client of a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Client {
        let peer = canonical(peer);
        if !self.trusted.contains(peer) {
            return Client::Direct(peer);
        }
        let Some(hops) = self.header.hops(headers) else {
            return Client::Proxy(peer);
        };
        for hop in hops.iter().rev().take(MAX_HOPS) {
            match hop {
                Some(ip) if self.trusted.contains(*ip) => continue,
                Some(ip) => return Client::Forwarded(canonical(*ip)),
                // An entry that is not an address ends what can be believed.
                None => return Client::Unknown,
            }
        }
        // Every hop read is a trusted proxy: the oldest of them, if that was all there was.
        match hops.first() {
            Some(Some(first)) if hops.len() <= MAX_HOPS => Client::Forwarded(canonical(*first)),
            _ => Client::Unknown,
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so that one client has one address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]` or `[2001:db8::1]:4711`, or a bare IPv6.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':')
        .and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok())
        .map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn behind(trusted: &str, header: AddressHeader) -> ClientAddresses {
        ClientAddresses {
            trusted: TrustedProxies::parse(trusted).unwrap(),
            header,
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=1.2.3.4")]);
        let proxies = behind("10.0.0.0/8", AddressHeader::XForwardedFor);
        assert_eq!(
            proxies.client(ip("198.51.100.1"), &h),
            Client::Direct(ip("198.51.100.1"))
        );
        let nobody = ClientAddresses::default();
        assert_eq!(nobody.client(ip("10.0.0.1"), &h), Client::Direct(ip("10.0.0.1")));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_of_the_named_header_is_the_client() {
        let xff = behind("10.0.0.0/8, 127.0.0.1", AddressHeader::XForwardedFor);
        // The client put a made-up address in front; the proxies appended the real ones.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(xff.client(ip("127.0.0.1"), &h), Client::Forwarded(ip("203.0.113.9")));
        let h = headers(&[("x-forwarded-for", "10.2.2.2")]);
        assert_eq!(xff.client(ip("::ffff:10.9.9.9"), &h), Client::Forwarded(ip("10.2.2.2")));
        let fwd = behind("10.0.0.0/8", AddressHeader::Forwarded);
        let h = headers(&[("forwarded", "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https")]);
        assert_eq!(fwd.client(ip("10.9.9.9"), &h), Client::Forwarded(ip("2001:db8::7")));
        let real = behind("10.0.0.0/8", AddressHeader::XRealIp);
        let h = headers(&[("x-real-ip", "203.0.113.5")]);
        assert_eq!(real.client(ip("10.9.9.9"), &h), Client::Forwarded(ip("203.0.113.5")));
    }

    /// docs/gateway.md's nginx sets X-Forwarded-For only: a client's own `Forwarded` or `X-Real-IP`
    /// is not read, whatever it says.
    #[test]
    fn headers_other_than_the_named_one_choose_nothing() {
        let xff = behind("127.0.0.1", AddressHeader::XForwardedFor);
        for (name, value) in [
            ("forwarded", "for=198.51.100.7"),
            ("forwarded", "for=unknown"),
            ("x-real-ip", "198.51.100.7"),
        ] {
            let h = headers(&[(name, value), ("x-forwarded-for", "203.0.113.9")]);
            assert_eq!(
                xff.client(ip("127.0.0.1"), &h),
                Client::Forwarded(ip("203.0.113.9")),
                "{name}: {value}"
            );
        }
        let fwd = behind("127.0.0.1", AddressHeader::Forwarded);
        let h = headers(&[("x-forwarded-for", "198.51.100.7"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(fwd.client(ip("127.0.0.1"), &h), Client::Forwarded(ip("203.0.113.9")));
    }

    /// Whatever a client can make a proxy pass on that is not an address, it is one budget
    /// with every other such client, never none.
    #[test]
    fn what_cannot_be_believed_is_the_one_unknown_budget() {
        let xff = behind("127.0.0.1, 10.0.0.0/8", AddressHeader::XForwardedFor);
        let peer = ip("127.0.0.1");
        for value in ["unknown", "_hidden", "garbage, ", "", "203.0.113.9:5555, garbage"] {
            let h = headers(&[("x-forwarded-for", value)]);
            assert_eq!(xff.client(peer, &h), Client::Unknown, "{value:?}");
            assert_eq!(xff.client(peer, &h).budget(), Some(Budget::Unknown));
            assert_eq!(xff.client(peer, &h).end_client_budget(), Some(Budget::Unknown));
            assert_eq!(xff.client(peer, &h).address(), None);
        }
        // Hundreds of hops inside the trusted networks: not a chain any proxy built.
        let many = vec!["10.1.1.1"; 300].join(", ");
        assert_eq!(
            xff.client(peer, &headers(&[("x-forwarded-for", &many)])),
            Client::Unknown
        );
        let fwd = behind("127.0.0.1", AddressHeader::Forwarded);
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(fwd.client(peer, &h), Client::Unknown);
        let real = behind("127.0.0.1", AddressHeader::XRealIp);
        let twice = headers(&[("x-real-ip", "203.0.113.5"), ("x-real-ip", "198.51.100.7")]);
        assert_eq!(real.client(peer, &twice), Client::Unknown);
        // No header at all: the proxy's own request, never a budget of its own.
        assert_eq!(xff.client(peer, &HeaderMap::new()), Client::Proxy(peer));
        assert_eq!(Client::Proxy(peer).budget(), None);
        assert_eq!(Client::Direct(peer).end_client_budget(), None);
    }

    #[test]
    fn ipv6_budgets_are_per_64() {
        let a = Budget::of(ip("2001:db8:1:2::1"));
        assert_eq!(a, Budget::of(ip("2001:db8:1:2:ffff:1:2:3")));
        assert_ne!(a, Budget::of(ip("2001:db8:1:3::1")));
        assert_eq!(Budget::of(ip("::ffff:192.0.2.1")), Budget::V4([192, 0, 2, 1]));
        assert_ne!(Budget::of(ip("192.0.2.1")), Budget::of(ip("192.0.2.2")));
    }

    #[test]
    fn networks_are_parsed_strictly() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        let t = TrustedProxies::parse("192.168.4.0/22,::1").unwrap();
        assert!(t.contains(ip("192.168.7.255")) && !t.contains(ip("192.168.8.0")));
        assert!(t.contains(ip("::1")));
    }
}
