//! Framework errors as problem+json: extractor errors (JSON bodies, forms,
//! path parameters, query strings) and any other error response without one.

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::http::header;

use crate::observe::context;
use crate::problem::{PROBLEM_JSON, Problem};

/// Replaces the body of a response produced from an error with a generic
/// problem, unless it already is one. Server errors are logged with their
/// cause, which never reaches the client.
pub(crate) fn problem_for_errors<B: MessageBody>(
    res: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>> {
    let Some(error) = res.response().error() else {
        return res.map_into_left_body();
    };
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return res.map_into_left_body();
    }
    let status = res.status();
    if status.is_server_error() {
        tracing::error!(target: "secure_api", status = status.as_u16(), error = %error, "request failed");
    }
    let problem = Problem::new(status);
    res.into_response(problem.to_response())
        .map_into_right_body()
}

pub(crate) fn json_error(error: JsonPayloadError, _: &actix_web::HttpRequest) -> Error {
    context::refused("input", "the body is not the route's input");
    let problem = match &error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => too_large(*limit),
        JsonPayloadError::ContentType => not_of_type("application/json"),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                .with_detail(format!("the body does not fit: {e}"))
        }
        _ => Problem::new(StatusCode::BAD_REQUEST).with_detail("the body is not valid JSON"),
    };
    problem.into()
}

pub(crate) fn path_error(_: PathError, _: &actix_web::HttpRequest) -> Error {
    context::refused("input", "a path parameter is malformed");
    Problem::new(StatusCode::BAD_REQUEST)
        .with_detail("a path parameter is not of the expected form")
        .into()
}

pub(crate) fn form_error(error: UrlencodedError, _: &actix_web::HttpRequest) -> Error {
    context::refused("input", "the form is not the route's input");
    let problem =
        match &error {
            UrlencodedError::Overflow { limit, .. } => too_large(*limit),
            UrlencodedError::ContentType => not_of_type("application/x-www-form-urlencoded"),
            UrlencodedError::UnknownLength => Problem::new(StatusCode::LENGTH_REQUIRED)
                .with_detail("the form's length must be known"),
            UrlencodedError::Parse(e) if is_unknown_field(e) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(format!("the form does not fit: {e}"))
            }
            UrlencodedError::Parse(e) => Problem::new(StatusCode::BAD_REQUEST)
                .with_detail(format!("the form does not fit: {e}")),
            _ => Problem::new(StatusCode::BAD_REQUEST).with_detail("the form is not valid"),
        };
    problem.into()
}

/// A body over the route's cap of `limit` bytes (413).
fn too_large(limit: usize) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
        .with_detail(format!("the body is larger than {limit} bytes"))
}

/// A body sent as another media type than `media_type` (415).
fn not_of_type(media_type: &str) -> Problem {
    Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .with_detail(format!("the body must be `{media_type}`"))
}

/// Whether a form or query string was refused for a field its `Input` type
/// does not declare (serde's `deny_unknown_fields`), which is answered 422
/// as for a JSON body's unknown field. `serde_urlencoded` keeps only the
/// message, so the message is what tells.
fn is_unknown_field(error: &impl std::fmt::Display) -> bool {
    error.to_string().starts_with("unknown field")
}

pub(crate) fn query_error(error: QueryPayloadError, _: &actix_web::HttpRequest) -> Error {
    context::refused("input", "the query string is not the route's input");
    let problem = match &error {
        QueryPayloadError::Deserialize(e) if is_unknown_field(e) => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                .with_detail(format!("the query string does not fit: {e}"))
        }
        QueryPayloadError::Deserialize(e) => Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the query string does not fit: {e}")),
        _ => Problem::new(StatusCode::BAD_REQUEST).with_detail("the query string is not valid"),
    };
    problem.into()
}
