use secure_api_runtime::prelude::*;

#[post("/api/upload")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit(body = "1KB")]
async fn upload(body: String) -> String {
    body
}

fn main() {}
