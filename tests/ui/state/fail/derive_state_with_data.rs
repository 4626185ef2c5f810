use secure_api_runtime::prelude::*;

#[derive(Clone, Copy, StateMachine)]
#[transitions(Draft => Paid)]
enum OrderState {
    Draft,
    Paid(u64),
}

fn main() {}
