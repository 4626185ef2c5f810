use secure_api_runtime::prelude::*;

#[get("/api/orders/{order_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
async fn get_order(order_id: web::Path<i64>) -> String {
    format!("order {order_id}")
}

fn main() {}
