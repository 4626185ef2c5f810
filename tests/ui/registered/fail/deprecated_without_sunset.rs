use secure_api_runtime::prelude::*;

#[get("/api/v1/reports")]
#[registered(owner = "reporting", lifecycle = deprecated(successor = "/api/v2/reports"))]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
