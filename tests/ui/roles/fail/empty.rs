use secure_api_runtime::prelude::*;

#[post("/api/admin/users")]
#[roles()]
async fn create_user() -> &'static str {
    "created"
}

fn main() {}
