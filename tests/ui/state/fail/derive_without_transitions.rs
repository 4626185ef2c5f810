use secure_api_runtime::prelude::*;

#[derive(Clone, Copy, StateMachine)]
enum OrderState {
    Draft,
    Validated,
}

fn main() {}
