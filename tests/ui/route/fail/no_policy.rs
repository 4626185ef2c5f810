use secure_api_runtime::prelude::*;

#[get("/api/reports")]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
