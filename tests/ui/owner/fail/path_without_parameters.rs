use secure_api_runtime::prelude::*;

#[get("/api/users")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
async fn list_users() -> &'static str {
    "users"
}

fn main() {}
