//! `#[owner(.., resource = T)]` through actix: the object is loaded from
//! `T::Source`, found in the application data by its type; someone else's
//! object and a missing one answer 404, and a missing source a 500 whose log
//! names the type to register.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::prelude::*;

mod support;

struct Loan {
    id: i64,
    borrower: String,
}

/// The loans, by id: their borrowers.
struct Loans(HashMap<i64, &'static str>);

impl Owned for Loan {
    type Source = web::Data<Loans>;

    async fn load(id: &str, loans: &web::Data<Loans>) -> Result<Option<Self>, Problem> {
        let Ok(id) = id.parse() else { return Ok(None) };
        Ok(loans.0.get(&id).map(|borrower| Loan {
            id,
            borrower: (*borrower).to_owned(),
        }))
    }

    fn owner(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.borrower)
    }
}

#[get("/api/loans/{loan_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(loan_id, resource = Loan)]
async fn loan(loan: Checked<Loan>) -> String {
    format!("loan {}", loan.id)
}

fn security() -> SecurityConfig {
    SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"owned tests secret, 32 bytes long!".to_vec(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn get(security: &SecurityConfig, uri: &str, sub: &str) -> actix_http::Request {
    let token = security
        .issue_access_token(sub, &[])
        .map(|t| t.token)
        .unwrap_or_default();
    TestRequest::get()
        .uri(uri)
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_request()
}

#[actix_web::test]
async fn the_object_is_loaded_from_its_source_and_must_belong_to_the_caller() {
    let security = security();
    let loans = web::Data::new(Loans(HashMap::from([(1, "ada"), (2, "bob")])));
    let app = init_service(
        SecureApp::new(security.clone())
            .app_data(loans)
            .service(loan)
            .into_app(),
    )
    .await;
    let own = call_service(&app, get(&security, "/api/loans/1", "ada")).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(read_body(own).await, "loan 1");
    for uri in ["/api/loans/2", "/api/loans/3", "/api/loans/x"] {
        let refused = call_service(&app, get(&security, uri, "ada")).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{uri}");
    }
}

#[actix_web::test]
async fn a_source_not_registered_is_a_500_whose_log_names_its_type() {
    let log = support::Log::default();
    let _logging = log.capture();
    let security = security();
    let app = init_service(SecureApp::new(security.clone()).service(loan).into_app()).await;
    let response = call_service(&app, get(&security, "/api/loans/1", "ada")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = read_body(response).await;
    assert!(
        !String::from_utf8_lossy(&body).contains("Loans"),
        "the client is told nothing"
    );
    let text = log.text();
    assert!(
        text.contains("actix_web::data::Data<owned::Loans>") && text.contains(".app_data("),
        "{text}"
    );
}
