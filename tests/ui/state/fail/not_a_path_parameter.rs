use std::borrow::Cow;

use secure_api_runtime::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, StateMachine)]
#[transitions(Draft => Validated, Validated => Executed)]
enum OrderState {
    Draft,
    Validated,
    Executed,
}

struct Order {
    owner_id: String,
    state: OrderState,
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

impl Stateful for Order {
    type State = OrderState;

    fn state(&self) -> OrderState {
        self.state
    }
}

#[post("/api/orders/{order_id}/execute")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[owner(order_id, resource = Order)]
#[state_requires(id, Order: Validated => Executed)]
async fn execute() -> &'static str {
    "executed"
}

fn main() {}
