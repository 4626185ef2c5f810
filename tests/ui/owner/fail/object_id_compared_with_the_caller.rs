use secure_api_runtime::prelude::*;

#[get("/api/loans/{loan_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(loan_id)]
async fn get_loan(loan_id: web::Path<i64>) -> String {
    loan_id.to_string()
}

fn main() {}
