use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(owner = "reporting", lifecycle = prod)]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
