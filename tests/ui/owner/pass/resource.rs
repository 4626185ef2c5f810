use std::borrow::Cow;

use secure_api_runtime::policy::OwnerRule;
use secure_api_runtime::prelude::*;

struct Order {
    id: i64,
    owner_id: i64,
}

impl Owned for Order {
    type Source = ();

    async fn load(id: &str, _source: &()) -> Result<Option<Self>, Problem> {
        Ok(id.parse().ok().map(|id| Order { id, owner_id: 7 }))
    }

    fn owner(&self) -> Cow<'_, str> {
        Cow::Owned(self.owner_id.to_string())
    }
}

#[post("/api/orders/{order_id}/validate")]
#[registered(owner = "tests", lifecycle = production)]
#[owner(order_id, resource = Order, or_roles(support))]
async fn validate(order: Checked<Order>) -> String {
    format!("order {} validated", order.id)
}

fn main() {
    assert_eq!(
        validate.policy().owner,
        OwnerRule::Resource { param: "order_id", resource: "Order", or_roles: &["support"] }
    );
    assert_eq!(validate.policy().describe(), "owner(order_id, resource = Order, or_roles(support))");
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security).service(validate).into_app();
}
