//! Serves the same JSON from a secured route and from a bare actix route,
//! on two loopback ports, for `scripts/load-bench.sh`.
//!
//! `bench_server SECURED_PORT BARE_PORT [HEADERS_PORT]` prints a token for
//! user 42 on its first line of standard output, then serves until killed.
//! On `HEADERS_PORT`, the bare route answers with the security headers the
//! secured route sends, so the two differ only by the guard's work.
//!
//! `BENCH_OBSERVE=json` (or `text`) turns operating on: every audit event
//! written to standard error in that format, and the Prometheus recorder
//! installed, as an app run with `SECURE_API_LOG_FORMAT` and
//! `SECURE_API_METRICS_BIND` does.

use actix_web::dev::Service as _;
use actix_web::{App, HttpResponse};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::headers::SecurityHeaders;
use secure_api_runtime::observe::{Metrics, Telemetry};
use secure_api_runtime::policy::Quota;
use secure_api_runtime::prelude::*;
use secure_api_runtime::shared::{Shared, Unavailable};

const BODY: &str = r#"{"id":42,"username":"bench","display_name":"Bench User"}"#;

#[get("/api/users/{user_id}")]
#[registered(owner = "platform", lifecycle = production)]
#[roles(any(user, admin))]
#[owner(user_id)]
async fn secured(_user_id: web::Path<i64>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(BODY)
}

#[actix_web::get("/api/users/{user_id}")]
async fn bare(_user_id: web::Path<i64>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(BODY)
}

fn main() -> std::io::Result<()> {
    let mut ports = std::env::args().skip(1).map(|p| p.parse::<u16>());
    let (Some(Ok(secured_port)), Some(Ok(bare_port))) = (ports.next(), ports.next()) else {
        eprintln!("usage: bench_server SECURED_PORT BARE_PORT [HEADERS_PORT]");
        std::process::exit(2);
    };
    let headers_port = ports.next().and_then(Result::ok);
    let _logs = match std::env::var("BENCH_OBSERVE") {
        Ok(format) => {
            let telemetry = Telemetry::from_lookup(|name| {
                (name == "SECURE_API_LOG_FORMAT").then(|| format.clone())
            })
            .map_err(std::io::Error::other)?;
            Metrics::install().map_err(std::io::Error::other)?;
            Some(telemetry.init_logging())
        }
        Err(_) => None,
    };
    let workers = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let mut security = SecurityConfig::builder(Mode::Dev).key(JwtKey::hs256(
        b"load benchmark secret, at least 32 bytes".to_vec(),
    ));
    // `REDIS_URL` decides quotas in Redis, as a fleet would.
    if let Ok(url) = std::env::var("REDIS_URL") {
        security = security
            .shared(Shared::new(&url, Unavailable::FailClosed).map_err(std::io::Error::other)?);
    }
    let security = security.build().map_err(std::io::Error::other)?;
    // `BENCH_QUOTA=N` counts every request against a quota of N a second
    // per user (high enough never to refuse), so the limiter is on the path.
    let quota: Vec<Quota> = std::env::var("BENCH_QUOTA")
        .ok()
        .and_then(|n| n.parse().ok())
        .map(|n| vec![Quota::per_second(n)])
        .unwrap_or_default();
    let token = security
        .issue_access_token("42", &["user".to_owned()])
        .map_err(std::io::Error::other)?;
    println!("{}", token.token);
    actix_web::rt::System::new().block_on(async move {
        let secured_server = HttpServer::new(move || {
            SecureApp::new(security.clone())
                .default_limit(&quota)
                .service(secured)
                .into_app()
        })
        .workers(workers)
        .bind(("127.0.0.1", secured_port))?
        .run();
        let bare_server = HttpServer::new(|| App::new().service(bare))
            .workers(workers)
            .bind(("127.0.0.1", bare_port))?
            .run();
        let bare_server = actix_web::rt::spawn(bare_server);
        if let Some(port) = headers_port {
            let with_headers = HttpServer::new(|| {
                App::new()
                    .wrap_fn(|req, service| {
                        let answer = service.call(req);
                        async move {
                            let mut answer = answer.await?;
                            SecurityHeaders::default().apply(answer.headers_mut(), false);
                            Ok(answer)
                        }
                    })
                    .service(bare)
            })
            .workers(workers)
            .bind(("127.0.0.1", port))?
            .run();
            actix_web::rt::spawn(with_headers);
        }
        secured_server.await?;
        bare_server.await.map_err(std::io::Error::other)?
    })
}
