//! Business state (OWASP API6): `#[derive(StateMachine)]` declares an enum's
//! transitions, and `#[state_requires(order_id, Order: Validated => Executed)]`
//! refuses (409) a request whose object is not in the starting state, before
//! the body is parsed (an idempotent route has read it, within its cap, to
//! recognise a replay, which is answered before this check). Unknown states and undeclared transitions do not
//! compile. The handler receives the [`Transition`] to apply with a
//! compare-and-set in its store, so two racing requests cannot both move the
//! object.

use std::future::{Ready, ready};
use std::ops::Deref as _;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

use crate::guard::exchange::{Exchange, Step};
use crate::owned::{Checked, Owned};
use crate::problem::{Problem, Refusal};

/// An enum of states with declared transitions. Derive it:
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, StateMachine)]
/// #[transitions(Draft => Validated, Validated => Executed)]
/// enum OrderState {
///     Draft,
///     Validated,
///     Executed,
/// }
///
/// use secure_api_runtime::state::StateMachine as _;
/// assert!(OrderState::can_move(OrderState::Draft, OrderState::Validated));
/// assert!(!OrderState::can_move(OrderState::Draft, OrderState::Executed));
/// assert_eq!(OrderState::Validated.name(), "validated");
/// ```
pub trait StateMachine: Copy + 'static {
    /// The variants, as written.
    const VARIANTS: &'static [&'static str];
    /// The states' names in `snake_case`, for storage and JSON.
    const NAMES: &'static [&'static str];
    /// The declared transitions, as indices into `VARIANTS`.
    const TRANSITIONS: &'static [(usize, usize)];

    /// This state's index into `VARIANTS`.
    fn index(self) -> usize;

    /// The state at `index`.
    fn from_index(index: usize) -> Option<Self>;

    /// This state's `snake_case` name.
    fn name(self) -> &'static str {
        Self::NAMES.get(self.index()).copied().unwrap_or_default()
    }

    /// The state named `name` (`snake_case`).
    fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(Self::from_index)
    }

    /// Whether `from => to` is declared.
    fn can_move(from: Self, to: Self) -> bool {
        transition_declared(Self::TRANSITIONS, from.index(), to.index())
    }
}

/// An object with a business state.
pub trait Stateful {
    /// Its state machine.
    type State: StateMachine;
    /// Its current state.
    fn state(&self) -> Self::State;
}

/// The transition a `#[state_requires]` route performs, checked against the
/// object's current state before the handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition<S> {
    /// The state the object is in.
    pub from: S,
    /// The state the route moves it to.
    pub to: S,
}

impl<S: StateMachine> FromRequest for Transition<S> {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Transition<S>>().copied().ok_or_else(|| {
            tracing::error!(target: "secure_api", path = req.path(), "a `Transition` argument without `#[state_requires]`");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        }))
    }
}

pub use crate::policy::StateRule;

/// The index of `name` in `names`. Used at compile time by generated code.
pub const fn state_index(names: &[&str], name: &str) -> Option<usize> {
    let mut i = 0;
    while i < names.len() {
        if str_eq(names[i], name) {
            return Some(i);
        }
        i += 1;
    }
    None
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `from => to` is among `transitions`. Used at compile time by
/// generated code.
pub const fn transition_declared(transitions: &[(usize, usize)], from: usize, to: usize) -> bool {
    let mut i = 0;
    while i < transitions.len() {
        if transitions[i].0 == from && transitions[i].1 == to {
            return true;
        }
        i += 1;
    }
    false
}

pub use crate::policy::CheckState;

/// Passes when the checked `T` of this request is in `rule.from`, and hands
/// the handler its [`Transition`]; 409 otherwise.
pub fn check_state<T: Owned + Stateful>(
    req: &HttpRequest,
    rule: &'static StateRule,
) -> Result<(), Problem> {
    let states = (
        state_index(T::State::VARIANTS, rule.from).and_then(T::State::from_index),
        state_index(T::State::VARIANTS, rule.to).and_then(T::State::from_index),
    );
    let (Some(from), Some(to)) = states else {
        return Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let current = match req.extensions().get::<Checked<T>>() {
        Some(object) => object.deref().state(),
        None => return Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR)),
    };
    if current.index() != from.index() {
        return Err(Problem::new(StatusCode::CONFLICT).with_detail(format!(
            "the {} is `{}`; this needs `{}`",
            rule.resource.to_lowercase(),
            current.name(),
            from.name()
        )));
    }
    req.extensions_mut().insert(Transition { from, to });
    Ok(())
}

/// Step: `#[state_requires(..)]`: the object the ownership step loaded is
/// in the starting state (409 otherwise).
pub(crate) async fn require(x: &mut Exchange) -> Step {
    let policy = x.policy();
    let (Some(rule), Some(check)) = (&policy.state, policy.check_state) else {
        return Ok(());
    };
    check(x.req.request(), rule).map_err(|problem| {
        let reason = if problem.status() == StatusCode::CONFLICT {
            "wrong_state"
        } else {
            "lookup_failed"
        };
        Refusal::new(problem, "state", reason).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_helpers() {
        const NAMES: &[&str] = &["Draft", "Validated"];
        const FOUND: Option<usize> = state_index(NAMES, "Validated");
        assert_eq!(FOUND, Some(1));
        assert_eq!(state_index(NAMES, "Valid"), None);
        assert!(transition_declared(&[(0, 1)], 0, 1));
        assert!(!transition_declared(&[(0, 1)], 1, 0));
    }
}
