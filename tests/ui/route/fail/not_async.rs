use secure_api_runtime::prelude::*;

#[get("/health")]
#[public]
fn health() -> &'static str {
    "ok"
}

fn main() {}
