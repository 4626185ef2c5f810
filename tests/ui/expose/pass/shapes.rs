use secure_api_runtime::prelude::*;
use serde::Serialize;

struct User {
    id: i64,
    username: String,
    #[allow(dead_code)]
    password_hash: String,
}

fn user(id: i64) -> User {
    User { id, username: format!("user{id}"), password_hash: "never sent".to_owned() }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

impl SerializeWhole for Health {}

#[get("/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
#[expose(id, username)]
async fn one(user_id: web::Path<i64>) -> User {
    user(user_id.into_inner())
}

#[get("/api/users")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(admin)]
#[expose(id, username)]
async fn many() -> Vec<User> {
    vec![user(1), user(2)]
}

#[get("/api/users/{user_id}/maybe")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
#[expose(id)]
async fn maybe(user_id: web::Path<i64>) -> Result<Option<User>, Problem> {
    Ok(Some(user(user_id.into_inner())))
}

#[get("/api/users/page")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(admin)]
#[expose(id, username)]
async fn page() -> Page<User> {
    Page { items: vec![user(3)], limit: 50, offset: 0, has_more: false }
}

#[post("/api/users")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(admin)]
#[expose(id)]
async fn create() -> Result<Created<User>, Problem> {
    Ok(Created(user(4)))
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security)
        .service(health)
        .service(one)
        .service(many)
        .service(maybe)
        .service(page)
        .service(create)
        .into_app();
}
