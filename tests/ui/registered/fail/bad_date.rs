use secure_api_runtime::prelude::*;

#[get("/api/v1/reports")]
#[registered(owner = "reporting", lifecycle = deprecated(sunset = "2027-02-30"))]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
