use secure_api_runtime::prelude::*;

#[get("/api/catalogue")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[limit("30/minute", key = user)]
async fn catalogue() -> &'static str {
    "items"
}

fn main() {}
