use secure_api_runtime::prelude::*;

#[get("/health")]
#[public(always)]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
