use secure_api_runtime::prelude::*;
use serde::Serialize;

#[derive(Serialize)]
struct User {
    id: i64,
    password_hash: String,
}

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
async fn get_user(user_id: web::Path<i64>) -> User {
    User { id: user_id.into_inner(), password_hash: String::new() }
}

fn main() {}
