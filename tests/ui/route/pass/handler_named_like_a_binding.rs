use secure_api_runtime::prelude::*;

/// `GET /api/me`, in a handler called `me`.
#[get("/api/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn me(me: Principal) -> String {
    me.sub
}

/// Another handler of the module binds the caller as `me`, as the README
/// writes it: the handler's name does not capture the binding.
#[get("/api/greeting")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn greeting(me: Principal) -> String {
    let me = format!("hello {}", me.sub);
    me
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .expect("config");
    let app = SecureApp::new(security).service(me).service(greeting);
    let paths: Vec<_> = app.routes().iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/me", "/api/greeting"]);
}
