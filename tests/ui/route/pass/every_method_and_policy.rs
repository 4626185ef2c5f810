use secure_api_runtime::policy::{Access, OwnerRule, RoleRule};
use secure_api_runtime::prelude::*;

/// Documented handlers keep their docs.
#[get("/health")]
#[public]
pub async fn health() -> &'static str {
    "ok"
}

#[post("/api/reports")]
#[roles(any(admin, "report-writer"))]
async fn create_report(me: Principal) -> String {
    me.sub
}

#[put("/api/reports/{report_id}")]
#[roles(all(admin, auditor))]
async fn replace_report(report_id: web::Path<i64>) -> String {
    report_id.to_string()
}

#[patch("/api/me")]
#[authenticated]
async fn update_me() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[secure_api_runtime::get("/api/products/{product_id}")]
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
    assert_eq!(get_product.policy().owner, OwnerRule::Waived { reason: "products are a public catalogue" });
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security)
        .service(health)
        .service(create_report)
        .service(replace_report)
        .service(update_me)
        .service(get_product)
        .into_app();
}
