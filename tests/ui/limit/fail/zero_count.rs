use secure_api_runtime::prelude::*;

#[get("/api/search")]
#[authenticated]
#[limit("0/second")]
async fn search() -> &'static str {
    "results"
}

fn main() {}
