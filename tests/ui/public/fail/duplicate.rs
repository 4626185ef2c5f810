use secure_api_runtime::prelude::*;

#[get("/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[public]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
