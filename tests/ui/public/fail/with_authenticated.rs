use secure_api_runtime::prelude::*;

#[authenticated]
#[get("/api/reports")]
#[public]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
