use secure_api_runtime::prelude::*;

#[post("/api/admin/users")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(one_of(admin, support))]
async fn create_user() -> &'static str {
    "created"
}

fn main() {}
