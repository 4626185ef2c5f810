use secure_api_runtime::prelude::*;

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(usr_id)]
async fn get_user(user_id: web::Path<i64>) -> String {
    format!("user {user_id}")
}

fn main() {}
