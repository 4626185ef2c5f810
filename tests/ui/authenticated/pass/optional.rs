use secure_api_runtime::prelude::*;

/// Serves everyone, and greets a caller with a token by name.
#[get("/api/greeting")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(optional)]
async fn greeting(me: Option<Principal>) -> String {
    me.map_or_else(|| "hello".to_owned(), |me| format!("hello {}", me.sub))
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .expect("config");
    let app = SecureApp::new(security).service(greeting);
    assert_eq!(app.routes()[0].describe(), "authenticated(optional)");
}
