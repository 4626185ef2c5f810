use secure_api_runtime::prelude::*;

#[post("/api/webhooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(secret = "PAYMENT_WEBHOOK_SECRET")]
#[authenticated]
async fn payment() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

fn main() {}
