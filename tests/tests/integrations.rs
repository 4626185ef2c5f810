//! Calls out and calls in over HTTP (OWASP API7, API10): `/api/fetch-metadata`
//! refuses URLs into the server's network and answers 502 for a failing
//! upstream; `/api/webhooks/payment` accepts only signed, fresh, first
//! deliveries and parses nothing before the signature holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use secure_api_runtime::auth::sessions::now_secs;
use secure_api_runtime::outbound::SafeClient;
use secure_api_runtime::webhook::WebhookKeys;
use secure_api_tests::{TEST_WEBHOOK_SECRET, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A server on 127.0.0.2 answering the n-th request with `replies[n]`
/// (status line, JSON body; the last one repeated).
async fn upstream(replies: Vec<(&'static str, &'static str)>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(("127.0.0.2", 0))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (status, body) = replies[n.min(replies.len() - 1)];
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match socket.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, hits)
}

#[tokio::test]
async fn fetch_metadata_refuses_internal_urls_and_reports_upstream_failures() {
    let (port, hits) = upstream(vec![
        (
            "200 OK",
            r#"{"title": "A page", "description": "About it"}"#,
        ),
        ("500 Internal Server Error", "{}"),
        ("200 OK", r#"{"title": "A page", "is_admin": true}"#),
    ])
    .await;
    let client = SafeClient::builder()
        .allow_http()
        .allow_hosts(["127.0.0.2", "evil.test"])
        .allow_port(port)
        .allow_addresses(["127.0.0.2/32".parse().unwrap_or_else(|e| panic!("{e}"))])
        .timeout(Duration::from_secs(2))
        .retries(0)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start_with_fetch(client).await;
    let http = Client::new();
    let token = app.token("1", &["user"]);
    let fetch = |url: String| {
        let app = &app;
        let http = &http;
        let token = token.clone();
        async move {
            app.send(
                http,
                Method::POST,
                "/api/fetch-metadata",
                Some(&token),
                Some(json!({ "url": url })),
            )
            .await
        }
    };
    let upstream_url = format!("http://127.0.0.2:{port}/meta");
    let (status, body) = fetch(upstream_url.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"url": upstream_url, "title": "A page", "description": "About it"})
    );
    let (status, _) = fetch(upstream_url.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "an upstream 500");
    let (status, body) = fetch(upstream_url.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "an unknown field: {body}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    for (url, rule) in [
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "link-local",
        ),
        (format!("http://127.0.0.1:{port}/"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/"), "IPv4-mapped"),
        (format!("http://2130706433:{port}/"), "loopback"),
        ("https://intranet.corp/".to_owned(), "not on the allowlist"),
        ("file:///etc/passwd".to_owned(), "scheme"),
        (
            format!("http://user:pw@127.0.0.2:{port}/"),
            "user name or password",
        ),
        ("http://127.0.0.2:1/".to_owned(), "port 1"),
    ] {
        let (status, body) = fetch(url.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(rule), "{url}: {detail}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3, "no refused URL was called");
    let (status, _) = app
        .send(
            &http,
            Method::POST,
            "/api/fetch-metadata",
            None,
            Some(json!({"url": upstream_url})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// Sends a payment delivery with `headers`, returning the status.
async fn deliver(app: &TestApp, headers: &[(&str, String)], body: &str) -> StatusCode {
    let mut request = Client::new()
        .post(app.url("/api/webhooks/payment"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = response.status();
    if !status.is_success() {
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }
    status
}

fn signed(keys: &WebhookKeys, id: &str, timestamp: u64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            keys.sign(id, timestamp, body.as_bytes()),
        ),
    ]
}

#[tokio::test]
async fn payment_webhooks_need_a_fresh_valid_signature_and_are_accepted_once() {
    let app = TestApp::start().await;
    let keys = WebhookKeys::standard(TEST_WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let other = WebhookKeys::standard("whsec_YW5vdGhlciBzZW5kZXIncyBzZWNyZXQ=")
        .unwrap_or_else(|e| panic!("{e}"));
    let body = r#"{"type": "payment.succeeded", "order_id": 999, "amount": 1250}"#;
    let now = now_secs();

    // A verified delivery for an unknown order: recorded, 202.
    assert_eq!(
        deliver(&app, &signed(&keys, "msg_1", now, body), body).await,
        StatusCode::ACCEPTED
    );
    // The same delivery again, as is or re-sent later with a new timestamp
    // (the sender never saw the answer): acknowledged, not processed again.
    for timestamp in [now, now + 1] {
        assert_eq!(
            deliver(&app, &signed(&keys, "msg_1", timestamp, body), body).await,
            StatusCode::ACCEPTED
        );
    }
    // Stale, from the future, signed by someone else, or for another body.
    for headers in [
        signed(&keys, "msg_2", now - 330, body),
        signed(&keys, "msg_3", now + 330, body),
        signed(&other, "msg_4", now, body),
        signed(
            &keys,
            "msg_5",
            now,
            r#"{"type": "payment.succeeded", "order_id": 999, "amount": 1}"#,
        ),
    ] {
        assert_eq!(
            deliver(&app, &headers, body).await,
            StatusCode::UNAUTHORIZED,
            "{headers:?}"
        );
    }
    // Every malformed header form is a 401, never a 500.
    let good = keys.sign("msg_6", now, body.as_bytes());
    let ts = now.to_string();
    let forms: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-timestamp", ts.clone()),
        ],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-signature", good.clone()),
        ],
        vec![
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", good.clone()),
        ],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-timestamp", "yesterday".into()),
            ("webhook-signature", good.clone()),
        ],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", "v1,".into()),
        ],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", "v1,%%%".into()),
        ],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", good.replace("v1,", "v2,")),
        ],
        vec![
            ("webhook-id", "msg_6".into()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", "x".repeat(4000)),
        ],
        vec![
            ("webhook-id", "".into()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", good.clone()),
        ],
        vec![("x-signature", "00".repeat(32))],
        vec![(
            "authorization",
            format!("Bearer {}", app.token("1", &["admin"])),
        )],
    ];
    for headers in forms {
        assert_eq!(
            deliver(&app, &headers, body).await,
            StatusCode::UNAUTHORIZED,
            "{headers:?}"
        );
    }
    assert_eq!(
        app.store.payment_events().await.unwrap_or_default(),
        vec![(
            "msg_1".to_owned(),
            "payment.succeeded".to_owned(),
            999,
            1250
        )],
        "only the one verified delivery is recorded"
    );
    // The table refuses a second row for an id, whatever reaches it.
    app.store
        .record_payment_event("msg_1", "payment.succeeded", 999, 1250)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app.store.payment_events().await.unwrap_or_default().len(),
        1
    );

    // A signed body is still parsed strictly, after the signature holds.
    let unknown = r#"{"type": "payment.succeeded", "order_id": 1, "amount": 5, "refund": true}"#;
    assert_eq!(
        deliver(&app, &signed(&keys, "msg_7", now, unknown), unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A delivery that was not processed did not spend its id: the sender's
    // retry gets the same answer, not a replay refusal.
    assert_eq!(
        deliver(&app, &signed(&keys, "msg_7", now + 2, unknown), unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let bad_type = r#"{"type": "payment.stolen", "order_id": 1, "amount": 5}"#;
    assert!(
        deliver(&app, &signed(&keys, "msg_8", now, bad_type), bad_type)
            .await
            .is_client_error()
    );
    // Bodies over the route's cap are refused before any hashing.
    let huge = format!(
        r#"{{"type": "payment.failed", "order_id": 1, "amount": 5, "pad": "{}"}}"#,
        "x".repeat(20 * 1024)
    );
    assert_eq!(
        deliver(&app, &signed(&keys, "msg_9", now, &huge), &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        app.store
            .payment_events()
            .await
            .map(|e| e.len())
            .unwrap_or_default(),
        1
    );
    app.stop().await;
}
