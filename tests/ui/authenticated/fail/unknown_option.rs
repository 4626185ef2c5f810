use secure_api_runtime::prelude::*;

#[get("/api/me")]
#[authenticated(strict)]
async fn me() -> &'static str {
    "me"
}

fn main() {}
