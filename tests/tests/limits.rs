//! Resource limits of the example app over HTTP (OWASP API4).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use secure_api_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_gets_exactly_five_answers_then_429_with_headers() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..8 {
        let response = client
            .get(app.url("/api/search?q=a"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            refused = Some(response);
        }
    }
    // `5/second` is a burst of five; sequential requests on loopback take
    // far less than the 200 ms that frees the next slot.
    assert_eq!(
        &statuses[..6],
        [200, 200, 200, 200, 200, 429],
        "{statuses:?}"
    );
    let Some(refused) = refused else {
        panic!("no 429 in {statuses:?}")
    };
    let header = |name: &str| {
        refused
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/problem+json");
    assert!(
        header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1),
        "{}",
        header("retry-after")
    );
    let policy = header("ratelimit-policy");
    assert!(
        policy.contains("q=30;w=60") && policy.contains("q=5;w=1"),
        "{policy}"
    );
    assert!(
        header("ratelimit").contains(";r=0;t="),
        "{}",
        header("ratelimit")
    );
    // Another user is not affected.
    let other = client
        .get(app.url("/api/search"))
        .bearer_auth(app.token("2", &["user"]))
        .send()
        .await;
    assert_eq!(other.map(|r| r.status()).ok(), Some(StatusCode::OK));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_clamps_its_limit_and_cuts_its_text() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let get = |query: String| {
        let request = client
            .get(app.url(&format!("/api/search?{query}")))
            .bearer_auth(&token);
        async move {
            let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
            (
                response.status(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = get("limit=1000".to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["limit"], json!(50));
    assert_eq!(
        body["items"],
        json!([{"id": 1, "username": "admin", "display_name": "Administrator"}])
    );
    let (status, body) = get("limit=0".to_owned()).await;
    assert_eq!((status, body["limit"].clone()), (StatusCode::OK, json!(1)));
    // 300 characters are cut to 128: "adm" followed by 297 "x" finds nothing,
    // but it is answered, not refused.
    let (status, body) = get(format!("q=adm{}", "x".repeat(297))).await;
    assert_eq!((status, body["items"].clone()), (StatusCode::OK, json!([])));
    // `%` is text, not a wildcard.
    let (status, body) = get("q=%25".to_owned()).await;
    assert_eq!((status, body["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _) = get("limit=-1".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// Speaks raw HTTP/1.1 to the app: writes `parts` in order (stopping when
/// the server stops taking them), then reads its answer, once or until it
/// closes the connection. The answer, whether the read ended cleanly, and
/// how long the read waited; reads give up after 10 s.
async fn raw_exchange(
    app: &TestApp,
    parts: Vec<String>,
    until_closed: bool,
) -> (String, bool, Duration) {
    let address = app.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).unwrap_or_else(|e| panic!("{e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("{e}"));
        for part in parts {
            if stream.write_all(part.as_bytes()).is_err() {
                break;
            }
        }
        let started = Instant::now();
        let mut answer = Vec::new();
        let ended = if until_closed {
            stream.read_to_end(&mut answer).is_ok()
        } else {
            let mut buffer = [0u8; 4096];
            let read = stream.read(&mut buffer).unwrap_or(0);
            answer.extend_from_slice(&buffer[..read]);
            read > 0
        };
        (
            String::from_utf8_lossy(&answer).into_owned(),
            ended,
            started.elapsed(),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_body_against_a_small_cap_is_refused_without_being_read() {
    let app = TestApp::start().await;
    let token = app.token("1", &["user"]);
    // Declare 10 MB, send only the head and 1 KiB of it.
    let head = format!(
        "PATCH /api/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
    );
    let (response, _, waited) = raw_exchange(&app, vec![head, " ".repeat(1024)], false).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{response}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "answered without waiting for the body: {waited:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_query_strings_and_headers_are_refused_as_problems() {
    let app = TestApp::start().await;
    let client = Client::new();
    let token = app.token("1", &["user"]);
    let long_query = client
        .get(app.url(&format!("/api/search?q={}", "a".repeat(5000))))
        .bearer_auth(&token)
        .send()
        .await;
    let long_query = long_query.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(long_query.status(), StatusCode::URI_TOO_LONG);
    assert_eq!(
        long_query
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let mut request = client.get(app.url("/api/search")).bearer_auth(&token);
    for i in 0..4 {
        request = request.header(format!("x-padding-{i}"), "p".repeat(5000));
    }
    let big_headers = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        big_headers.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    let app = TestApp::start().await;
    // The server answers 408 and closes, or just closes: either way the read
    // ends well before our own 10 s timeout.
    let head = "GET /health HTTP/1.1\r\nHost: x\r\n".to_owned();
    let (_, closed, waited) = raw_exchange(&app, vec![head], true).await;
    assert!(closed, "the connection was left open");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_is_cut_off_once_it_passes_the_cap() {
    let app = TestApp::start().await;
    let token = app.token("1", &["user"]);
    // No length declared: 8 KiB in 1 KiB chunks against the route's 4 KiB
    // cap, and the body is never finished.
    let head = format!(
        "PATCH /api/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut parts = vec![head];
    parts.extend((0..8).map(|_| format!("400\r\n{}\r\n", " ".repeat(1024))));
    let (response, _, _) = raw_exchange(&app, parts, false).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    app.stop().await;
}
