use std::borrow::Cow;

use secure_api_runtime::prelude::*;

struct Order {
    owner_id: String,
}

struct Invoice {
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
#[owner(order_id, resource = Order)]
async fn validate(invoice: Checked<Invoice>) -> String {
    invoice.owner_id.clone()
}

fn main() {}
