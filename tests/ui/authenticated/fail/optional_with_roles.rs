use secure_api_runtime::prelude::*;

#[get("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(optional)]
#[roles(admin)]
async fn reports(me: Option<Principal>) -> String {
    me.map(|me| me.sub).unwrap_or_default()
}

fn main() {}
