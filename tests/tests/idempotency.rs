//! Idempotency keys are budgeted per caller, in memory and in Redis: one
//! caller who holds too many gets 429, and nobody else notices.

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::idempotency::MAX_KEYS_PER_CALLER;
use secure_api_runtime::prelude::*;
use secure_api_runtime::shared::{Shared, Unavailable};
use secure_api_tests::RedisServer;

#[post("/api/notes")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[idempotent]
#[limit("100000/minute")]
async fn create_note() -> HttpResponse {
    HttpResponse::Created().body("noted")
}

fn security(shared: Option<Shared>) -> SecurityConfig {
    let mut builder = SecurityConfig::builder(Mode::Dev).key(JwtKey::hs256(
        b"idempotency tests secret, 32 bytes or more".to_vec(),
    ));
    if let Some(shared) = shared {
        builder = builder.shared(shared);
    }
    builder.build().unwrap_or_else(|e| panic!("{e}"))
}

async fn one_caller_over_budget_leaves_the_others_alone(security: SecurityConfig) {
    let service = init_service(
        SecureApp::new(security.clone())
            .service(create_note)
            .into_app(),
    )
    .await;
    let token = |sub: &str| {
        security
            .issue_access_token(sub, &[])
            .map(|t| format!("Bearer {}", t.token))
            .unwrap_or_default()
    };
    let mallory = token("mallory");
    let send = |authorization: &str, key: String| {
        TestRequest::post()
            .uri("/api/notes")
            .insert_header(("authorization", authorization.to_owned()))
            .insert_header(("idempotency-key", key))
            .to_request()
    };
    for n in 0..MAX_KEYS_PER_CALLER {
        let response = call_service(&service, send(&mallory, format!("k{n}"))).await;
        assert_eq!(response.status(), StatusCode::CREATED, "key {n}");
    }
    let refused = call_service(&service, send(&mallory, "one-more".to_owned())).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    // Her stored answers still replay.
    let replay = call_service(&service, send(&mallory, "k0".to_owned())).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert!(replay.headers().contains_key("idempotent-replayed"));
    // Everyone else is served as usual.
    let alice = call_service(&service, send(&token("alice"), "k0".to_owned())).await;
    assert_eq!(alice.status(), StatusCode::CREATED);
    assert!(!alice.headers().contains_key("idempotent-replayed"));
}

#[actix_web::test]
async fn in_memory() {
    one_caller_over_budget_leaves_the_others_alone(security(None)).await;
}

#[actix_web::test]
async fn in_redis() {
    let redis = RedisServer::start();
    let shared =
        Shared::new(&redis.url(), Unavailable::FailClosed).unwrap_or_else(|e| panic!("{e}"));
    one_caller_over_budget_leaves_the_others_alone(security(Some(shared))).await;
}
