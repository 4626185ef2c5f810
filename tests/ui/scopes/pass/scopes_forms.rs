use secure_api_runtime::policy::RoleRule;
use secure_api_runtime::prelude::*;

#[get("/api/reports/orders")]
#[registered(owner = "tests", lifecycle = production)]
#[scopes("reports:read")]
async fn one() -> &'static str {
    "one"
}

#[get("/api/reports/any")]
#[registered(owner = "tests", lifecycle = production)]
#[scopes(any("reports:read", "reports:admin"))]
async fn either() -> &'static str {
    "either"
}

#[get("/api/reports/all")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(auditor)]
#[scopes(all("reports:read", openid))]
async fn both() -> &'static str {
    "both"
}

fn main() {
    assert_eq!(one.policy().scopes, RoleRule::Any(&["reports:read"]));
    assert_eq!(
        either.policy().scopes,
        RoleRule::Any(&["reports:read", "reports:admin"])
    );
    assert_eq!(both.policy().scopes, RoleRule::All(&["reports:read", "openid"]));
    assert_eq!(both.policy().describe(), "roles(auditor) + scopes(all(reports:read, openid))");
}
