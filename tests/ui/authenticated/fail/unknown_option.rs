use secure_api_runtime::prelude::*;

#[get("/api/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(strict)]
async fn me() -> &'static str {
    "me"
}

fn main() {}
