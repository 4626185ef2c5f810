//! The pipeline's role step (OWASP API5).

use crate::guard::exchange::{Exchange, Step};
use crate::problem::{Problem, Refusal};

/// Step: the caller holds the roles `#[roles(..)]` asks for, counting the
/// roles their roles include (403 otherwise).
pub(crate) async fn require(x: &mut Exchange) -> Step {
    if x.principal.is_none() || x.policy().roles.allows(x.held_roles()) {
        return Ok(());
    }
    Err(Refusal::new(
        Problem::forbidden("this route needs a role the caller does not hold"),
        "roles",
        "missing_role",
    )
    .into())
}
