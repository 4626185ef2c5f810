use secure_api_runtime::prelude::*;

#[post("/api/notes")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn add_note(body: String) -> String {
    body
}

fn main() {}
