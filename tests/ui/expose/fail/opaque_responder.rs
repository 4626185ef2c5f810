use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn reports() -> impl Responder {
    "reports"
}

fn main() {}
