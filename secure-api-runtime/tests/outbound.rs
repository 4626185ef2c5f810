//! `SafeClient` against real servers on loopback: redirects into the
//! server's network, DNS rebinding, slow and oversized upstreams, strict
//! JSON, retries and the circuit breaker; and every encoding of an internal
//! address refused.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use garde::Validate;
use proptest::prelude::*;
use secure_api_runtime::Input;
use secure_api_runtime::outbound::{Lookup, OutboundError, SafeClient};
use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// What a test upstream answers: a status line and headers, a body, and a
/// pause before answering.
#[derive(Clone)]
struct Reply {
    head: String,
    body: Vec<u8>,
    delay: Duration,
}

fn json(status: &str, body: &str) -> Reply {
    Reply {
        head: format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ),
        body: body.as_bytes().to_vec(),
        delay: Duration::ZERO,
    }
}

/// A server on `ip`, answering the n-th request with `replies[n]` (the last
/// one repeated); counts the connections it accepted.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

async fn upstream(ip: &str, replies: Vec<Reply>) -> Upstream {
    let listener = TcpListener::bind((ip, 0))
        .await
        .unwrap_or_else(|e| panic!("bind {ip}: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let reply = replies[n.min(replies.len() - 1)].clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match socket.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                tokio::time::sleep(reply.delay).await;
                let _ = socket
                    .write_all(format!("{}connection: close\r\n\r\n", reply.head).as_bytes())
                    .await;
                let _ = socket.write_all(&reply.body).await;
            });
        }
    });
    Upstream { addr, hits }
}

/// A resolver with fixed answers per name; each name's answers are used in
/// turn (the last one repeated).
#[derive(Clone, Default)]
struct FixedLookup {
    answers: Arc<Mutex<HashMap<String, Vec<Vec<IpAddr>>>>>,
}

impl FixedLookup {
    fn answer(self, host: &str, answers: &[&[&str]]) -> Self {
        let parsed = answers
            .iter()
            .map(|ips| {
                ips.iter()
                    .map(|ip| ip.parse().unwrap_or_else(|e| panic!("{e}")))
                    .collect()
            })
            .collect();
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_owned(), parsed);
        self
    }
}

impl Lookup for FixedLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let found = match answers.get_mut(host) {
            Some(list) if list.len() > 1 => Ok(list.remove(0)),
            Some(list) => Ok(list[0].clone()),
            None => Err(std::io::Error::other("no such host")),
        };
        Box::pin(async move { found })
    }
}

fn loopback2() -> secure_api_runtime::net::Cidr {
    "127.0.0.2/32".parse().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_allowed_host_that_redirects_into_loopback_is_refused() {
    let internal = upstream("127.0.0.1", vec![json("200 OK", "{\"secret\": true}")]).await;
    let location = format!("http://127.0.0.1:{}/admin", internal.addr.port());
    let redirecting = upstream(
        "127.0.0.2",
        vec![Reply {
            head: format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n"),
            body: Vec::new(),
            delay: Duration::ZERO,
        }],
    )
    .await;
    let lookup = FixedLookup::default().answer("upstream.test", &[&["127.0.0.2"]]);
    let url = format!("http://upstream.test:{}/", redirecting.addr.port());
    for hops in [0, 3] {
        let client = SafeClient::builder()
            .allow_http()
            .allow_hosts(["upstream.test", "127.0.0.1"])
            .allow_port(redirecting.addr.port())
            .allow_port(internal.addr.port())
            .allow_addresses([loopback2()])
            .follow_redirects(hops)
            .lookup(lookup.clone())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = client.get(&url).await.expect_err("refused");
        if hops == 0 {
            assert!(matches!(refused, OutboundError::Redirect(_)), "{refused}");
        } else {
            assert!(refused.to_string().contains("loopback"), "{refused}");
            assert!(refused.is_refused_url());
        }
    }
    assert_eq!(internal.hits.load(Ordering::SeqCst), 0, "never reached");
}

#[tokio::test]
async fn a_resolver_that_turns_to_loopback_cannot_reach_it() {
    let internal = upstream("127.0.0.1", vec![json("200 OK", "{}")]).await;
    let port = internal.addr.port();
    // First a public address (unreachable here), then loopback: the retry
    // resolves again, and that answer is checked too.
    let lookup = FixedLookup::default()
        .answer("rebind.test", &[&["93.184.215.14"], &["127.0.0.1"]])
        .answer("mixed.test", &[&["93.184.215.14", "127.0.0.1"]]);
    let client = SafeClient::builder()
        .allow_http()
        .allow_hosts(["rebind.test", "mixed.test"])
        .allow_port(port)
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(2))
        .retries(2)
        .lookup(lookup)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let rebind = client.get(&format!("http://rebind.test:{port}/")).await;
    assert!(rebind.is_err(), "{rebind:?}");
    let mixed = client.get(&format!("http://mixed.test:{port}/")).await;
    assert!(
        matches!(&mixed, Err(OutboundError::AddressRefused { range, .. }) if range.contains("loopback")),
        "{mixed:?}"
    );
    assert_eq!(internal.hits.load(Ordering::SeqCst), 0, "never reached");
}

fn client_for(upstream: &Upstream) -> SafeClient {
    SafeClient::builder()
        .allow_http()
        .allow_hosts(["127.0.0.2"])
        .allow_port(upstream.addr.port())
        .allow_addresses([loopback2()])
        .timeout(Duration::from_millis(500))
        .max_response_bytes(64 * 1024)
        .retries(0)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn slow_large_and_wrongly_typed_answers_are_refused() {
    let mut slow = json("200 OK", "{}");
    slow.delay = Duration::from_secs(3);
    let slow = upstream("127.0.0.2", vec![slow]).await;
    let url = format!("http://127.0.0.2:{}/", slow.addr.port());
    assert_eq!(
        client_for(&slow).get(&url).await.expect_err("slow"),
        OutboundError::Timeout
    );

    let big = "x".repeat(2 * 1024 * 1024);
    let declared = upstream("127.0.0.2", vec![json("200 OK", &big)]).await;
    let url = format!("http://127.0.0.2:{}/", declared.addr.port());
    assert_eq!(
        client_for(&declared).get(&url).await.expect_err("large"),
        OutboundError::TooLarge(64 * 1024)
    );
    // No length announced: the cap holds while reading.
    let streamed = upstream(
        "127.0.0.2",
        vec![Reply {
            head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n".to_owned(),
            body: big.into_bytes(),
            delay: Duration::ZERO,
        }],
    )
    .await;
    let url = format!("http://127.0.0.2:{}/", streamed.addr.port());
    assert_eq!(
        client_for(&streamed).get(&url).await.expect_err("large"),
        OutboundError::TooLarge(64 * 1024)
    );

    let html = upstream(
        "127.0.0.2",
        vec![Reply {
            head: "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n".to_owned(),
            body: b"<p".to_vec(),
            delay: Duration::ZERO,
        }],
    )
    .await;
    let url = format!("http://127.0.0.2:{}/", html.addr.port());
    assert_eq!(
        client_for(&html).get(&url).await.expect_err("html"),
        OutboundError::ContentType("text/html".to_owned())
    );
}

#[derive(Debug, Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
struct Metadata {
    #[garde(length(min = 1, max = 200))]
    title: String,
}

#[tokio::test]
async fn json_answers_are_strict_and_validated() {
    let server = upstream(
        "127.0.0.2",
        vec![
            json("200 OK", r#"{"title": "Hello"}"#),
            json("200 OK", r#"{"title": "Hello", "admin": true}"#),
            json("200 OK", r#"{"title": ""}"#),
        ],
    )
    .await;
    let client = client_for(&server);
    let url = format!("http://127.0.0.2:{}/", server.addr.port());
    let good: Metadata = client
        .get_json(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.title, "Hello");
    let unknown = client
        .get_json::<Metadata>(&url)
        .await
        .expect_err("unknown field");
    assert!(
        matches!(&unknown, OutboundError::Decode(m) if m.contains("admin")),
        "{unknown}"
    );
    let invalid = client
        .get_json::<Metadata>(&url)
        .await
        .expect_err("invalid");
    assert!(
        matches!(&invalid, OutboundError::Invalid(m) if m.contains("title")),
        "{invalid}"
    );
}

#[tokio::test]
async fn failures_are_retried_and_a_failing_host_is_paused() {
    let flaky = upstream(
        "127.0.0.2",
        vec![
            json("503 Service Unavailable", "{}"),
            json("502 Bad Gateway", "{}"),
            json("200 OK", "{}"),
        ],
    )
    .await;
    let client = SafeClient::builder()
        .allow_http()
        .allow_hosts(["127.0.0.2"])
        .allow_port(flaky.addr.port())
        .allow_addresses([loopback2()])
        .retries(2)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.2:{}/", flaky.addr.port());
    assert!(client.get(&url).await.is_ok());
    assert_eq!(flaky.hits.load(Ordering::SeqCst), 3);

    let broken = upstream("127.0.0.2", vec![json("500 Internal Server Error", "{}")]).await;
    let client = SafeClient::builder()
        .allow_http()
        .allow_hosts(["127.0.0.2"])
        .allow_port(broken.addr.port())
        .allow_addresses([loopback2()])
        .circuit_breaker(2, Duration::from_secs(60))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.2:{}/", broken.addr.port());
    for _ in 0..2 {
        assert_eq!(
            client.get(&url).await.expect_err("500"),
            OutboundError::UpstreamStatus(500)
        );
    }
    let hits = broken.hits.load(Ordering::SeqCst);
    assert_eq!(
        client.get(&url).await.expect_err("open"),
        OutboundError::CircuitOpen("127.0.0.2".to_owned())
    );
    assert_eq!(
        broken.hits.load(Ordering::SeqCst),
        hits,
        "a paused host is not called"
    );
}

#[test]
fn url_rules_name_what_they_refuse() {
    let client = SafeClient::builder()
        .allow_hosts(["API.Example.com.", "bücher.example"])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(client.check_url("https://api.example.com/v1").is_ok());
    assert!(client.check_url("https://API.EXAMPLE.COM./v1").is_ok());
    assert!(client.check_url("https://xn--bcher-kva.example/").is_ok());
    for (url, expected) in [
        (
            "http://api.example.com/",
            OutboundError::Scheme("http".to_owned()),
        ),
        (
            "file:///etc/passwd",
            OutboundError::Scheme("file".to_owned()),
        ),
        (
            "gopher://api.example.com/",
            OutboundError::Scheme("gopher".to_owned()),
        ),
        ("https://user:pw@api.example.com/", OutboundError::UserInfo),
        (
            "https://api.example.com@evil.test/",
            OutboundError::UserInfo,
        ),
        (
            "https://api.example.com\\@evil.test/",
            OutboundError::Backslash,
        ),
        ("https://api.example.com:8443/", OutboundError::Port(8443)),
        (
            "https://evil.test/",
            OutboundError::HostNotAllowed("evil.test".to_owned()),
        ),
        (
            "https://api.example.com.evil.test/",
            OutboundError::HostNotAllowed("api.example.com.evil.test".to_owned()),
        ),
    ] {
        assert_eq!(client.check_url(url).expect_err(url), expected, "{url}");
    }
    assert!(matches!(
        client.check_url("not a url"),
        Err(OutboundError::Malformed(_))
    ));
    // One trailing dot is the root; two, or an empty label, is no host name.
    for url in [
        "https://api.example.com../",
        "https://api.example.com.../v1",
        "https://api..example.com/",
        "https://.api.example.com/",
    ] {
        assert!(
            matches!(client.check_url(url), Err(OutboundError::Malformed(_))),
            "{url}: {:?}",
            client.check_url(url)
        );
    }
}

/// Internal IPv4 ranges to draw from.
const INTERNAL_V4: [(u32, u8); 8] = [
    (0x7f00_0000, 8),
    (0x0a00_0000, 8),
    (0xac10_0000, 12),
    (0xc0a8_0000, 16),
    (0xa9fe_0000, 16),
    (0x6440_0000, 10),
    (0x0000_0000, 8),
    (0xe000_0000, 4),
];

fn internal_v4() -> impl Strategy<Value = u32> {
    (0..INTERNAL_V4.len(), any::<u32>()).prop_map(|(i, host)| {
        let (net, len) = INTERNAL_V4[i];
        net | (host & (u32::MAX >> len))
    })
}

/// The many ways a URL parser accepts one IPv4 address.
fn v4_forms(ip: u32) -> Vec<String> {
    let [a, b, c, d] = ip.to_be_bytes();
    let low16 = ip & 0xffff;
    let low24 = ip & 0xff_ffff;
    vec![
        format!("{a}.{b}.{c}.{d}"),
        format!("{ip}"),
        format!("0x{ip:x}"),
        format!("0x{ip:X}"),
        format!("0{ip:o}"),
        format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
        format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
        format!("{a}.{b}.{low16}"),
        format!("{a}.{low24}"),
        format!("0x{a:x}.{b}.0{c:o}.{d}"),
        format!("{a}.{b}.{c}.{d}."),
        format!("[::ffff:{a}.{b}.{c}.{d}]"),
        format!("[::ffff:{:x}:{:x}]", ip >> 16, ip & 0xffff),
        format!("[0:0:0:0:0:FFFF:{:X}:{:X}]", ip >> 16, ip & 0xffff),
        format!("[::{a}.{b}.{c}.{d}]"),
        format!("[64:ff9b::{a}.{b}.{c}.{d}]"),
        format!("[2002:{:x}:{:x}::1]", ip >> 16, ip & 0xffff),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_encoding_of_an_internal_ipv4_address_is_refused(ip in internal_v4()) {
        let client = SafeClient::builder()
            .allow_hosts(v4_forms(ip))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        for form in v4_forms(ip) {
            let url = format!("https://{form}/latest/meta-data/");
            let refused = client.check_url(&url);
            prop_assert!(
                matches!(refused, Err(OutboundError::AddressRefused { .. })),
                "{} -> {:?}", url, refused
            );
        }
    }

    #[test]
    fn internal_ipv6_addresses_are_refused(
        (net, len) in prop::sample::select(vec![
            (0xfc00_u128 << 112, 7u8),
            (0xfe80_u128 << 112, 10),
            (0xff00_u128 << 112, 8),
            (0x2001_0db8_u128 << 96, 32),
            (1, 128),
        ]),
        host in any::<u128>(),
    ) {
        let ip = std::net::Ipv6Addr::from(net | (host & u128::MAX.checked_shr(u32::from(len)).unwrap_or(0)));
        let client = SafeClient::builder().allow_hosts([ip.to_string()]).build().unwrap_or_else(|e| panic!("{e}"));
        let refused = client.check_url(&format!("https://[{ip}]/"));
        prop_assert!(matches!(refused, Err(OutboundError::AddressRefused { .. })), "{} -> {:?}", ip, refused);
    }
}
