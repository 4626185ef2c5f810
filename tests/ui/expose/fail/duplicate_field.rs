use secure_api_runtime::prelude::*;

struct User {
    id: i64,
}

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
#[expose(id, id)]
async fn get_user(user_id: web::Path<i64>) -> User {
    User { id: user_id.into_inner() }
}

fn main() {}
