use secure_api_runtime::prelude::*;

#[post("/api/me/password")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(fresh, fresh)]
async fn change_password() -> &'static str {
    "changed"
}

fn main() {}
