use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
