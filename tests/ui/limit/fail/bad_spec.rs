use secure_api_runtime::prelude::*;

#[get("/api/search")]
#[authenticated]
#[limit("30 per minute")]
async fn search() -> &'static str {
    "results"
}

fn main() {}
