//! An application that declares its roles cannot be built with a route that
//! asks for another one (a typo in `#[roles]` or `or_roles`), whichever is
//! written first; one that declares none is not checked.

use secure_api_runtime::prelude::*;

#[post("/api/admin/users")]
#[registered(owner = "accounts", lifecycle = production)]
#[roles(amdin)]
async fn misspelt() -> &'static str {
    "created"
}

#[get("/api/users/{user_id}")]
#[registered(owner = "accounts", lifecycle = production)]
#[owner(user_id, or_roles(suport))]
async fn profile(user_id: web::Path<i64>) -> String {
    user_id.to_string()
}

#[post("/api/admin/reports")]
#[registered(owner = "accounts", lifecycle = production)]
#[roles(all(admin, auditor))]
async fn report() -> &'static str {
    "done"
}

fn app() -> SecureApp {
    let security = SecurityConfig::builder(Mode::Dev)
        .generated_key()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    SecureApp::new(security)
}

#[test]
#[should_panic(
    expected = "the route POST /api/admin/users (misspelt) asks for the role `amdin`, which the application does not declare (declared: admin, user); did you mean `admin`?"
)]
fn a_misspelt_role_on_a_route_mounted_after_the_declaration_stops_the_build() {
    let _ = app().roles(&["admin", "user"]).service(misspelt);
}

#[test]
#[should_panic(
    expected = "asks for the role `suport`, which the application does not declare (declared: admin, support); did you mean `support`?"
)]
fn an_or_roles_typo_on_a_route_mounted_before_the_declaration_stops_the_build() {
    let _ = app().service(profile).roles(&["admin", "support"]);
}

#[test]
#[should_panic(
    expected = "asks for the role `auditor`, which the application does not declare (declared: admin)"
)]
fn every_role_of_an_all_rule_must_be_declared() {
    let _ = app().roles(&["admin"]).service(report);
}

#[test]
fn declared_roles_pass_and_an_app_that_declares_none_is_not_checked() {
    let app = app().roles(&["admin", "auditor"]).service(report);
    assert_eq!(app.routes().len(), 1);
    let unchecked = self::app().service(misspelt).service(profile);
    assert_eq!(unchecked.declared_roles(), None);
    assert_eq!(unchecked.routes().len(), 2);
}
