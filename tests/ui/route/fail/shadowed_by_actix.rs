use actix_web::{get, post};
use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn reports(me: Principal) -> String {
    me.sub
}

#[post("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(admin)]
async fn create_report() -> &'static str {
    "created"
}

fn main() {}
