//! One request through a secured route's whole pipeline (backstop, guard
//! steps, handler, headers), in process: bearer parsing, HS256 JWT
//! verification, the role rule and the owner rule, against the same
//! handler mounted bare on actix.
//!
//! `cargo bench -p secure-api-runtime --bench guard`

use actix_web::dev::{Service, ServiceResponse};

fn status<B>(response: Result<ServiceResponse<B>, actix_web::Error>) -> u16 {
    response.map(|r| r.status().as_u16()).unwrap_or_default()
}
use actix_web::App;
use actix_web::http::header::AUTHORIZATION;
use actix_web::test::{TestRequest, init_service};
use criterion::{Criterion, criterion_group, criterion_main};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(any(user, admin))]
#[owner(user_id, or_roles(support))]
async fn secured() -> &'static str {
    "ok"
}

#[actix_web::get("/api/users/{user_id}")]
async fn bare() -> &'static str {
    "ok"
}

fn guard(c: &mut Criterion) {
    let system = actix_web::rt::System::new();
    let security = SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"criterion benchmark secret, 32 bytes+".to_vec(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = |sub: &str| {
        security
            .issue_access_token(sub, &["user".to_owned()])
            .unwrap_or_else(|e| panic!("{e}"))
            .token
    };
    let app = system.block_on(init_service(
        SecureApp::new(security.clone())
            .no_default_limit()
            .service(secured)
            .into_app(),
    ));
    let plain = system.block_on(init_service(App::new().service(bare)));
    let known = format!("Bearer {}", token("42"));
    let request = |authorization: &str, user: &str| {
        TestRequest::get()
            .uri(&format!("/api/users/{user}"))
            .insert_header((AUTHORIZATION, authorization.to_owned()))
            .to_request()
    };

    c.bench_function("route: bare actix handler", |b| {
        b.iter(|| system.block_on(async { status(plain.call(request(&known, "42")).await) }));
    });
    c.bench_function("route: secured, token seen before", |b| {
        b.iter(|| {
            let code = system.block_on(async { status(app.call(request(&known, "42")).await) });
            assert_eq!(code, 200);
        });
    });
    // Far more distinct tokens than the verified-token cache holds, so
    // nearly every request verifies the signature and claims from scratch.
    let cold: Vec<String> = (0..40_000)
        .map(|_| format!("Bearer {}", token("42")))
        .collect();
    let mut next = 0;
    c.bench_function("route: secured, first sight of a token", |b| {
        b.iter(|| {
            next = (next + 1) % cold.len();
            system.block_on(async { status(app.call(request(&cold[next], "42")).await) })
        });
    });
    c.bench_function("route: secured, refused owner (403)", |b| {
        b.iter(|| system.block_on(async { status(app.call(request(&known, "43")).await) }));
    });
}

criterion_group!(benches, guard);
criterion_main!(benches);
