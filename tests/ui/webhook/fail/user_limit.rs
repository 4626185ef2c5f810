use secure_api_runtime::prelude::*;

#[post("/api/webhooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(secret = "PAYMENT_WEBHOOK_SECRET")]
#[limit("100/minute", key = user)]
async fn payment() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

fn main() {}
