use secure_api_runtime::prelude::*;

#[get("/api/search")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit("0/second")]
async fn search() -> &'static str {
    "results"
}

fn main() {}
