//! A library's loans: anyone may check the service is up, a signed-in
//! reader borrows a book, and only its borrower may see a loan.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use garde::Validate;
use secure_api_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize)]
struct Loan {
    id: u64,
    title: String,
    borrower: String,
}

#[derive(Default)]
struct Loans(Mutex<HashMap<u64, Loan>>);

impl Owned for Loan {
    type Source = web::Data<Loans>;

    async fn load(id: &str, loans: &web::Data<Loans>) -> Result<Option<Self>, Problem> {
        let Ok(id) = id.parse::<u64>() else {
            return Ok(None);
        };
        let loans = loans.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(loans.get(&id).cloned())
    }

    fn owner(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.borrower)
    }
}

#[derive(Deserialize, Validate, Input)]
#[serde(deny_unknown_fields)]
struct Borrow {
    #[garde(length(chars, min = 1, max = 200))]
    title: String,
}

#[get("/health")]
#[registered(owner = "library", lifecycle = production)]
#[public]
async fn health() -> &'static str {
    "ok"
}

#[post("/api/loans")]
#[registered(owner = "library", lifecycle = production)]
#[authenticated]
#[limit("30/minute", body = "4KiB")]
#[expose(id, title)]
async fn borrow_book(
    body: web::Json<Borrow>,
    me: Principal,
    loans: web::Data<Loans>,
) -> Created<Loan> {
    let mut loans = loans.0.lock().unwrap_or_else(PoisonError::into_inner);
    let id = loans.len() as u64 + 1;
    let loan = Loan {
        id,
        title: body.into_inner().title,
        borrower: me.sub,
    };
    loans.insert(id, loan.clone());
    Created(loan)
}

#[get("/api/loans/{loan_id}")]
#[registered(owner = "library", lifecycle = production)]
#[owner(loan_id, resource = Loan)]
#[expose(id, title)]
async fn show_loan(loan: Checked<Loan>) -> Loan {
    loan.into_inner()
}

fn app(security: SecurityConfig, loans: web::Data<Loans>) -> SecureApp {
    SecureApp::new(security)
        .app_data(loans)
        .service(health)
        .service(borrow_book)
        .service(show_loan)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let security = SecurityConfig::from_env().map_err(std::io::Error::other)?;
    let loans = web::Data::new(Loans::default());
    HttpServer::new(move || app(security.clone(), loans.clone()).into_app())
        .bind(("127.0.0.1", 8080))?
        .run()
        .await
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
    use serde_json::{Value, json};

    use super::*;

    #[actix_web::test]
    async fn a_reader_sees_their_own_loan_and_nobody_elses() {
        let security = SecurityConfig::builder(Mode::Dev)
            .generated_key()
            .build()
            .expect("config");
        let loans = web::Data::new(Loans::default());
        let app = init_service(app(security.clone(), loans).into_app()).await;
        let bearer = |sub: &str| {
            let token = security
                .issue_access_token(sub, &[])
                .expect("a token")
                .token;
            ("authorization", format!("Bearer {token}"))
        };

        let borrow = TestRequest::post()
            .uri("/api/loans")
            .insert_header(bearer("ada"));
        let created = call_service(
            &app,
            borrow.set_json(json!({ "title": "Dune" })).to_request(),
        )
        .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        // Only the exposed fields: the borrower stays on the server.
        let body: Value = read_body_json(created).await;
        assert_eq!(body, json!({ "id": 1, "title": "Dune" }));

        let get = |sub: &str| {
            TestRequest::get()
                .uri("/api/loans/1")
                .insert_header(bearer(sub))
        };
        assert_eq!(
            call_service(&app, get("ada").to_request()).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            call_service(&app, get("bob").to_request()).await.status(),
            StatusCode::NOT_FOUND
        );
        let anonymous = TestRequest::get().uri("/api/loans/1").to_request();
        assert_eq!(
            call_service(&app, anonymous).await.status(),
            StatusCode::UNAUTHORIZED
        );

        let unknown_field = TestRequest::post()
            .uri("/api/loans")
            .insert_header(bearer("ada"));
        let refused = unknown_field.set_json(json!({ "title": "Dune", "borrower": "bob" }));
        assert_eq!(
            call_service(&app, refused.to_request()).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
