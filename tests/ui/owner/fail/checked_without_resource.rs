use std::borrow::Cow;

use secure_api_runtime::prelude::*;

struct Order {
    owner_id: String,
}

impl Owned for Order {
    type Source = ();

    async fn load(_id: &str, _source: &()) -> Result<Option<Self>, Problem> {
        Ok(None)
    }

    fn owner(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.owner_id)
    }
}

#[post("/api/orders/{order_id}/validate")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(order_id)]
async fn validate(order: Checked<Order>) -> String {
    order.owner_id.clone()
}

fn main() {}
