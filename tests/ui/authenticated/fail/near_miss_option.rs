use secure_api_runtime::prelude::*;

#[get("/api/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(optinal)]
async fn me(me: Option<Principal>) -> String {
    me.map(|me| me.sub).unwrap_or_default()
}

fn main() {}
