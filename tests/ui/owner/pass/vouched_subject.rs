use secure_api_runtime::policy::OwnerRule;
use secure_api_runtime::prelude::*;

/// An account id is the user's id in this application: the reason says so.
#[get("/api/accounts/{account_id}/settings")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(account_id, reason = "an account is its user: the token's subject is the account id")]
async fn settings(me: Principal) -> String {
    me.sub
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .expect("config");
    let app = SecureApp::new(security).service(settings);
    assert!(matches!(
        app.routes()[0].owner,
        OwnerRule::Subject { param: "account_id", .. }
    ));
}
