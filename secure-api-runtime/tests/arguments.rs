//! Handler arguments are checked by type: a body under another name is
//! still validated, and query strings and forms of an `Input` type refuse
//! undeclared fields (422) like JSON bodies.

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service};
use garde::Validate;
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
struct Search {
    #[garde(length(min = 1, max = 8))]
    q: String,
}

type Body = web::Json<Search>;

#[get("/api/search")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn search(query: web::Query<Search>) -> String {
    query.into_inner().q
}

#[post("/api/search")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn search_body(body: Body) -> String {
    body.into_inner().q
}

#[post("/api/search/form")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn search_form(form: web::Form<Search>) -> String {
    form.into_inner().q
}

fn security() -> SecurityConfig {
    SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(b"argument tests secret, 32 bytes!!".to_vec()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[actix_web::test]
async fn every_checked_body_is_validated_whatever_it_is_called() {
    let app = init_service(
        SecureApp::new(security())
            .service(search)
            .service(search_body)
            .service(search_form)
            .into_app(),
    )
    .await;
    let status = |request: TestRequest| {
        let request = request.to_request();
        let app = &app;
        async move { call_service(app, request).await.status() }
    };
    assert_eq!(
        status(TestRequest::get().uri("/api/search?q=dune")).await,
        StatusCode::OK
    );
    for uri in ["/api/search?q=dune&admin=1", "/api/search?q=far+too+long"] {
        assert_eq!(
            status(TestRequest::get().uri(uri)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}"
        );
    }
    let json = |body: serde_json::Value| TestRequest::post().uri("/api/search").set_json(body);
    assert_eq!(
        status(json(serde_json::json!({ "q": "dune" }))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(json(serde_json::json!({ "q": "far too long" }))).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let form = |body: &str| {
        TestRequest::post()
            .uri("/api/search/form")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_owned())
    };
    assert_eq!(status(form("q=dune")).await, StatusCode::OK);
    assert_eq!(
        status(form("q=far+too+long")).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        status(form("q=dune&admin=1")).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// An undeclared field is refused the same way in a query string, a form
/// and a JSON body: 422, as problem+json, naming the field.
#[actix_web::test]
async fn an_undeclared_field_is_named_wherever_it_is_sent() {
    let app = init_service(
        SecureApp::new(security())
            .service(search)
            .service(search_body)
            .service(search_form)
            .into_app(),
    )
    .await;
    let requests = [
        TestRequest::get().uri("/api/search?q=dune&admin=1"),
        TestRequest::post()
            .uri("/api/search/form")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("q=dune&admin=1"),
        TestRequest::post()
            .uri("/api/search")
            .set_json(serde_json::json!({ "q": "dune", "admin": 1 })),
    ];
    for request in requests {
        let response = call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..])
        );
        let body: serde_json::Value = actix_web::test::read_body_json(response).await;
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("`admin`"), "{body}");
    }
}

/// A form that is not one, lacks a field, repeats one, is larger than the
/// form cap (16 KiB without a declared one), or is sent as something else,
/// is a 4xx problem.
#[actix_web::test]
async fn a_malformed_form_is_a_client_error() {
    let app = init_service(SecureApp::new(security()).service(search_form).into_app()).await;
    let form = |content_type: &str, body: &[u8]| {
        TestRequest::post()
            .uri("/api/search/form")
            .insert_header(("content-type", content_type.to_owned()))
            .set_payload(body.to_vec())
            .to_request()
    };
    let oversized = format!("q={}", "a".repeat(16 * 1024));
    for (request, expected) in [
        (
            form("text/plain", b"q=dune"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            form("application/x-www-form-urlencoded", b""),
            StatusCode::BAD_REQUEST,
        ),
        (
            form("application/x-www-form-urlencoded", b"q=dune&q=dune"),
            StatusCode::BAD_REQUEST,
        ),
        (
            form("application/x-www-form-urlencoded", oversized.as_bytes()),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let response = call_service(&app, request).await;
        assert_eq!(response.status(), expected);
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..])
        );
    }
}
