use secure_api_runtime::prelude::*;

#[public]
#[actix_web::get("/health")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
