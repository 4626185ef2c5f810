use secure_api_runtime::prelude::*;

#[get("/api/search")]
#[authenticated]
#[limit()]
async fn search() -> &'static str {
    "results"
}

fn main() {}
