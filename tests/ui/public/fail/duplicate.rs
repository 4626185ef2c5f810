use secure_api_runtime::prelude::*;

#[get("/health")]
#[public]
#[public]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
