//! Request bodies (OWASP API3): `#[derive(Input)]` marks a type as a
//! declared request body. Unknown fields are refused (the derive requires
//! `#[serde(deny_unknown_fields)]`), and every field is validated through
//! `garde` before the handler runs (422 naming the field).

use actix_web::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A declared request body. Derive it with `#[derive(Input)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared request body",
    label = "a JSON body must be a `#[derive(Input)]` type",
    note = "declare it: `#[derive(Deserialize, garde::Validate, Input)]` with `#[serde(deny_unknown_fields)]`, so unknown fields are refused and every field is validated"
)]
pub trait Input: DeserializeOwned + 'static {
    /// Checks every field's rule; the problem names the failing fields.
    fn validate_input(&self) -> Result<(), Problem>;
}

/// Runs `garde` validation and turns its report into a 422. Used by the
/// `Input` derive.
pub fn validate_with_garde<T>(value: &T) -> Result<(), Problem>
where
    T: garde::Validate,
    T::Context: Default,
{
    value.validate().map_err(|report| {
        let detail = report
            .iter()
            .map(|(path, error)| format!("`{path}`: {error}"))
            .collect::<Vec<_>>()
            .join("; ");
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(detail)
    })
}

/// Validates an extracted JSON body. Used by generated code.
pub fn validate_body<T: Input>(body: &actix_web::web::Json<T>) -> Result<(), Problem> {
    body.validate_input()
}
