use secure_api_runtime::prelude::*;

#[get("/api/products/{product_id}")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(none)]
async fn get_product(product_id: web::Path<i64>) -> String {
    format!("product {product_id}")
}

fn main() {}
