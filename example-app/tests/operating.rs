//! The binary as an operator runs it: JSON logs with one audit event per
//! request, request ids both ways, Prometheus metrics on their own
//! listener, and no token or password anywhere in the log.

mod common;

use std::collections::HashMap;

use common::{command, free_port, get, header, json_body, logged, scratch, send, start_logged};
use serde_json::Value;

const PASSWORD: &str = "lantern moss under the quiet bridge";

fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    send(port, "POST", path, headers, Some(body))
}

#[test]
fn json_logs_audit_every_request_once_and_metrics_count_refusals_on_their_own_port() {
    let dir = scratch("operating");
    let log = dir.join("app.log");
    let (port, metrics_port) = (free_port(), free_port());
    let mut serve = command(&dir);
    serve
        .env(
            "SECURE_API_JWT_SECRET",
            "operating test secret, thirty-two bytes",
        )
        .env("SECURE_API_LOG_FORMAT", "json")
        .env(
            "SECURE_API_METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        );
    let server = start_logged(serve, port, &log);

    let registered = post(
        port,
        "/api/auth/register",
        &[],
        &format!(r#"{{"username":"operator","password":"{PASSWORD}","display_name":"Op"}}"#),
    );
    assert!(registered.starts_with("HTTP/1.1 201"), "{registered}");
    let id = json_body(&registered)["id"].to_string();
    let login = post(
        port,
        "/api/auth/login",
        &[],
        &format!(r#"{{"username":"operator","password":"{PASSWORD}"}}"#),
    );
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let pair = json_body(&login);
    let (access, refresh) = (
        pair["access_token"].as_str().unwrap_or_default().to_owned(),
        pair["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let bearer = format!("Bearer {access}");

    // A client's request id comes back on the answer, allowed or refused,
    // and in the problem body.
    let own = send(
        port,
        "GET",
        &format!("/api/users/{id}"),
        &[
            ("Authorization", &bearer),
            ("X-Request-Id", "ops-allowed-1"),
        ],
        None,
    );
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    assert_eq!(header(&own, "x-request-id"), Some("ops-allowed-1"));
    let other = send(
        port,
        "GET",
        "/api/users/999",
        &[
            ("Authorization", &bearer),
            ("X-Request-Id", "ops-refused-1"),
        ],
        None,
    );
    assert!(other.starts_with("HTTP/1.1 403"), "{other}");
    assert_eq!(header(&other, "x-request-id"), Some("ops-refused-1"));
    assert_eq!(json_body(&other)["request_id"], "ops-refused-1");
    // One that is not visible ASCII of at most 128 characters is replaced.
    let long = "x".repeat(129);
    for unfit in ["two words", long.as_str()] {
        let answer = send(port, "GET", "/health", &[("X-Request-Id", unfit)], None);
        let id = header(&answer, "x-request-id").unwrap_or_default();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{unfit:?} -> {id:?}"
        );
    }

    // A request actix's HTTP/1 parser cannot read (here, a control
    // character in a header) never reaches the app: actix answers it with
    // an empty 400, without a request id, and logs it on its own target.
    let unreadable = send(port, "GET", "/health", &[("X-Request-Id", "\u{1}")], None);
    assert!(unreadable.starts_with("HTTP/1.1 400"), "{unreadable}");
    assert_eq!(header(&unreadable, "content-length"), Some("0"));
    assert_eq!(header(&unreadable, "x-request-id"), None);

    // Tokens in use: refreshed, then logged out.
    let refreshed = post(
        port,
        "/api/auth/refresh",
        &[],
        &format!(r#"{{"refresh_token":"{refresh}"}}"#),
    );
    assert!(refreshed.starts_with("HTTP/1.1 200"), "{refreshed}");
    let pair = json_body(&refreshed);
    let (access2, refresh2) = (
        pair["access_token"].as_str().unwrap_or_default().to_owned(),
        pair["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let logout = post(
        port,
        "/api/auth/logout",
        &[("Authorization", &format!("Bearer {access2}"))],
        &format!(r#"{{"refresh_token":"{refresh2}"}}"#),
    );
    assert!(logout.starts_with("HTTP/1.1 204"), "{logout}");

    // Metrics: never on the API's port; on their own, the refusal counted
    // under its rule.
    let on_api = get(port, "/metrics", None);
    assert!(on_api.starts_with("HTTP/1.1 404"), "{on_api}");
    let metrics = get(metrics_port, "/metrics", None);
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for line in [
        r#"secure_api_refusals_total{route="/api/users/{user_id}",rule="owner"} 1"#,
        r#"secure_api_requests_total{route="/api/users/{user_id}",method="GET",status="200"} 1"#,
        r#"secure_api_requests_total{route="/api/users/{user_id}",method="GET",status="403"} 1"#,
        r#"secure_api_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"secure_api_request_duration_seconds_count{route="/api/auth/login"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    assert!(
        metrics.contains("secure_api_password_hashes_admitted"),
        "{metrics}"
    );

    // Lines are written in batches: a last request marks the end, and its
    // line is awaited before the server is stopped.
    let last = send(
        port,
        "GET",
        "/health",
        &[("X-Request-Id", "ops-last")],
        None,
    );
    assert!(last.starts_with("HTTP/1.1 200"), "{last}");
    let text = logged(&log, "\"request_id\":\"ops-last\"");
    drop(server);
    for secret in [PASSWORD, &access, &refresh, &access2, &refresh2] {
        assert!(
            !secret.is_empty() && !text.contains(secret),
            "a secret is in the log"
        );
    }
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["target"] == "actix_http::h1::dispatcher" && e["level"] == "ERROR"),
        "the unreadable request is not logged:\n{text}"
    );
    let audit: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "secure_api::audit")
        .collect();
    let mut per_request: HashMap<&str, Vec<&Value>> = HashMap::new();
    for event in &audit {
        let id = event["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("an audit event without its request id: {event}"));
        per_request.entry(id).or_default().push(event);
    }
    assert!(
        per_request.values().all(|events| events.len() == 1),
        "{per_request:#?}"
    );
    let allowed = per_request["ops-allowed-1"][0];
    let refused = per_request["ops-refused-1"][0];
    for (event, outcome, status, level) in [
        (allowed, "allowed", 200, "INFO"),
        (refused, "refused", 403, "WARN"),
    ] {
        assert_eq!(event["method"], "GET");
        assert_eq!(event["route"], "/api/users/{user_id}");
        assert_eq!(event["principal"].to_string(), format!("\"{id}\""));
        assert_eq!(event["client"], "127.0.0.1");
        assert_eq!(event["rule"], "owner");
        assert_eq!(event["outcome"], outcome);
        assert_eq!(event["status"], status);
        assert_eq!(event["level"], level);
        assert!(event["duration_ms"].as_f64().is_some(), "{event}");
    }
    // Every request above has its event: 3 auth calls, 2 user reads, 2
    // health checks with unfit ids, 1 logout, the /metrics 404, and the
    // start-up's /health polls.
    assert!(per_request.len() >= 9, "{}", per_request.len());
    let _ = std::fs::remove_dir_all(dir);
}
