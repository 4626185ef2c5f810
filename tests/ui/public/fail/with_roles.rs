use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[roles(admin)]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
