use secure_api_runtime::prelude::*;

// Any or all of them? The list does not say.
#[get("/api/reports/orders")]
#[registered(owner = "tests", lifecycle = production)]
#[scopes("reports:read", "orders:read")]
async fn report() -> &'static str {
    "report"
}

fn main() {}
