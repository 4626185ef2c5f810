//! `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` behind trusted
//! proxies, and the CIDR lists that name them. The first line is the
//! trusted-proxy list (comma separated), the rest header values.

#![no_main]

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secure_api_runtime::net::{Cidr, ProxyHeader, client_ip, forwarded_https};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let trusted: Vec<Cidr> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|range| range.parse().ok())
        .collect();
    let mut headers = HeaderMap::new();
    for (n, line) in lines.enumerate() {
        let name = ["forwarded", "x-forwarded-for", "x-forwarded-proto"][n % 3];
        if let Ok(value) = HeaderValue::from_str(line) {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    for peer in ["10.0.0.2", "::1", "203.0.113.9"] {
        let peer: Option<IpAddr> = peer.parse().ok();
        for header in [ProxyHeader::XForwardedFor, ProxyHeader::Forwarded] {
            let client = client_ip(peer, &headers, &trusted, header);
            assert!(client.is_some());
            let _ = forwarded_https(peer, &headers, &trusted, header);
        }
    }
});
