use secure_api_runtime::prelude::*;

#[get("/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
fn health() -> &'static str {
    "ok"
}

fn main() {}
