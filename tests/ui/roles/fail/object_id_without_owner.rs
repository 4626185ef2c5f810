use secure_api_runtime::prelude::*;

// A role says who may call the route, not whose invoice it is.
#[get("/api/invoices/{invoice_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[roles(user)]
async fn get_invoice(invoice_id: web::Path<i64>) -> String {
    format!("invoice {invoice_id}")
}

fn main() {}
