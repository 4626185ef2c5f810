use std::future::{Ready, ready};

use garde::Validate;
use secure_api_runtime::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[garde(length(min = 1, max = 64))]
    display_name: String,
}

// An alias of a checked body is still checked.
type Incoming = web::Json<Patch>;

/// The application's own extractor, vouched for with one impl.
struct Tenant(String);

impl actix_web::FromRequest for Tenant {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let tenant = req.headers().get("x-tenant").and_then(|v| v.to_str().ok());
        ready(tenant.map(|t| Tenant(t.to_owned())).ok_or_else(|| Problem::bad_request("no tenant")))
    }
}

impl secure_api_runtime::Argument for Tenant {}

#[patch("/api/users/{user_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(user_id)]
async fn update(
    req: HttpRequest,
    me: Principal,
    user_id: web::Path<String>,
    body: Incoming,
    page: PageRequest,
    tenant: Tenant,
    config: web::Data<String>,
) -> String {
    format!("{} {} {} {} {} {} {}", req.path(), me.sub, user_id, body.display_name, page.limit, tenant.0, config.as_str())
}

#[post("/api/forms")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn form(body: web::Form<Patch>, query: Option<web::Query<Patch>>) -> String {
    format!("{} {}", body.display_name, query.is_some())
}

// A raw body on a route that caps it, and on a signed webhook.
#[post("/api/notes")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit(body = "4KiB")]
async fn add_note(body: String) -> String {
    body
}

#[post("/hooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(secret = "PAYMENT")]
async fn payment(body: web::Bytes) -> String {
    body.len().to_string()
}

fn main() {
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
    let _app = SecureApp::new(security)
        .service(update)
        .service(form)
        .service(add_note)
        .service(payment);
}
