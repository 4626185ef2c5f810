use secure_api_runtime::prelude::*;

#[get]
#[public]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
