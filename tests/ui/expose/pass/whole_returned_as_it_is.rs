use secure_api_runtime::prelude::*;
use serde::Serialize;

/// Every field of it may leave the server.
#[derive(Serialize)]
struct Health {
    status: &'static str,
}

impl SerializeWhole for Health {}

/// Returned as it is, without `web::Json`: answered as JSON.
#[get("/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn health() -> Health {
    Health { status: "ok" }
}

/// And inside an `Option` or a `Result`.
#[get("/health/deep")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn deep_health() -> Result<Option<Health>, Problem> {
    Ok(Some(Health { status: "ok" }))
}

/// `()` is answered 204.
#[post("/api/pings")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn ping() {}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .expect("config");
    let app = SecureApp::new(security)
        .service(health)
        .service(deep_health)
        .service(ping);
    assert_eq!(app.routes().len(), 3);
}
