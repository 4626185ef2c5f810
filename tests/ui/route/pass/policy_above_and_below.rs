use secure_api_runtime::prelude::*;

#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
async fn below(user_id: web::Path<i64>, me: Principal) -> String {
    format!("{user_id} {}", me.sub)
}

#[owner(user_id)]
#[registered(owner = "tests", lifecycle = production)]
#[get("/api/v2/users/{user_id}")]
async fn above(user_id: web::Path<i64>) -> String {
    format!("{user_id}")
}

#[roles(admin)]
#[delete("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id, or_roles(admin, support))]
async fn between(user_id: web::Path<i64>) -> String {
    format!("{user_id}")
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let app = SecureApp::new(security).service(below).service(above).service(between);
    let paths: Vec<&str> = app.routes().iter().map(|p| p.path).collect();
    assert_eq!(paths, ["/api/users/{user_id}", "/api/v2/users/{user_id}", "/api/users/{user_id}"]);
    let _ = app.into_app();
}
