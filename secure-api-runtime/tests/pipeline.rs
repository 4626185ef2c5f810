//! The request pipeline through actix: guards, the backstop for routes not
//! mounted through `SecureApp`, and problem+json answers.

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use secure_api_runtime::PlainHttp;
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;

static SIDE_DOOR_CALLS: AtomicUsize = AtomicUsize::new(0);
/// Purges by [`PRODUCTION_CALLER`] alone: other tests purge at the same
/// time, with other subjects.
static PRODUCTION_PURGES: AtomicUsize = AtomicUsize::new(0);
const PRODUCTION_CALLER: &str = "production-caller";

#[get("/api/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn health() -> &'static str {
    "ok"
}

#[get("/api/whoami")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(optional)]
async fn public_whoami(me: Option<Principal>) -> String {
    me.map_or_else(|| "nobody".to_owned(), |me| me.sub)
}

#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(any(admin, auditor))]
async fn reports() -> &'static str {
    "reports"
}

#[delete("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(all(admin, auditor))]
async fn purge_reports(me: Principal) -> &'static str {
    if me.sub == PRODUCTION_CALLER {
        PRODUCTION_PURGES.fetch_add(1, Ordering::SeqCst);
    }
    "purged"
}

#[get("/api/users/{user_id}/notes")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id, or_roles(support))]
async fn notes(me: Principal) -> String {
    format!("notes for {}", me.sub)
}

/// Every field of it may leave the server.
#[derive(serde::Serialize)]
struct Caller {
    sub: String,
}

impl SerializeWhole for Caller {}

/// A handler called `me`, while the others bind the caller as `me`; it
/// returns a value declared whole, as it is.
#[get("/api/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn me(me: Principal) -> Caller {
    Caller { sub: me.sub }
}

#[actix_web::get("/api/side-door")]
async fn side_door() -> &'static str {
    SIDE_DOOR_CALLS.fetch_add(1, Ordering::SeqCst);
    "secrets"
}

static OLD_REPORT_CALLS: AtomicUsize = AtomicUsize::new(0);

#[get("/api/v1/reports")]
#[registered(owner = "tests", lifecycle = deprecated(since = "2026-01-15", sunset = "2027-06-30", successor = "/api/reports"))]
#[public]
async fn v1_reports() -> &'static str {
    "old reports"
}

#[get("/api/v0/reports")]
#[registered(owner = "tests", lifecycle = retired)]
#[public]
async fn v0_reports() -> &'static str {
    OLD_REPORT_CALLS.fetch_add(1, Ordering::SeqCst);
    "older reports"
}

fn security() -> SecurityConfig {
    SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"pipeline tests secret, 32 bytes long".to_vec(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn secure_app(security: &SecurityConfig) -> SecureApp {
    SecureApp::new(security.clone())
        .service(health)
        .service(public_whoami)
        .service(reports)
        .service(purge_reports)
        .service(notes)
        .service(me)
}

fn bearer(security: &SecurityConfig, sub: &str, roles: &[&str]) -> (String, String) {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let token = security
        .issue_access_token(sub, &roles)
        .map(|t| t.token)
        .unwrap_or_default();
    ("authorization".to_owned(), format!("Bearer {token}"))
}

#[actix_web::test]
async fn a_route_mounted_around_secure_app_answers_410_and_never_runs() {
    let security = security();
    let app = init_service(secure_app(&security).into_app().service(side_door)).await;
    let response = call_service(&app, TestRequest::get().uri("/api/side-door").to_request()).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(SIDE_DOOR_CALLS.load(Ordering::SeqCst), 0);
    // The secured routes beside it still answer.
    let response = call_service(&app, TestRequest::get().uri("/api/health").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(read_body(response).await, "ok");
}

#[actix_web::test]
async fn a_value_declared_whole_is_answered_as_json_by_a_handler_named_like_a_binding() {
    let security = security();
    let app = init_service(secure_app(&security).into_app()).await;
    let request = TestRequest::get()
        .uri("/api/me")
        .insert_header(bearer(&security, "7", &[]))
        .to_request();
    let response = call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(read_body(response).await, r#"{"sub":"7"}"#);
}

/// `#[authenticated(optional)]` serves everyone: a valid token gives the
/// handler `Some(Principal)`, none gives `None`, and a bad one is refused.
#[actix_web::test]
async fn an_optional_token_is_read_when_sent_and_must_be_valid() {
    let security = security();
    let app = init_service(secure_app(&security).into_app()).await;
    let whoami = |auth: Option<(String, String)>| {
        let request = TestRequest::get().uri("/api/whoami");
        match auth {
            Some(header) => request.insert_header(header),
            None => request,
        }
        .to_request()
    };
    let response = call_service(&app, whoami(Some(bearer(&security, "3", &[])))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(read_body(response).await, "3");
    let response = call_service(&app, whoami(None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(read_body(response).await, "nobody");
    for bad in ["Bearer not.a.token", "Basic dXNlcjpwYXNz", "Bearer"] {
        let header = ("authorization".to_owned(), bad.to_owned());
        let response = call_service(&app, whoami(Some(header))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{bad}"
        );
    }
}

#[actix_web::test]
async fn head_is_answered_wherever_get_is_under_the_same_policy() {
    let security = security();
    let app = init_service(secure_app(&security).into_app()).await;
    let head = |uri: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri(uri)
    };
    let response = call_service(&app, head("/api/health").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The roles of the GET route apply to HEAD: no token, then the wrong role.
    let response = call_service(&app, head("/api/reports").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let request = head("/api/reports")
        .insert_header(bearer(&security, "3", &["user"]))
        .to_request();
    assert_eq!(
        call_service(&app, request).await.status(),
        StatusCode::FORBIDDEN
    );
    let request = head("/api/reports")
        .insert_header(bearer(&security, "3", &["auditor"]))
        .to_request();
    assert_eq!(call_service(&app, request).await.status(), StatusCode::OK);
    // A route that serves only DELETE does not answer HEAD, and says what it
    // does answer.
    let app = init_service(
        SecureApp::new(security.clone())
            .service(purge_reports)
            .into_app(),
    )
    .await;
    let request = head("/api/reports")
        .insert_header(bearer(&security, "3", &["admin", "auditor"]))
        .to_request();
    let response = call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("DELETE")
    );
}

#[actix_web::test]
async fn role_combinators() {
    let security = security();
    let app = init_service(secure_app(&security).into_app()).await;
    let cases: [(&str, &[&str], StatusCode); 6] = [
        ("GET", &["auditor"], StatusCode::OK),
        ("GET", &["user"], StatusCode::FORBIDDEN),
        ("GET", &[], StatusCode::FORBIDDEN),
        ("DELETE", &["admin"], StatusCode::FORBIDDEN),
        ("DELETE", &["admin", "auditor"], StatusCode::OK),
        ("DELETE", &["auditor", "user"], StatusCode::FORBIDDEN),
    ];
    for (method, roles, status) in cases {
        let request = match method {
            "GET" => TestRequest::get(),
            _ => TestRequest::delete(),
        };
        let request = request
            .uri("/api/reports")
            .insert_header(bearer(&security, "1", roles))
            .to_request();
        assert_eq!(
            call_service(&app, request).await.status(),
            status,
            "{method} with {roles:?}"
        );
    }
}

#[actix_web::test]
async fn owner_or_roles() {
    let security = security();
    let app = init_service(secure_app(&security).into_app()).await;
    let cases: [(&str, &[&str], StatusCode); 4] = [
        ("7", &[], StatusCode::OK),
        ("8", &[], StatusCode::FORBIDDEN),
        ("8", &["support"], StatusCode::OK),
        ("8", &["admin"], StatusCode::FORBIDDEN),
    ];
    for (sub, roles, status) in cases {
        let request = TestRequest::get()
            .uri("/api/users/7/notes")
            .insert_header(bearer(&security, sub, roles))
            .to_request();
        assert_eq!(
            call_service(&app, request).await.status(),
            status,
            "sub {sub} with {roles:?}"
        );
    }
}

#[actix_web::test]
async fn a_role_hierarchy_on_secure_app_grants_included_roles() {
    let security = security();
    let plain = init_service(secure_app(&security).into_app()).await;
    let ranked = init_service(
        secure_app(&security)
            .role_hierarchy(RoleHierarchy::new().role("chief", ["admin", "auditor"]))
            .into_app(),
    )
    .await;
    let request = || {
        TestRequest::delete()
            .uri("/api/reports")
            .insert_header(bearer(&security, "1", &["chief"]))
            .to_request()
    };
    assert_eq!(
        call_service(&plain, request()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call_service(&ranked, request()).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn the_inventory_lists_every_mounted_policy() {
    let app = secure_app(&security());
    let described: Vec<(String, &str, String)> = app
        .routes()
        .iter()
        .map(|p| (p.method.to_string(), p.path, p.describe()))
        .collect();
    assert_eq!(
        described,
        [
            ("GET".to_owned(), "/api/health", "public".to_owned()),
            (
                "GET".to_owned(),
                "/api/whoami",
                "authenticated(optional)".to_owned()
            ),
            (
                "GET".to_owned(),
                "/api/reports",
                "roles(any(admin, auditor))".to_owned()
            ),
            (
                "DELETE".to_owned(),
                "/api/reports",
                "roles(all(admin, auditor))".to_owned()
            ),
            (
                "GET".to_owned(),
                "/api/users/{user_id}/notes",
                "owner(user_id, or_roles(support))".to_owned()
            ),
            ("GET".to_owned(), "/api/me", "authenticated".to_owned()),
        ]
    );
}

fn production(plain_http: PlainHttp) -> SecurityConfig {
    SecurityConfig::builder(Mode::Prod)
        .key(JwtKey::hs256(
            b"a production secret of at least 32 bytes".to_vec(),
        ))
        .trusted_proxies(["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))])
        .plain_http(plain_http)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

const PROXY: &str = "10.1.2.3:4000";

#[actix_web::test]
async fn production_mode_sends_hsts_on_every_response() {
    let prod = production(PlainHttp::Refuse);
    let app = init_service(secure_app(&prod).into_app()).await;
    for uri in ["/api/health", "/api/reports", "/missing"] {
        let request = TestRequest::get()
            .uri(uri)
            .peer_addr(PROXY.parse().unwrap_or_else(|e| panic!("{e}")))
            .insert_header(("x-forwarded-proto", "https"))
            .to_request();
        let response = call_service(&app, request).await;
        assert_ne!(response.status(), StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(
            response
                .headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=63072000; includeSubDomains"),
            "{uri}"
        );
    }
}

#[actix_web::test]
async fn behind_a_proxy_that_writes_forwarded_x_forwarded_proto_is_not_believed() {
    let prod = SecurityConfig::builder(Mode::Prod)
        .key(JwtKey::hs256(
            b"a production secret of at least 32 bytes".to_vec(),
        ))
        .trusted_proxies(["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))])
        .proxy_header(secure_api_runtime::net::ProxyHeader::Forwarded)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = init_service(secure_app(&prod).into_app()).await;
    for (header, expected) in [
        (("x-forwarded-proto", "https"), StatusCode::FORBIDDEN),
        (
            ("forwarded", "for=198.51.100.7;proto=https"),
            StatusCode::OK,
        ),
    ] {
        let request = TestRequest::get()
            .uri("/api/health")
            .peer_addr(PROXY.parse().unwrap_or_else(|e| panic!("{e}")))
            .insert_header(header)
            .to_request();
        assert_eq!(
            call_service(&app, request).await.status(),
            expected,
            "{header:?}"
        );
    }
}

#[actix_web::test]
async fn production_mode_refuses_plain_http_unless_a_trusted_proxy_says_https() {
    let prod = production(PlainHttp::Refuse);
    let app = init_service(secure_app(&prod).into_app()).await;
    type Header = Option<(&'static str, &'static str)>;
    let cases: [(&str, Header, StatusCode); 6] = [
        // Straight from a client, or from a proxy that does not say https.
        ("203.0.113.9:5000", None, StatusCode::FORBIDDEN),
        (PROXY, None, StatusCode::FORBIDDEN),
        (
            PROXY,
            Some(("x-forwarded-proto", "http")),
            StatusCode::FORBIDDEN,
        ),
        // Anyone may write the header; only a trusted proxy is believed.
        (
            "203.0.113.9:5000",
            Some(("x-forwarded-proto", "https")),
            StatusCode::FORBIDDEN,
        ),
        (PROXY, Some(("x-forwarded-proto", "https")), StatusCode::OK),
        // The proxy writes X-Forwarded-Proto: a `Forwarded` header came from
        // the client, and its `proto` is not believed.
        (
            PROXY,
            Some(("forwarded", "for=198.51.100.7;proto=https")),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (peer, header, expected) in cases {
        let mut request = TestRequest::get()
            .uri("/api/health")
            .peer_addr(peer.parse().unwrap_or_else(|e| panic!("{e}")));
        if let Some(header) = header {
            request = request.insert_header(header);
        }
        let response = call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), expected, "{peer} {header:?}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
        }
    }
    // A refused request never reaches its handler.
    let before = PRODUCTION_PURGES.load(Ordering::SeqCst);
    let authorization = bearer(&prod, PRODUCTION_CALLER, &["admin", "auditor"]);
    let request = TestRequest::delete()
        .uri("/api/reports")
        .insert_header(authorization.clone())
        .to_request();
    assert_eq!(
        call_service(&app, request).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(PRODUCTION_PURGES.load(Ordering::SeqCst), before);
    // The same request through the proxy over https runs.
    let request = TestRequest::delete()
        .uri("/api/reports")
        .peer_addr(PROXY.parse().unwrap_or_else(|e| panic!("{e}")))
        .insert_header(("x-forwarded-proto", "https"))
        .insert_header(authorization)
        .to_request();
    assert_eq!(call_service(&app, request).await.status(), StatusCode::OK);
    assert_eq!(PRODUCTION_PURGES.load(Ordering::SeqCst), before + 1);
}

#[actix_web::test]
async fn production_mode_can_redirect_reads_to_https() {
    let prod = production(PlainHttp::Redirect);
    let app = init_service(secure_app(&prod).into_app()).await;
    let request = TestRequest::get()
        .uri("/api/health?verbose=1")
        .insert_header(("host", "api.example.com:80"))
        .to_request();
    let response = call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("https://api.example.com/api/health?verbose=1")
    );
    // A write already sent its body in clear: refused, not redirected.
    let request = TestRequest::delete()
        .uri("/api/reports")
        .insert_header(("host", "api.example.com"))
        .to_request();
    assert_eq!(
        call_service(&app, request).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn deprecated_routes_say_so_and_retired_ones_are_gone() {
    let security = security();
    let app = init_service(
        SecureApp::new(security.clone())
            .service(v1_reports)
            .service(v0_reports)
            .into_app(),
    )
    .await;
    let response = call_service(&app, TestRequest::get().uri("/api/v1/reports").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // 2026-01-15T00:00:00Z and 2027-06-30.
    assert_eq!(header("deprecation").as_deref(), Some("@1768435200"));
    assert_eq!(
        header("sunset").as_deref(),
        Some("Wed, 30 Jun 2027 00:00:00 GMT")
    );
    assert_eq!(
        header("link").as_deref(),
        Some("</api/reports>; rel=\"successor-version\"")
    );
    assert_eq!(
        v1_reports.policy().registration.lifecycle.describe(),
        "deprecated (sunset 2027-06-30, successor /api/reports)"
    );

    let response = call_service(&app, TestRequest::get().uri("/api/v0/reports").to_request()).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(
        OLD_REPORT_CALLS.load(Ordering::SeqCst),
        0,
        "a retired handler never runs"
    );
}

#[actix_web::test]
async fn cors_answers_preflights_for_allowed_origins_only() {
    use secure_api_runtime::cors::Cors;
    let security = security();
    let cors = Cors::allow_origins(["https://app.example.com"])
        .allow_credentials(true)
        .build();
    let cors = cors.unwrap_or_else(|e| panic!("{e}"));
    let app = init_service(secure_app(&security).cors(cors).into_app()).await;
    let preflight = |origin: &str, method: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/reports")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", method.to_owned()))
            .to_request()
    };
    let allowed = call_service(&app, preflight("https://app.example.com", "DELETE")).await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let header = |headers: &actix_web::http::header::HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(allowed.headers(), "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(allowed.headers(), "access-control-allow-methods").as_deref(),
        Some("GET, HEAD, DELETE")
    );
    assert_eq!(
        header(allowed.headers(), "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(
        header(allowed.headers(), "access-control-allow-headers")
            .is_some_and(|h| h.contains("authorization"))
    );
    let stranger = call_service(&app, preflight("https://evil.example", "GET")).await;
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(stranger.headers(), "access-control-allow-origin"),
        None
    );
    let unserved = call_service(&app, preflight("https://app.example.com", "PUT")).await;
    assert_eq!(unserved.status(), StatusCode::FORBIDDEN);

    let actual = |origin: &str| {
        TestRequest::get()
            .uri("/api/health")
            .insert_header(("origin", origin.to_owned()))
            .to_request()
    };
    let from_app = call_service(&app, actual("https://app.example.com")).await;
    assert_eq!(
        header(from_app.headers(), "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(from_app.headers(), "vary").as_deref(),
        Some("Origin")
    );
    let from_elsewhere = call_service(&app, actual("https://evil.example")).await;
    assert_eq!(from_elsewhere.status(), StatusCode::OK);
    assert_eq!(
        header(from_elsewhere.headers(), "access-control-allow-origin"),
        None
    );
}

#[test]
fn cors_policies_are_checked_when_built() {
    use secure_api_runtime::cors::{Cors, CorsError};
    assert_eq!(
        Cors::allow_origins(["*"])
            .allow_credentials(true)
            .build()
            .err(),
        Some(CorsError::WildcardWithCredentials)
    );
    assert!(Cors::allow_origins(["app.example.com"]).build().is_err());
    assert!(
        Cors::allow_origins(["https://app.example.com/path"])
            .build()
            .is_err()
    );
    assert!(Cors::allow_origins(["*"]).build().is_ok());
}

#[test]
fn the_openapi_document_says_an_optional_token_is_optional() {
    let app = secure_app(&security());
    let spec: serde_json::Value = serde_json::from_str(&secure_api_runtime::openapi::to_json(
        &secure_api_runtime::openapi::document("tests", "1", &app.routes()),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let whoami = &spec["paths"]["/api/whoami"]["get"];
    assert_eq!(
        whoami["security"],
        serde_json::json!([{}, { "bearer": [] }])
    );
    assert!(whoami["responses"]["401"].is_object(), "{whoami}");
    assert_eq!(whoami["x-access"], "authenticated(optional)");
}
