use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[authenticated]
async fn reports() -> impl Responder {
    "reports"
}

fn main() {}
