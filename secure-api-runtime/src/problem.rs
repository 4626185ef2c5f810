//! RFC 9457 problem details: the one shape every refusal takes.
//!
//! A [`Problem`] carries a status, a short title and an optional detail that
//! speaks about the client's request only. Internal causes are logged, never
//! written into the body.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;

use crate::observe::RequestId;

/// The media type of every refusal.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The detail of every refusal for a missing, invalid or revoked token.
pub(crate) const TOKEN_REQUIRED: &str = "a valid bearer access token is required";

/// Why a pipeline step refused a request: the problem sent, and the rule
/// and reason the audit event names.
#[derive(Debug)]
pub struct Refusal {
    /// The answer sent to the client.
    pub problem: Problem,
    /// The rule that refused (`authentication`, `roles`, `owner`, `limit`, ...).
    pub rule: &'static str,
    /// A short reason for the audit log.
    pub reason: &'static str,
}

impl Refusal {
    /// A refusal by `rule` for `reason`, answered with `problem`.
    pub fn new(problem: Problem, rule: &'static str, reason: &'static str) -> Self {
        Self {
            problem,
            rule,
            reason,
        }
    }
}

/// An RFC 9457 `application/problem+json` answer.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::problem::Problem;
/// use actix_web::http::StatusCode;
///
/// let problem = Problem::new(StatusCode::CONFLICT).with_detail("the order is not validated");
/// assert_eq!(problem.status(), StatusCode::CONFLICT);
/// assert_eq!(problem.title(), "Conflict");
///
/// // The common refusals have their own constructors.
/// assert_eq!(Problem::conflict("the order is not validated").status(), StatusCode::CONFLICT);
/// let problem = Problem::unprocessable("due", "must be after today");
/// assert_eq!(problem.detail(), Some("`due`: must be after today"));
/// ```
#[derive(Clone, Debug)]
pub struct Problem {
    status: StatusCode,
    detail: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    /// The request's id (see [`RequestId`]), to quote when reporting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl Problem {
    /// A problem with the standard title of `status` and no detail.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            detail: None,
            headers: Vec::new(),
        }
    }

    /// Adds a sentence about what was wrong with the request.
    ///
    /// The detail is sent to the client: it must not carry internal causes.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a response header (for example `Retry-After` or `Allow`).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// `401 Unauthorized` with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED)
            .with_detail(detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// `403 Forbidden`.
    pub fn forbidden(detail: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN).with_detail(detail)
    }

    /// `404 Not Found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND).with_detail("no resource at this address")
    }

    /// `400 Bad Request`: the request cannot be read as it is.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST).with_detail(detail)
    }

    /// `409 Conflict`: the request is well-formed but the resource's current
    /// state does not allow it (a name already taken, a stale version).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT).with_detail(detail)
    }

    /// `422 Unprocessable Content` for one field of the body, in the shape
    /// [`Input`](crate::input::Input) validation uses: `` `field`: detail ``.
    pub fn unprocessable(field: &str, detail: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(format!("`{field}`: {detail}"))
    }

    /// `500 Internal Server Error`, with no detail: log the cause where it
    /// happens, never send it.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The standard reason phrase of the status.
    pub fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The detail sent to the client, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Builds the HTTP response. Written while a request is served, the
    /// body names the request's id in `request_id`.
    pub fn to_response(&self) -> HttpResponse {
        let request_id = RequestId::current();
        let body = Body {
            kind: "about:blank",
            title: self.title(),
            status: self.status.as_u16(),
            detail: self.detail.as_deref(),
            request_id: request_id.as_ref().map(RequestId::as_str),
        };
        // Serializing a struct of strings and an integer cannot fail; the
        // fallback keeps the response well-formed regardless.
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut builder = HttpResponseBuilder::new(self.status);
        builder.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.clone()));
        }
        builder.body(json)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.title()),
            None => f.write_str(self.title()),
        }
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn body_is_rfc9457_with_content_type_and_extra_headers() {
        let response = Problem::unauthorized("missing bearer token").to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some(PROBLEM_JSON)
        );
        assert_eq!(
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "missing bearer token"})
        );
    }

    #[test]
    fn detail_is_omitted_when_absent() {
        let bytes = Problem::new(StatusCode::GONE)
            .to_response()
            .into_body()
            .try_into_bytes()
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({"type": "about:blank", "title": "Gone", "status": 410})
        );
    }
}
