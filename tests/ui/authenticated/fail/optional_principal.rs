use secure_api_runtime::prelude::*;

#[get("/api/greeting")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(optional)]
async fn greeting(me: Principal) -> String {
    format!("hello {}", me.sub)
}

fn main() {}
