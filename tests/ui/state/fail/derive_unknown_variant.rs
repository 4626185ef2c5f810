use secure_api_runtime::prelude::*;

#[derive(Clone, Copy, StateMachine)]
#[transitions(Draft => Validatd)]
enum OrderState {
    Draft,
    Validated,
}

fn main() {}
