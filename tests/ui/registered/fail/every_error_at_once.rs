use secure_api_runtime::prelude::*;

// Every mistake of one attribute is reported in the same build.
#[get("/api/reports")]
#[registered(ownr = "tests", lifecycle = deprecated(sunst = "2027-06-30", since = "2027-02-30"))]
#[public]
async fn reports() -> &'static str {
    "reports"
}

fn main() {}
