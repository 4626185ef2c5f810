use actix_web::web::Json as Body;
use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Patch {
    display_name: String,
}

#[patch("/api/users/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn update(_me: Principal, body: Body<Patch>) -> String {
    body.into_inner().display_name
}

fn main() {}
