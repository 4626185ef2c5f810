use secure_api_runtime::prelude::*;

struct Order;

#[post("/api/orders/{order_id}/validate")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(order_id, resource = Order)]
async fn validate() -> &'static str {
    "validated"
}

fn main() {}
