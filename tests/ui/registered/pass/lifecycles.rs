use secure_api_runtime::policy::Lifecycle;
use secure_api_runtime::prelude::*;

#[get("/api/v2/reports")]
#[registered(owner = "reporting", lifecycle = production)]
#[authenticated]
async fn reports() -> &'static str {
    "all the reports"
}

#[get("/api/v1/reports")]
#[registered(owner = "reporting", lifecycle = deprecated(sunset = "2028-02-29", successor = "/api/v2/reports"))]
#[authenticated]
async fn reports_v1() -> &'static str {
    "all the reports"
}

#[get("/api/v0/reports")]
#[authenticated]
#[registered(lifecycle = retired, owner = "reporting")]
async fn reports_v0() -> &'static str {
    "all the reports"
}

fn main() {
    assert_eq!(reports.policy().registration.owner, "reporting");
    assert_eq!(reports.policy().registration.lifecycle, Lifecycle::Production);
    assert_eq!(
        reports_v1.policy().registration.lifecycle,
        Lifecycle::Deprecated {
            since: None,
            sunset: "2028-02-29",
            successor: Some("/api/v2/reports"),
            deprecation_header: "@0",
            sunset_header: "Tue, 29 Feb 2028 00:00:00 GMT",
        }
    );
    assert_eq!(reports_v0.policy().registration.lifecycle, Lifecycle::Retired);
}
