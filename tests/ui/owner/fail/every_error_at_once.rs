use secure_api_runtime::prelude::*;

// Every mistake of one attribute is reported in the same build.
#[get("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id, or_role(admin), resorce = User)]
async fn get_user(me: Principal) -> String {
    me.sub
}

fn main() {}
