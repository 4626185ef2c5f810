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
#[owner(order_id, resource = Order)]
#[state_requires(order_id, Order: Validated => Executed)]
async fn execute(order: Checked<Order>, transition: Transition<OrderState>) -> String {
    format!("{} moves {} -> {}", order.owner_id, transition.from.name(), transition.to.name())
}

fn main() {
    let rule = execute.policy().state.expect("a state rule");
    assert_eq!((rule.param, rule.resource, rule.from, rule.to), ("order_id", "Order", "Validated", "Executed"));
    assert!(OrderState::can_move(OrderState::Validated, OrderState::Executed));
    assert!(OrderState::from_name("executed") == Some(OrderState::Executed));
    let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("configuration");
    let _ = SecureApp::new(security).service(execute).into_app();
}
