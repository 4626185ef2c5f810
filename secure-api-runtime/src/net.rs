//! Network addresses: `Cidr` ranges (trusted proxies, outbound allowlists),
//! and the client address and protocol a trusted proxy reports in
//! `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto`.

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
/// nearest address in the forwarding chain that is not a trusted proxy
/// (walking from the peer outwards, so a client cannot forge its place).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.iter().any(|c| c.contains(peer)) {
        return Some(peer);
    }
    let chain = forwarded_for(headers)
        .or_else(|| x_forwarded_for(headers))
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
/// proxy: the last `proto=` of `Forwarded`, else the last value of
/// `X-Forwarded-Proto`.
///
/// # Examples
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
/// use secure_api_runtime::net::{Cidr, forwarded_https};
///
/// let proxy: Cidr = "10.0.0.0/8".parse().unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static("https"));
/// assert!(forwarded_https(Some("10.0.0.2".parse().unwrap()), &headers, &[proxy]));
/// // Anyone else may say the same; it is not believed.
/// assert!(!forwarded_https(Some("203.0.113.9".parse().unwrap()), &headers, &[proxy]));
/// ```
pub fn forwarded_https(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> bool {
    let Some(peer) = peer.map(canonical) else {
        return false;
    };
    if !trusted.iter().any(|c| c.contains(peer)) {
        return false;
    }
    let forwarded = headers
        .get_all("forwarded")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(','))
        .filter_map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("proto"))
                .map(|(_, proto)| proto.trim().trim_matches('"').to_owned())
        })
        .last();
    let proto = forwarded.or_else(|| {
        headers
            .get_all("x-forwarded-proto")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|text| text.split(','))
            .map(|proto| proto.trim().to_owned())
            .last()
    });
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

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers("x-forwarded-for", "1.2.3.4");
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &h, &trusted()),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_from_the_right() {
        // The client forged the first entry; the proxy appended the real peer.
        let h = headers("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1");
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &h, &trusted()),
            Some(ip("198.51.100.7"))
        );
        let f = headers(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8::5]:4711";proto=https"#,
        );
        assert_eq!(
            client_ip(Some(ip("::1")), &f, &trusted()),
            Some(ip("2001:db8::5"))
        );
        let garbage = headers("x-forwarded-for", "not-an-ip, 10.1.1.1");
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &garbage, &trusted()),
            Some(ip("10.1.1.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &HeaderMap::new(), &trusted()),
            Some(ip("10.0.0.2"))
        );
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
