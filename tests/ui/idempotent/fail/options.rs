use secure_api_runtime::prelude::*;

#[post("/api/payments")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[idempotent(ttl = 60)]
async fn pay() -> &'static str {
    "paid"
}

fn main() {}
