use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
