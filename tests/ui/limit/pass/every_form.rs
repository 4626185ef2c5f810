use secure_api_runtime::policy::{LimitKey, LimitRule, Quota};
use secure_api_runtime::prelude::*;

#[get("/login")]
#[registered(owner = "tests", lifecycle = production)]
#[public]
#[limit("20/minute")]
async fn login_page() -> &'static str {
    "form"
}

#[limit("30/minute; 5/second", key = ip_and_user, body = "64KiB", concurrency = 4)]
#[post("/api/upload")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn upload(body: String) -> String {
    body
}

#[get("/api/report")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[limit(concurrency = 2)]
async fn report() -> &'static str {
    "report"
}

fn main() {
    let login = login_page.policy().limit;
    assert_eq!(login.quotas, [Quota::per_minute(20)]);
    assert_eq!((login.key, login.body, login.concurrency), (LimitKey::Ip, None, None));
    let upload_limit = upload.policy().limit;
    assert_eq!(upload_limit.quotas, [Quota::per_minute(30), Quota::per_second(5)]);
    assert_eq!(
        (upload_limit.key, upload_limit.body, upload_limit.concurrency),
        (LimitKey::IpAndUser, Some(65_536), Some(4))
    );
    assert_eq!(report.policy().limit, LimitRule { concurrency: Some(2), key: LimitKey::User, ..LimitRule::NONE });
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security).service(login_page).service(upload).service(report).into_app();
}
