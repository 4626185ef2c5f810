use secure_api_runtime::prelude::*;

struct Order;

#[get("/api/orders/{order_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(none, resource = Order, reason = "orders are public")]
async fn get_order() -> &'static str {
    "order"
}

fn main() {}
