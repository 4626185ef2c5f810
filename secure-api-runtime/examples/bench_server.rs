//! Serves the same JSON from a secured route and from a bare actix route,
//! on two loopback ports, for `scripts/load-bench.sh`.
//!
//! `bench_server SECURED_PORT BARE_PORT` prints a token for user 42 on its
//! first line of standard output, then serves until killed.

use actix_web::{App, HttpResponse};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;

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
        eprintln!("usage: bench_server SECURED_PORT BARE_PORT");
        std::process::exit(2);
    };
    let workers = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let security = SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"load benchmark secret, at least 32 bytes".to_vec(),
        ))
        .build()
        .map_err(std::io::Error::other)?;
    let token = security
        .issue_access_token("42", &["user".to_owned()])
        .map_err(std::io::Error::other)?;
    println!("{}", token.token);
    actix_web::rt::System::new().block_on(async move {
        let secured_server =
            HttpServer::new(move || SecureApp::new(security.clone()).service(secured).into_app())
                .workers(workers)
                .bind(("127.0.0.1", secured_port))?
                .run();
        let bare_server = HttpServer::new(|| App::new().service(bare))
            .workers(workers)
            .bind(("127.0.0.1", bare_port))?
            .run();
        let bare_server = actix_web::rt::spawn(bare_server);
        secured_server.await?;
        bare_server.await.map_err(std::io::Error::other)?
    })
}
