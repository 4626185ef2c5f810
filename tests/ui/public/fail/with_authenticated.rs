use secure_api_runtime::prelude::*;

#[authenticated]
#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
