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
    assert!(status(form("q=dune&admin=1")).await.is_client_error());
}
