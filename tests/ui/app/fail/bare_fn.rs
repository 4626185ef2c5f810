use secure_api_runtime::prelude::*;

async fn health() -> &'static str {
    "ok"
}

fn main() {
    let security = SecurityConfig::from_env().expect("configuration");
    let _app = SecureApp::new(security).service(health);
}
