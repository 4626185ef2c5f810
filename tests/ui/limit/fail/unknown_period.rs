use secure_api_runtime::prelude::*;

#[get("/api/search")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit("30/minutes")]
async fn search() -> &'static str {
    "results"
}

fn main() {}
