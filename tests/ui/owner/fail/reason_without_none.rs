use secure_api_runtime::prelude::*;

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id, reason = "users may read themselves")]
async fn get_user(user_id: web::Path<i64>) -> String {
    format!("user {user_id}")
}

fn main() {}
