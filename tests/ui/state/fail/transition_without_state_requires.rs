use secure_api_runtime::prelude::*;
use secure_api_runtime::state::Transition;

#[derive(Clone, Copy, PartialEq, Eq, StateMachine)]
#[transitions(Draft => Validated)]
enum OrderState {
    Draft,
    Validated,
}

#[post("/api/orders/{order_id}/validate")]
#[registered(owner = "tests", lifecycle = production)]
#[authenticated]
#[owner(none, reason = "checked elsewhere")]
async fn validate(order_id: web::Path<String>, step: Transition<OrderState>) -> String {
    format!("{order_id}: {}", step.to == OrderState::Validated)
}

fn main() {}
