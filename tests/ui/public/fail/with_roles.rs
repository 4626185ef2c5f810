use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[public]
#[roles(admin)]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
