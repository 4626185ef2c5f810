use secure_api_runtime::prelude::*;

#[post("/api/admin/users")]
#[roles(admin)]
#[roles(support)]
async fn create_user() -> &'static str {
    "created"
}

fn main() {}
