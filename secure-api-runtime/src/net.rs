//! Network addresses: `Cidr` ranges (trusted proxies, outbound allowlists),
//! and the client address and protocol a trusted proxy reports, in the one
//! header family it writes ([`ProxyHeader`]): `X-Forwarded-For` with
//! `X-Forwarded-Proto`, or RFC 7239 `Forwarded`.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use actix_web::http::header::HeaderMap;

/// An address range such as `10.0.0.0/8` or `::1/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = text.trim().split_once('/').unwrap_or((text.trim(), ""));
        let network = canonical(
            address
                .parse::<IpAddr>()
                .map_err(|_| format!("`{text}` is not an address or CIDR range"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a prefix above /{max}"))?
        };
        Ok(Self { network, prefix })
    }
}

/// The forwarding headers the trusted proxies write. Only that family is
/// read; the other is ignored entirely, for the address and the protocol,
/// since a proxy passes through whatever the client sent in a header it does
/// not write itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` and `X-Forwarded-Proto` (nginx, most load
    /// balancers; the default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…;proto=…`.
    Forwarded,
}

impl FromStr for ProxyHeader {
    type Err = String;

    /// `x-forwarded-for` or `forwarded`, in any case.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("x-forwarded-for") {
            Ok(Self::XForwardedFor)
        } else if text.eq_ignore_ascii_case("forwarded") {
            Ok(Self::Forwarded)
        } else {
            Err(format!(
                "`{text}` is not a forwarding header: use `x-forwarded-for` or `forwarded`"
            ))
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (one site's
/// allocation), so a client cannot escape a limit by rotating addresses
/// inside its own prefix.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// The client's address. The peer unless it is a trusted proxy; then the
/// nearest address in the proxies' `header` chain that is not a trusted
/// proxy (walking from the peer outwards, so a client cannot forge its
/// place).
///
/// # Examples
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
/// use secure_api_runtime::net::{Cidr, ProxyHeader, client_ip};
///
/// let proxy: Cidr = "10.0.0.0/8".parse().unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_static("198.51.100.7"));
/// // The client also sent its own `Forwarded`; the proxy writes X-Forwarded-For.
/// headers.insert(HeaderName::from_static("forwarded"), HeaderValue::from_static("for=192.0.2.1"));
/// let peer = Some("10.0.0.2".parse().unwrap());
/// assert_eq!(
///     client_ip(peer, &headers, &[proxy], ProxyHeader::XForwardedFor),
///     Some("198.51.100.7".parse().unwrap())
/// );
/// ```
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Cidr],
    header: ProxyHeader,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.iter().any(|c| c.contains(peer)) {
        return Some(peer);
    }
    let chain = match header {
        ProxyHeader::Forwarded => forwarded_for(headers),
        ProxyHeader::XForwardedFor => x_forwarded_for(headers),
    }
    .unwrap_or_default();
    let mut nearest = peer;
    for hop in chain.iter().rev() {
        let Some(ip) = hop else { return Some(nearest) };
        let ip = canonical(*ip);
        if !trusted.iter().any(|c| c.contains(ip)) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// Whether a trusted proxy says the client reached it over `https`.
///
/// Only the immediate peer's word counts, and only when it is a trusted
/// proxy, in the header it writes: the last value of `X-Forwarded-Proto`,
/// or the last `proto=` of `Forwarded`.
///
/// # Examples
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
/// use secure_api_runtime::net::{Cidr, ProxyHeader, forwarded_https};
///
/// let proxy: Cidr = "10.0.0.0/8".parse().unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static("https"));
/// let xff = ProxyHeader::XForwardedFor;
/// assert!(forwarded_https(Some("10.0.0.2".parse().unwrap()), &headers, &[proxy], xff));
/// // Anyone else may say the same; it is not believed.
/// assert!(!forwarded_https(Some("203.0.113.9".parse().unwrap()), &headers, &[proxy], xff));
/// // Nor is the header the proxy does not write.
/// assert!(!forwarded_https(Some("10.0.0.2".parse().unwrap()), &headers, &[proxy], ProxyHeader::Forwarded));
/// ```
pub fn forwarded_https(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Cidr],
    header: ProxyHeader,
) -> bool {
    let Some(peer) = peer.map(canonical) else {
        return false;
    };
    if !trusted.iter().any(|c| c.contains(peer)) {
        return false;
    }
    let values = |name: &'static str| {
        headers
            .get_all(name)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|text| text.split(','))
    };
    let proto = match header {
        ProxyHeader::Forwarded => values("forwarded")
            .filter_map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("proto"))
                    .map(|(_, proto)| proto.trim().trim_matches('"'))
            })
            .last(),
        ProxyHeader::XForwardedFor => values("x-forwarded-proto").map(str::trim).last(),
    };
    proto.is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// `for=` addresses of RFC 7239 `Forwarded`, in order; `None` inside for a
/// hop that is not an address (`unknown`, an obfuscated name, garbage).
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let text = value.to_str().ok()?;
        for element in text.split(',') {
            let Some(node) = element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .map(|(_, node)| node.trim().trim_matches('"'))
            else {
                continue;
            };
            hops.push(parse_node(node));
        }
    }
    (!hops.is_empty()).then_some(hops)
}

fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        hops.extend(text.split(',').map(|hop| parse_node(hop.trim())));
    }
    (!hops.is_empty()).then_some(hops)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse().ok().or_else(|| {
        node.rsplit_once(':')
            .and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(
                actix_web::http::header::HeaderName::from_static(name),
                value,
            );
        }
        headers
    }

    fn trusted() -> Vec<Cidr> {
        ["10.0.0.0/8", "::1"]
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect()
    }

    const XFF: ProxyHeader = ProxyHeader::XForwardedFor;

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers("x-forwarded-for", "1.2.3.4");
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &h, &trusted(), XFF),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_from_the_right() {
        // The client forged the first entry; the proxy appended the real peer.
        let h = headers("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1");
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &h, &trusted(), XFF),
            Some(ip("198.51.100.7"))
        );
        let f = headers(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8::5]:4711";proto=https"#,
        );
        assert_eq!(
            client_ip(Some(ip("::1")), &f, &trusted(), ProxyHeader::Forwarded),
            Some(ip("2001:db8::5"))
        );
        let garbage = headers("x-forwarded-for", "not-an-ip, 10.1.1.1");
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &garbage, &trusted(), XFF),
            Some(ip("10.1.1.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &HeaderMap::new(), &trusted(), XFF),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn only_the_header_the_proxy_writes_is_read() {
        let mut both = headers("x-forwarded-for", "198.51.100.7");
        both.insert(
            actix_web::http::header::HeaderName::from_static("forwarded"),
            HeaderValue::from_static("for=192.0.2.1;proto=https"),
        );
        both.insert(
            actix_web::http::header::HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
        let proxy = Some(ip("10.0.0.2"));
        assert_eq!(
            client_ip(proxy, &both, &trusted(), XFF),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_ip(proxy, &both, &trusted(), ProxyHeader::Forwarded),
            Some(ip("192.0.2.1"))
        );
        assert!(!forwarded_https(proxy, &both, &trusted(), XFF));
        assert!(forwarded_https(
            proxy,
            &both,
            &trusted(),
            ProxyHeader::Forwarded
        ));
        // With only the other family present, the proxy itself is the client.
        let forwarded_only = headers("forwarded", "for=192.0.2.1");
        assert_eq!(client_ip(proxy, &forwarded_only, &trusted(), XFF), proxy);
        assert_eq!("Forwarded".parse(), Ok(ProxyHeader::Forwarded));
        assert_eq!("X-Forwarded-For".parse(), Ok(XFF));
        assert!("x-real-ip".parse::<ProxyHeader>().is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn cidr_ranges() {
        let range: Result<Cidr, _> = "192.168.0.0/16".parse();
        assert!(
            range.is_ok_and(|r| r.contains(ip("192.168.4.5")) && !r.contains(ip("192.169.0.1")))
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("example.com".parse::<Cidr>().is_err());
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .is_ok_and(|r| r.contains(ip("8.8.8.8")))
        );
    }
}
