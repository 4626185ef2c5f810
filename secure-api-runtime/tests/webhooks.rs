//! `#[webhook]` deliveries through actix: an id is spent only when its
//! handler answers 2xx, a processed id is acknowledged without running the
//! handler again, and a delivery still being processed is not run twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;
use secure_api_runtime::webhook::WebhookKeys;

const SECRET: &str = "whsec_d2ViaG9vayB0ZXN0cyBzZWNyZXQ=";

static RUNS: AtomicUsize = AtomicUsize::new(0);
static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Fails its first run (the database was down, say), succeeds after.
#[post("/hooks/flaky")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(secret = "TEST_WEBHOOK")]
async fn flaky(body: String) -> HttpResponse {
    if RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        HttpResponse::ServiceUnavailable().finish()
    } else {
        HttpResponse::Ok().body(body)
    }
}

#[post("/hooks/slow")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(secret = "TEST_WEBHOOK")]
async fn slow() -> HttpResponse {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    HttpResponse::NoContent().finish()
}

fn keys() -> WebhookKeys {
    WebhookKeys::standard(SECRET).unwrap_or_else(|e| panic!("{e}"))
}

fn app() -> SecureApp {
    let security = SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"webhook tests secret, 32 bytes or more".to_vec(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    SecureApp::new(security)
        .webhook("TEST_WEBHOOK", keys())
        .service(flaky)
        .service(slow)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn delivery(
    path: &str,
    id: &str,
    timestamp: u64,
    body: &'static str,
) -> actix_web::test::TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("webhook-id", id))
        .insert_header(("webhook-timestamp", timestamp.to_string()))
        .insert_header((
            "webhook-signature",
            keys().sign(id, timestamp, body.as_bytes()),
        ))
        .set_payload(body)
}

#[actix_web::test]
async fn a_failed_delivery_is_processed_on_retry_and_then_only_acknowledged() {
    let service = init_service(app().into_app()).await;
    let body = r#"{"event": 1}"#;
    let now = now();
    let first = call_service(
        &service,
        delivery("/hooks/flaky", "msg_a", now, body).to_request(),
    )
    .await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The sender retries: the handler runs again and succeeds.
    let retry = call_service(
        &service,
        delivery("/hooks/flaky", "msg_a", now + 5, body).to_request(),
    )
    .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    // A re-delivery of the processed id: its status, without the handler.
    let again = call_service(
        &service,
        delivery("/hooks/flaky", "msg_a", now + 9, body).to_request(),
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    // A bad signature on a processed id is still refused.
    let forged = TestRequest::post()
        .uri("/hooks/flaky")
        .insert_header(("webhook-id", "msg_a"))
        .insert_header(("webhook-timestamp", now.to_string()))
        .insert_header(("webhook-signature", "v1,AAAA"))
        .set_payload(body)
        .to_request();
    assert_eq!(
        call_service(&service, forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn a_delivery_still_being_processed_is_not_run_twice() {
    let service = init_service(app().into_app()).await;
    let now = now();
    let (first, second) = tokio::join!(
        call_service(
            &service,
            delivery("/hooks/slow", "msg_b", now, "{}").to_request()
        ),
        async {
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            call_service(
                &service,
                delivery("/hooks/slow", "msg_b", now, "{}").to_request(),
            )
            .await
        },
    );
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert!(second.headers().contains_key("retry-after"));
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 1);
    let later = call_service(
        &service,
        delivery("/hooks/slow", "msg_b", now, "{}").to_request(),
    )
    .await;
    assert_eq!(later.status(), StatusCode::NO_CONTENT);
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 1);
}
