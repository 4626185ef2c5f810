use secure_api_runtime::prelude::*;

#[post("/api/webhooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook(secrte = "PAYMENT_WEBHOOK_SECRET")]
async fn payment(body: web::Bytes) -> &'static str {
    let _ = body;
    "ok"
}

fn main() {}
