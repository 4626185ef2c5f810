use secure_api_runtime::prelude::*;

#[patch("/api/users/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn update_me(body: web::Json<serde_json::Value>) -> String {
    body.to_string()
}

fn main() {}
