//! Operating a `SecureApp` over HTTP: one audit event per request with the
//! fields a security team reads, request ids both ways, a span per step
//! with its decision, and Prometheus metrics on a listener of their own.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::observe::{Metrics, RequestId};
use secure_api_runtime::prelude::*;
use serde_json::Value;

mod support;

#[get("/api/notes/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
async fn notes(id: RequestId) -> String {
    tracing::info!(target: "notes", "listing notes");
    format!("notes for request {id}")
}

#[post("/api/notes")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(editor)]
async fn add_note(note: web::Json<Note>) -> String {
    note.into_inner().text
}

/// Called by the metrics test only: metrics are counted for the whole
/// process, which the other tests share.
#[delete("/api/notes/{note_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(editor)]
#[owner(none, reason = "editors moderate every note")]
async fn delete_note(_note_id: web::Path<u32>) -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[derive(serde::Deserialize, garde::Validate, Input)]
#[serde(deny_unknown_fields)]
struct Note {
    #[garde(length(min = 1, max = 20))]
    text: String,
}

fn security() -> SecurityConfig {
    SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"observe tests secret, 32 bytes long".to_vec(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bearer(security: &SecurityConfig, sub: &str, roles: &[&str]) -> (String, String) {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let token = security
        .issue_access_token(sub, &roles)
        .map(|t| t.token)
        .unwrap_or_default();
    ("Authorization".to_owned(), format!("Bearer {token}"))
}

macro_rules! service {
    ($security:expr) => {
        init_service(
            SecureApp::new($security)
                .service(notes)
                .service(add_note)
                .service(delete_note)
                .into_app(),
        )
        .await
    };
}

fn audit_events(log: &support::Log) -> Vec<Value> {
    log.events()
        .into_iter()
        .filter(|e| e["target"] == "secure_api::audit")
        .collect()
}

#[actix_web::test]
async fn an_allowed_and_a_refused_request_each_give_exactly_one_audit_event() {
    let log = support::Log::default();
    let _guard = log.capture_json(tracing::Level::INFO);
    let security = security();
    let service = service!(security.clone());

    let allowed = TestRequest::get()
        .uri("/api/notes/7")
        .insert_header(bearer(&security, "7", &[]))
        .insert_header(("X-Request-Id", "allowed-7"))
        .peer_addr("192.0.2.7:4000".parse().unwrap_or_else(|e| panic!("{e}")))
        .to_request();
    let answer = call_service(&service, allowed).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let refused = TestRequest::get()
        .uri("/api/notes/8")
        .insert_header(bearer(&security, "7", &[]))
        .insert_header(("X-Request-Id", "refused-7"))
        .to_request();
    let answer = call_service(&service, refused).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);

    let events = audit_events(&log);
    assert_eq!(events.len(), 2, "{events:#?}");
    let (allowed, refused) = (&events[0], &events[1]);
    for (event, id, outcome, status, reason) in [
        (allowed, "allowed-7", "allowed", 200, Value::Null),
        (
            refused,
            "refused-7",
            "refused",
            403,
            Value::from("not_owner"),
        ),
    ] {
        assert_eq!(event["request_id"], id, "{event}");
        assert_eq!(event["method"], "GET");
        assert_eq!(
            event["route"], "/api/notes/{user_id}",
            "the pattern, never the path"
        );
        assert_eq!(event["principal"], "7");
        assert_eq!(event["issuer"], "-", "the application's own token");
        assert_eq!(event["rule"], "owner");
        assert_eq!(event["reason"], reason);
        assert_eq!(event["outcome"], outcome);
        assert_eq!(event["status"], status);
        assert!(
            event["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{event}"
        );
    }
    assert_eq!(allowed["client"], "192.0.2.7");
    assert_eq!(allowed["level"], "INFO");
    assert_eq!(refused["level"], "WARN");
}

#[actix_web::test]
async fn each_rule_that_refuses_is_named_and_a_request_no_route_matches_has_its_event() {
    let log = support::Log::default();
    let _guard = log.capture_json(tracing::Level::INFO);
    let security = security();
    let service = service!(security.clone());
    let editor = bearer(&security, "3", &["editor"]);
    let cases = [
        (
            TestRequest::post().uri("/api/notes"),
            None,
            "authentication",
            401,
        ),
        (
            TestRequest::post().uri("/api/notes"),
            Some(bearer(&security, "3", &[])),
            "roles",
            403,
        ),
        (
            TestRequest::post()
                .uri("/api/notes")
                .set_json(serde_json::json!({ "text": "" })),
            Some(editor.clone()),
            "input",
            422,
        ),
        (
            TestRequest::post()
                .uri("/api/notes")
                .set_json(serde_json::json!({ "text": "hi", "extra": 1 })),
            Some(editor.clone()),
            "input",
            422,
        ),
        (TestRequest::get().uri("/nowhere"), None, "routing", 404),
        (
            TestRequest::delete().uri("/api/notes"),
            None,
            "routing",
            405,
        ),
    ];
    for (request, auth, rule, status) in cases {
        let request = match auth {
            Some(header) => request.insert_header(header),
            None => request,
        };
        let answer = call_service(&service, request.to_request()).await;
        assert_eq!(answer.status().as_u16(), status, "{rule}");
        let id = answer
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let problem: Value = serde_json::from_slice(&read_body(answer).await)
            .unwrap_or_else(|e| panic!("{rule}: {e}"));
        assert_eq!(problem["request_id"], id.as_str(), "{rule}");
        let events = audit_events(&log);
        let event = events
            .iter()
            .find(|e| e["request_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no event for {rule}"));
        assert_eq!(
            (
                event["rule"].as_str(),
                event["outcome"].as_str(),
                event["status"].as_u64()
            ),
            (Some(rule), Some("refused"), Some(u64::from(status))),
            "{event}"
        );
        // A missing role is named; no other refusal has `needs`.
        let needs = if rule == "roles" {
            Some("editor")
        } else {
            None
        };
        assert_eq!(event["needs"].as_str(), needs, "{event}");
    }
    let events = audit_events(&log);
    assert_eq!(events.len(), 6, "{events:#?}");
    assert_eq!(events[4]["route"], "unmatched");
    let allowed = TestRequest::post()
        .uri("/api/notes")
        .insert_header(editor)
        .set_json(serde_json::json!({ "text": "hello" }))
        .to_request();
    assert_eq!(
        call_service(&service, allowed).await.status(),
        StatusCode::OK
    );
    let events = audit_events(&log);
    assert_eq!(events.len(), 7);
    assert_eq!(
        (events[6]["rule"].as_str(), events[6]["outcome"].as_str()),
        (Some("roles"), Some("allowed"))
    );
}

#[actix_web::test]
async fn a_fit_request_id_round_trips_and_reaches_the_handler_and_its_log() {
    let log = support::Log::default();
    let _guard = log.capture_json(tracing::Level::INFO);
    let security = security();
    let service = service!(security.clone());
    let long = "a".repeat(128);
    let too_long = "a".repeat(129);
    for (sent, kept) in [
        (Some("trace-0f8e;span=2"), true),
        (Some(long.as_str()), true),
        (Some(too_long.as_str()), false),
        (Some("two words"), false),
        (Some(""), false),
        (None, false),
    ] {
        let mut request =
            TestRequest::get()
                .uri("/api/notes/5")
                .insert_header(bearer(&security, "5", &[]));
        if let Some(sent) = sent {
            request = request.insert_header(("X-Request-Id", sent));
        }
        let answer = call_service(&service, request.to_request()).await;
        let id = answer
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if kept {
            assert_eq!(Some(id.as_str()), sent);
        } else {
            assert_eq!(id.len(), 32, "{sent:?} -> {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        let body = String::from_utf8_lossy(&read_body(answer).await).into_owned();
        assert_eq!(body, format!("notes for request {id}"));
        let handler_event = log
            .events()
            .into_iter()
            .rev()
            .find(|e| e["target"] == "notes")
            .unwrap_or_else(|| panic!("the handler logged nothing"));
        // No span at `info`: the line names the request all the same.
        assert!(handler_event.get("span").is_none(), "{handler_event}");
        assert_eq!(handler_event["request_id"], id.as_str());
    }
}

#[actix_web::test]
async fn every_step_runs_in_a_span_that_records_its_decision() {
    let log = support::Log::default();
    let _guard = log.capture_json(tracing::Level::DEBUG);
    let security = security();
    let service = service!(security.clone());
    let request = TestRequest::post()
        .uri("/api/notes")
        .insert_header(bearer(&security, "3", &["reader"]))
        .insert_header(("X-Request-Id", "steps-1"))
        .to_request();
    assert_eq!(
        call_service(&service, request).await.status(),
        StatusCode::FORBIDDEN
    );
    let closed: Vec<(String, String)> = log
        .events()
        .into_iter()
        .filter(|e| e["message"] == "close" && e["span"]["name"] == "secure_api.step")
        .map(|e| {
            assert_eq!(e["spans"][0]["request_id"], "steps-1", "{e}");
            (
                e["span"]["step"].as_str().unwrap_or_default().to_owned(),
                e["span"]["decision"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("lifecycle", "continue"),
        ("body_cap", "continue"),
        ("client_address", "continue"),
        ("address_quotas", "continue"),
        ("authentication", "continue"),
        ("scopes", "continue"),
        ("roles", "refused"),
    ]
    .iter()
    .map(|(step, decision)| ((*step).to_owned(), (*decision).to_owned()))
    .collect();
    assert_eq!(closed, expected);
}

/// One GET over a socket; the whole response.
fn scrape(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[actix_web::test]
async fn the_metrics_listener_counts_refusals_by_rule_and_the_api_has_no_metrics_route() {
    let metrics = Metrics::install().unwrap_or_else(|e| panic!("{e}"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let server = metrics.serve(listener).unwrap_or_else(|e| panic!("{e}"));
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let security = security();
    let service = service!(security.clone());
    for _ in 0..3 {
        let request = TestRequest::delete()
            .uri("/api/notes/1")
            .insert_header(bearer(&security, "9", &["reader"]))
            .to_request();
        assert_eq!(
            call_service(&service, request).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let allowed = TestRequest::get()
        .uri("/api/notes/9")
        .insert_header(bearer(&security, "9", &[]))
        .to_request();
    assert_eq!(
        call_service(&service, allowed).await.status(),
        StatusCode::OK
    );
    let on_api = call_service(&service, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);

    let text = actix_web::rt::task::spawn_blocking(move || scrape(port, "/metrics"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for line in [
        r#"secure_api_refusals_total{route="/api/notes/{note_id}",rule="roles"} 3"#,
        r#"secure_api_requests_total{route="/api/notes/{note_id}",method="DELETE",status="403"} 3"#,
        r#"secure_api_requests_total{route="unmatched",method="GET",status="404"}"#,
        r#"secure_api_request_duration_seconds_bucket{route="/api/notes/{note_id}",le="+Inf"} 3"#,
        r#"secure_api_limiter_keys{limiter="default 600/60s",quota="600/60s"}"#,
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    let other = actix_web::rt::task::spawn_blocking(move || scrape(port, "/"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    handle.stop(false).await;
}
