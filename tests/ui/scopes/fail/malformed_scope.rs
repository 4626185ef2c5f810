use secure_api_runtime::prelude::*;

// Two scopes in one string: an OAuth2 scope holds no space.
#[get("/api/reports/orders")]
#[registered(owner = "tests", lifecycle = production)]
#[scopes("reports:read orders:read")]
async fn report() -> &'static str {
    "report"
}

fn main() {}
