use secure_api_runtime::prelude::*;

// A public route has no token whose scopes could be checked.
#[get("/api/reports/orders")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[scopes("reports:read")]
async fn report() -> &'static str {
    "report"
}

fn main() {}
