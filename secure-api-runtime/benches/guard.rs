//! The guard path of one request: bearer parsing, HS256 JWT verification,
//! the role rule and the owner rule.
//!
//! `cargo bench -p secure-api-runtime --bench guard`

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use criterion::{Criterion, criterion_group, criterion_main};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::guard::authorize;
use secure_api_runtime::policy::{
    Access, Lifecycle, LimitRule, Method, OwnerRule, Registration, RoleRule, RoutePolicy,
};
use secure_api_runtime::{Mode, RoleHierarchy, SecurityConfig};

static POLICY: RoutePolicy = RoutePolicy {
    handler: "get_user",
    method: Method::Get,
    path: "/api/users/{user_id}",
    access: Access::Authenticated,
    roles: RoleRule::Any(&["user", "admin"]),
    owner: OwnerRule::Subject {
        param: "user_id",
        or_roles: &["support"],
    },
    check_owned: None,
    limit: LimitRule::NONE,
    state: None,
    idempotent: false,
    registration: Registration {
        owner: "tests",
        lifecycle: Lifecycle::Production,
    },
};

fn guard(c: &mut Criterion) {
    let security = SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"criterion benchmark secret, 32 bytes+".to_vec(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = security
        .issue_access_token("42", &["user".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let hierarchy = RoleHierarchy::new();
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|e| panic!("{e}"));
    headers.insert(AUTHORIZATION, value);

    c.bench_function(
        "guard: jwt verify + roles + owner (token seen before)",
        |b| {
            b.iter(|| {
                let decision = authorize(&POLICY, &security, &hierarchy, &headers, |_| Some("42"));
                assert!(matches!(decision, Ok(Some(_))));
                decision
            });
        },
    );
    // Far more distinct tokens than the verified-token cache holds, so
    // nearly every decision verifies the signature and claims from scratch.
    let cold: Vec<HeaderMap> = (0..40_000)
        .map(|i| {
            let token = security
                .issue_access_token("42", &["user".to_owned()])
                .unwrap_or_else(|e| panic!("{e}"))
                .token;
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .unwrap_or_else(|e| panic!("{i}: {e}"));
            headers.insert(AUTHORIZATION, value);
            headers
        })
        .collect();
    let mut next = 0;
    c.bench_function("guard: first sight of a token (full verification)", |b| {
        b.iter(|| {
            next = (next + 1) % cold.len();
            authorize(&POLICY, &security, &hierarchy, &cold[next], |_| Some("42")).is_ok()
        });
    });
    c.bench_function("guard: refused owner (403)", |b| {
        b.iter(|| authorize(&POLICY, &security, &hierarchy, &headers, |_| Some("43")).is_err());
    });
}

criterion_group!(benches, guard);
criterion_main!(benches);
