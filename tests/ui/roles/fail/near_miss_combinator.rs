use secure_api_runtime::prelude::*;

#[post("/api/admin/users")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(alll(admin, support))]
async fn create_user() -> &'static str {
    "created"
}

fn main() {}
