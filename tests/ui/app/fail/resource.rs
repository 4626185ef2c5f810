use secure_api_runtime::prelude::*;

fn main() {
    let security = SecurityConfig::from_env().expect("configuration");
    let health = web::resource("/health").to(|| async { "ok" });
    let _app = SecureApp::new(security).service(health);
}
