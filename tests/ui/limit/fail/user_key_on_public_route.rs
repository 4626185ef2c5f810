use secure_api_runtime::prelude::*;

#[get("/api/catalogue")]
#[public]
#[limit("30/minute", key = user)]
async fn catalogue() -> &'static str {
    "items"
}

fn main() {}
