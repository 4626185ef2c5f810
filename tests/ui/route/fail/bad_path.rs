use secure_api_runtime::prelude::*;

#[get("/api/users/{user_id")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn get_user() -> &'static str {
    "someone"
}

fn main() {}
