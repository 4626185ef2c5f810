use secure_api_runtime::prelude::*;

#[post("/api/webhooks/payment")]
#[registered(owner = "tests", lifecycle = production)]
#[webhook]
async fn payment() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

fn main() {}
