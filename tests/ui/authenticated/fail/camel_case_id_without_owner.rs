use secure_api_runtime::prelude::*;

#[get("/api/invoices/{invoiceId}")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn get_invoice(path: web::Path<i64>) -> String {
    format!("invoice {path}")
}

#[get("/api/users/{userID}/invoices")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn user_invoices(path: web::Path<i64>) -> String {
    format!("invoices of {path}")
}

fn main() {}
