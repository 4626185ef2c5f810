use secure_api_runtime::prelude::*;

#[get("/api/greeting")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
async fn greeting(me: Option<Principal>) -> String {
    me.map_or_else(|| "hello".to_owned(), |me| format!("hello {}", me.sub))
}

fn main() {}
