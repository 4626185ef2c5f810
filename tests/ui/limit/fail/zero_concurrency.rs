use secure_api_runtime::prelude::*;

#[get("/api/report")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit(concurrency = 0)]
async fn report() -> &'static str {
    "report"
}

fn main() {}
