//! Which addresses an outbound call may reach: every range that leads back
//! into the server's own network, or nowhere public, is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are never a public service, with their names.
const V4_REFUSED: [(u32, u8, &str); 16] = [
    (0x0000_0000, 8, "\"this network\" 0.0.0.0/8"),
    (0x0a00_0000, 8, "private 10.0.0.0/8"),
    (0x6440_0000, 10, "carrier-grade NAT 100.64.0.0/10"),
    (0x7f00_0000, 8, "loopback 127.0.0.0/8"),
    (
        0xa9fe_0000,
        16,
        "link-local 169.254.0.0/16 (cloud metadata)",
    ),
    (0xac10_0000, 12, "private 172.16.0.0/12"),
    (0xc000_0000, 24, "IETF protocol assignments 192.0.0.0/24"),
    (0xc000_0200, 24, "documentation 192.0.2.0/24"),
    (0xc058_6300, 24, "6to4 relay anycast 192.88.99.0/24"),
    (0xc0a8_0000, 16, "private 192.168.0.0/16"),
    (0xc612_0000, 15, "benchmarking 198.18.0.0/15"),
    (0xc633_6400, 24, "documentation 198.51.100.0/24"),
    (0xcb00_7100, 24, "documentation 203.0.113.0/24"),
    (0xe000_0000, 4, "multicast 224.0.0.0/4"),
    (0xffff_ffff, 32, "broadcast 255.255.255.255"),
    (0xf000_0000, 4, "reserved 240.0.0.0/4"),
];

/// IPv6 ranges that are never a public service, with their names.
const V6_REFUSED: [(u128, u8, &str); 15] = [
    (0, 128, "unspecified ::"),
    (1, 128, "loopback ::1"),
    (0, 96, "IPv4-compatible ::/96"),
    (0xffff_0000_0000, 96, "IPv4-mapped ::ffff:0:0/96"),
    (0x0064_ff9b_u128 << 96, 96, "NAT64 64:ff9b::/96"),
    (
        0x0064_ff9b_0001_u128 << 80,
        48,
        "local NAT64 64:ff9b:1::/48",
    ),
    (0x0100_u128 << 112, 64, "discard-only 100::/64"),
    (
        0x2001_u128 << 112,
        23,
        "IETF protocol assignments 2001::/23 (Teredo included)",
    ),
    (0x2001_0db8_u128 << 96, 32, "documentation 2001:db8::/32"),
    (0x2002_u128 << 112, 16, "6to4 2002::/16"),
    (0x3fff_u128 << 112, 20, "documentation 3fff::/20"),
    (0xfc00_u128 << 112, 7, "unique local fc00::/7"),
    (0xfe80_u128 << 112, 10, "link-local fe80::/10"),
    (0xfec0_u128 << 112, 10, "site-local fec0::/10"),
    (0xff00_u128 << 112, 8, "multicast ff00::/8"),
];

/// The name of the refused range that holds `ip`, or `None` for an address
/// an outbound call may reach.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::outbound::refused_range;
///
/// assert!(refused_range("169.254.169.254".parse().unwrap()).is_some());
/// assert!(refused_range("::ffff:127.0.0.1".parse().unwrap()).is_some());
/// assert!(refused_range("64:ff9b::a00:1".parse().unwrap()).is_some());
/// assert_eq!(refused_range("93.184.215.14".parse().unwrap()), None);
/// ```
pub fn refused_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_REFUSED
        .iter()
        .find(|(net, len, _)| prefix_v4(bits, *len) == *net)
        .map(|(_, _, name)| *name)
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    V6_REFUSED
        .iter()
        .find(|(net, len, _)| prefix_v6(bits, *len) == *net)
        .map(|(_, _, name)| *name)
}

fn prefix_v4(bits: u32, len: u8) -> u32 {
    match len {
        0 => 0,
        len => bits & (u32::MAX << (32 - u32::from(len))),
    }
}

fn prefix_v6(bits: u128, len: u8) -> u128 {
    match len {
        0 => 0,
        len => bits & (u128::MAX << (128 - u32::from(len))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_range_is_refused_and_public_addresses_pass() {
        for (ip, range) in [
            ("0.0.0.0", "\"this network\""),
            ("10.1.2.3", "private 10"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.31.255.255", "private 172.16"),
            ("192.0.2.1", "documentation"),
            ("192.168.1.1", "private 192.168"),
            ("198.19.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::7f00:1", "IPv4-compatible"),
            ("::ffff:8.8.8.8", "IPv4-mapped"),
            ("64:ff9b::808:808", "NAT64"),
            ("2002:7f00:1::", "6to4"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "Teredo"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
        ] {
            let ip: IpAddr = ip.parse().expect("an address");
            let found = refused_range(ip);
            assert!(
                found.is_some_and(|name| name.contains(range)),
                "{ip}: {found:?}"
            );
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "2606:4700:4700::1111",
            "2a00:1450::1",
        ] {
            let ip: IpAddr = ip.parse().expect("an address");
            assert_eq!(refused_range(ip), None, "{ip}");
        }
    }
}
