use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct UpdateMe {
    display_name: String,
}

#[patch("/api/users/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn update_me(body: web::Json<UpdateMe>) -> String {
    body.into_inner().display_name
}

fn main() {}
