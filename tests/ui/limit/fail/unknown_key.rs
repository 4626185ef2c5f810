use secure_api_runtime::prelude::*;

#[get("/api/search")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit("30/minute", key = usr)]
async fn search() -> &'static str {
    "results"
}

fn main() {}
