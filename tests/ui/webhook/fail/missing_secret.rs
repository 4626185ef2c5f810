use secure_api_runtime::prelude::*;

#[post("/api/webhooks/payment")]
#[webhook]
async fn payment() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

fn main() {}
