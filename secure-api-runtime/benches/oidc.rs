//! Provider tokens: the cost of verifying a token seen for the first time,
//! per algorithm (a fresh token each iteration, signed outside the
//! measurement), and a secured route's whole pipeline with a provider's
//! ES256 token against the application's own HS256 token, both seen before.
//!
//! The keys come from `benches/fixtures/provider-keys.json` (bench-only
//! keys), published by a key server on loopback started here.
//!
//! `cargo bench -p secure-api-runtime --bench oidc`

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::test::{TestRequest, init_service};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secure_api_runtime::auth::{JwtKey, TokenError};
use secure_api_runtime::prelude::*;
use serde_json::{Value, json};

const AUDIENCE: &str = "https://orders.example.test";
const ALGORITHMS: [(&str, Algorithm); 5] = [
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
    ("RS256", Algorithm::RS256),
    ("PS256", Algorithm::PS256),
];

#[get("/api/reports/orders")]
#[registered(owner = "bench", lifecycle = production)]
#[authenticated]
async fn report() -> &'static str {
    "ok"
}

fn status<B>(response: Result<ServiceResponse<B>, actix_web::Error>) -> u16 {
    response.map(|r| r.status().as_u16()).unwrap_or_default()
}

/// Serves discovery and the fixture's public keys; answers the issuer.
fn key_server(fixture: &Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let issuer = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let keys: Vec<Value> = ALGORITHMS
        .iter()
        .map(|(name, _)| fixture[name]["jwk"].clone())
        .collect();
    let jwks = json!({ "keys": keys }).to_string();
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 2048];
            let read = stream.read(&mut head).unwrap_or(0);
            let text = String::from_utf8_lossy(&head[..read]);
            let body = if text.starts_with("GET /jwks") {
                &jwks
            } else {
                &discovery
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

fn oidc(c: &mut Criterion) {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/provider-keys.json")).unwrap_or_default();
    let issuer = key_server(&fixture);
    let security = SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"criterion benchmark secret, 32 bytes+".to_vec(),
        ))
        .oidc_issuer(&issuer)
        .oidc_audience(AUDIENCE)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut serial = 0u64;
    let mut sign = |name: &str, alg: Algorithm| {
        let pem = fixture[name]["pem"].as_str().unwrap_or_default();
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut header = Header::new(alg);
        header.kid = Some(name.to_ascii_lowercase());
        serial += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = json!({
            "iss": issuer, "sub": "svc", "aud": AUDIENCE, "exp": now + 3600,
            "iat": now, "jti": format!("bench-{serial}"), "scope": "reports:read",
        });
        jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| panic!("{e}"))
    };
    // The keys load in the background: wait for them.
    let probe = sign("ES256", Algorithm::ES256);
    for _ in 0..500 {
        if security.verify_access_token(&probe) != Err(TokenError::KeysUnavailable) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(security.verify_access_token(&probe).is_ok(), "keys loaded");

    let mut group = c.benchmark_group("provider token, first sight");
    for (name, alg) in ALGORITHMS {
        group.bench_function(name, |b| {
            b.iter_batched(
                || sign(name, alg),
                |token| assert!(security.verify_access_token(&token).is_ok()),
                BatchSize::SmallInput,
            );
        });
    }
    group.bench_function("HS256 (own)", |b| {
        b.iter_batched(
            || {
                security
                    .issue_access_token("7", &[])
                    .unwrap_or_else(|e| panic!("{e}"))
                    .token
            },
            |token| assert!(security.verify_access_token(&token).is_ok()),
            BatchSize::SmallInput,
        );
    });
    group.finish();

    let system = actix_web::rt::System::new();
    let app = system.block_on(init_service(
        SecureApp::new(security.clone())
            .no_default_limit()
            .service(report)
            .into_app(),
    ));
    let provider = format!("Bearer {}", sign("ES256", Algorithm::ES256));
    let own = format!(
        "Bearer {}",
        security
            .issue_access_token("7", &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .token
    );
    let mut group = c.benchmark_group("secured route, token seen before");
    for (name, authorization) in [("own HS256", &own), ("provider ES256", &provider)] {
        // The request is built outside the measurement: a provider's
        // longer token would otherwise be checked once more as a header
        // value, by the test request, not by the pipeline.
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    TestRequest::get()
                        .uri("/api/reports/orders")
                        .insert_header((AUTHORIZATION, authorization.clone()))
                        .to_request()
                },
                |request| {
                    let code = system.block_on(async { status(app.call(request).await) });
                    assert_eq!(code, 200);
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, oidc);
criterion_main!(benches);
