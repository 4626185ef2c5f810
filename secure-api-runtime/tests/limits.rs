//! `#[limit]` through actix: quotas keyed by address (with trusted
//! proxies) and by user, the application default, body caps and in-flight
//! caps.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::net::Cidr;
use secure_api_runtime::policy::Quota;
use secure_api_runtime::prelude::*;

#[get("/login-page")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[limit("3/minute")]
async fn login_page() -> &'static str {
    "form"
}

#[get("/api/search")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit("2/minute")]
async fn search() -> &'static str {
    "results"
}

#[get("/api/profile")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn profile() -> &'static str {
    "profile"
}

#[get("/api/settings")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn settings() -> &'static str {
    "settings"
}

#[post("/api/upload")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit(body = "1KiB")]
async fn upload(body: String) -> String {
    body.len().to_string()
}

#[get("/api/report")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit(concurrency = 1)]
async fn report() -> &'static str {
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    "report"
}

fn security() -> SecurityConfig {
    SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"limit tests secret, at least 32 bytes".to_vec(),
        ))
        .trusted_proxies(["10.0.0.0/8"
            .parse::<Cidr>()
            .unwrap_or_else(|e| panic!("{e}"))])
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn app(security: &SecurityConfig) -> SecureApp {
    SecureApp::new(security.clone())
        .default_limit(&[Quota::per_minute(4)])
        .service(login_page)
        .service(search)
        .service(profile)
        .service(settings)
        .service(upload)
        .service(report)
}

fn peer(ip: &str) -> SocketAddr {
    format!("{ip}:40000")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bearer(security: &SecurityConfig, sub: &str) -> (String, String) {
    let token = security
        .issue_access_token(sub, &[])
        .map(|t| t.token)
        .unwrap_or_default();
    ("authorization".to_owned(), format!("Bearer {token}"))
}

#[actix_web::test]
async fn an_address_quota_counts_the_client_behind_a_trusted_proxy_only() {
    let security = security();
    let service = init_service(app(&security).into_app()).await;
    let from = |ip: &str, forwarded: Option<&str>| {
        let mut request = TestRequest::get().uri("/login-page").peer_addr(peer(ip));
        if let Some(forwarded) = forwarded {
            request = request.insert_header(("x-forwarded-for", forwarded));
        }
        request.to_request()
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            call_service(&service, from("203.0.113.1", Some("198.51.100.1")))
                .await
                .status()
                .as_u16(),
        );
    }
    // An untrusted peer's X-Forwarded-For is ignored: five requests from
    // one address, three allowed.
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // Behind the trusted proxy, each forwarded client has its own quota.
    for client in ["198.51.100.7", "198.51.100.8"] {
        for _ in 0..3 {
            assert_eq!(
                call_service(&service, from("10.0.0.2", Some(client)))
                    .await
                    .status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            call_service(&service, from("10.0.0.2", Some(client)))
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

#[actix_web::test]
async fn a_client_forwarded_header_does_not_escape_the_address_quota() {
    // The proxy writes X-Forwarded-For (the default); a `Forwarded` header
    // the client sent passes through it and must be ignored.
    let security = security();
    let service = init_service(app(&security).into_app()).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let request = TestRequest::get()
            .uri("/login-page")
            .peer_addr(peer("10.0.0.2"))
            .insert_header(("x-forwarded-for", "198.51.100.9"))
            .insert_header(("forwarded", format!("for=192.0.2.{n}")))
            .to_request();
        statuses.push(call_service(&service, request).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[actix_web::test]
async fn a_user_quota_follows_the_token_not_the_address() {
    let security = security();
    let service = init_service(app(&security).into_app()).await;
    let call = |sub: &str, ip: &str| {
        TestRequest::get()
            .uri("/api/search")
            .peer_addr(peer(ip))
            .insert_header(bearer(&security, sub))
            .to_request()
    };
    assert_eq!(
        call_service(&service, call("1", "192.0.2.1"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        call_service(&service, call("1", "192.0.2.2"))
            .await
            .status(),
        StatusCode::OK
    );
    let refused = call_service(&service, call("1", "192.0.2.3")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        call_service(&service, call("2", "192.0.2.1"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn the_default_quota_is_shared_by_routes_without_their_own() {
    let security = security();
    let service = init_service(app(&security).into_app()).await;
    let call = |uri: &str| {
        TestRequest::get()
            .uri(uri)
            .peer_addr(peer("192.0.2.1"))
            .insert_header(bearer(&security, "7"))
            .to_request()
    };
    let mut statuses = Vec::new();
    for uri in [
        "/api/profile",
        "/api/settings",
        "/api/profile",
        "/api/settings",
        "/api/profile",
    ] {
        statuses.push(call_service(&service, call(uri)).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    // A route with its own quota does not draw on the default.
    assert_eq!(
        call_service(&service, call("/api/search")).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn quotas_hold_across_workers() {
    let security = security();
    // Two `App`s built from one configuration stand for two workers.
    let first = init_service(app(&security).into_app()).await;
    let second = init_service(app(&security).into_app()).await;
    let call = || {
        TestRequest::get()
            .uri("/login-page")
            .peer_addr(peer("192.0.2.9"))
            .to_request()
    };
    let mut allowed = 0;
    for i in 0..6 {
        let service_status = if i % 2 == 0 {
            call_service(&first, call()).await.status()
        } else {
            call_service(&second, call()).await.status()
        };
        allowed += usize::from(service_status == StatusCode::OK);
    }
    assert_eq!(allowed, 3);
}

#[actix_web::test]
async fn a_body_over_the_cap_is_refused_before_it_is_read() {
    let security = security();
    let service = init_service(app(&security).into_app()).await;
    let send = |body: Vec<u8>| {
        TestRequest::post()
            .uri("/api/upload")
            .peer_addr(peer("192.0.2.1"))
            .insert_header(bearer(&security, "3"))
            .set_payload(body)
            .to_request()
    };
    assert_eq!(
        call_service(&service, send(vec![b'a'; 1024]))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        call_service(&service, send(vec![b'a'; 1025]))
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[actix_web::test]
async fn the_in_flight_cap_answers_503_while_full() {
    let security = security();
    let service = init_service(app(&security).into_app()).await;
    let call = || {
        TestRequest::get()
            .uri("/api/report")
            .peer_addr(peer("192.0.2.1"))
            .insert_header(bearer(&security, "4"))
            .to_request()
    };
    let (first, second) = tokio::join!(call_service(&service, call()), async {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        call_service(&service, call()).await
    });
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        second
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    // Once the first finished, the slot is free again.
    assert_eq!(
        call_service(&service, call()).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn without_a_default_limit_of_its_own_an_app_counts_600_a_minute_per_client() {
    let security = security();
    let app = SecureApp::new(security.clone())
        .service(profile)
        .service(settings);
    assert!(app.route_table().contains("authenticated  app default"));
    let service = init_service(app.into_app()).await;
    let auth = bearer(&security, "600");
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for n in 0..700 {
        let uri = if n % 2 == 0 {
            "/api/profile"
        } else {
            "/api/settings"
        };
        let request = TestRequest::get()
            .uri(uri)
            .insert_header(auth.clone())
            .to_request();
        let status = call_service(&service, request).await.status().as_u16();
        statuses.push(status);
        if status == 429 {
            break;
        }
    }
    // One quota across both routes: a burst of 600, then one more request
    // every 100 ms (whatever the loop took, at that rate).
    let replenished = started.elapsed().as_millis() / 100;
    let first_refused = statuses.iter().position(|status| *status == 429);
    assert!(statuses[..600].iter().all(|status| *status == 200));
    assert!(
        first_refused.is_some_and(|n| n as u128 <= 600 + replenished),
        "{first_refused:?} after {replenished} replenished"
    );
}

#[actix_web::test]
async fn no_default_limit_leaves_undeclared_routes_unlimited_and_says_none() {
    let security = security();
    let app = SecureApp::new(security.clone())
        .no_default_limit()
        .service(profile)
        .service(search);
    let table = app.route_table();
    assert!(table.contains("/api/profile  tests  production  authenticated  none"));
    assert!(table.contains("2/minute per user"));
    let service = init_service(app.into_app()).await;
    let auth = bearer(&security, "unlimited");
    for _ in 0..700 {
        let request = TestRequest::get()
            .uri("/api/profile")
            .insert_header(auth.clone())
            .to_request();
        assert_eq!(
            call_service(&service, request).await.status(),
            StatusCode::OK
        );
    }
}
