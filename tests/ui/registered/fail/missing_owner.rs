use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(lifecycle = production)]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
