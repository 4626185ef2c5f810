use secure_api_runtime::policy::{Access, OwnerRule, RoleRule};
use secure_api_runtime::prelude::*;

/// Documented handlers keep their docs.
#[get("/health")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
pub async fn health() -> &'static str {
    "ok"
}

#[post("/api/reports")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(any(admin, "report-writer"))]
async fn create_report(me: Principal) -> String {
    me.sub
}

#[put("/api/reports/{report_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(all(admin, auditor))]
#[owner(none, reason = "reports belong to the organisation; admins who audit replace any")]
async fn replace_report(report_id: web::Path<i64>) -> String {
    report_id.to_string()
}

#[patch("/api/me")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn update_me() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[delete("/api/me/second-factor")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated(fresh)]
async fn remove_second_factor() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[post("/api/admin/keys")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(admin)]
#[authenticated(fresh)]
async fn rotate_keys() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[post("/api/webhooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[limit("100/minute", body = "64KiB")]
#[webhook(secret = "PAYMENT_WEBHOOK_SECRET")]
async fn payment_webhook() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

#[secure_api_runtime::get("/api/products/{product_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[secure_api_runtime::authenticated]
#[owner(none, reason = "products are a public catalogue")]
async fn get_product(product_id: web::Path<i64>) -> String {
    product_id.to_string()
}

fn main() {
    assert_eq!(health.policy().access, Access::Public);
    assert_eq!(create_report.policy().roles, RoleRule::Any(&["admin", "report-writer"]));
    assert_eq!(replace_report.policy().roles, RoleRule::All(&["admin", "auditor"]));
    assert_eq!(update_me.policy().owner, OwnerRule::None);
    assert_eq!(update_me.policy().access, Access::Authenticated);
    assert_eq!(remove_second_factor.policy().access, Access::FreshLogin);
    assert_eq!(rotate_keys.policy().access, Access::FreshLogin);
    assert_eq!(rotate_keys.policy().describe(), "authenticated(fresh) + roles(admin)");
    assert_eq!(payment_webhook.policy().access, Access::Webhook { secret: "PAYMENT_WEBHOOK_SECRET" });
    assert_eq!(payment_webhook.policy().describe(), "webhook(secret = PAYMENT_WEBHOOK_SECRET)");
    // A webhook has no user: its quotas count per client address.
    assert_eq!(payment_webhook.policy().limit.key, secure_api_runtime::policy::LimitKey::Ip);
    assert_eq!(get_product.policy().owner, OwnerRule::Waived { reason: "products are a public catalogue" });
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security)
        .service(health)
        .service(create_report)
        .service(replace_report)
        .service(update_me)
        .service(remove_second_factor)
        .service(rotate_keys)
        .service(payment_webhook)
        .service(get_product)
        .into_app();
}
