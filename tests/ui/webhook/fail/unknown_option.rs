use secure_api_runtime::prelude::*;

#[post("/api/webhooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(key = "PAYMENT_WEBHOOK_SECRET")]
async fn payment() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

fn main() {}
