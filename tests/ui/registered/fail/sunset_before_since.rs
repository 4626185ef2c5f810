use secure_api_runtime::prelude::*;

#[get("/api/v1/reports")]
#[registered(owner = "reporting", lifecycle = deprecated(since = "2027-07-01", sunset = "2027-06-30"))]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

fn main() {}
