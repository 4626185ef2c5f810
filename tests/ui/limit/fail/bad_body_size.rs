use secure_api_runtime::prelude::*;

#[post("/api/upload")]
#[authenticated]
#[limit(body = "64 kilobytes")]
async fn upload(body: String) -> String {
    body
}

fn main() {}
