use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, garde::Validate, Input)]
#[serde(deny_unknown_fields)]
struct UpdateMe {
    #[garde(length(min = 1, max = 64))]
    #[input(example = "Ada L.")]
    display_name: String,
}

#[patch("/api/users/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn update_me(body: web::Json<UpdateMe>) -> String {
    body.into_inner().display_name
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security).service(update_me).into_app();
}
