//! # secure-api
//!
//! Actix Web routes that are secure by construction. Every handler declares
//! its security with attributes; the attributes are checked when the code
//! compiles, and the policy they produce is carried out on every request by
//! the route's guard, a list of steps that runs before any extractor parses
//! the request body (idempotent and webhook routes read it, within the
//! route's cap, to fingerprint or verify it). A route that declares
//! nothing does not compile, and a handler that was not declared this way
//! cannot be mounted.
//!
//! ```
//! use secure_api_runtime::prelude::*;
//!
//! #[get("/api/users/{user_id}")]
//! #[registered(owner = "platform", lifecycle = production)]
//! #[owner(user_id)]
//! async fn get_user(user_id: web::Path<i64>, me: Principal) -> String {
//!     format!("user {} seen by {}", user_id.into_inner(), me.sub)
//! }
//!
//! let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
//! let _app = SecureApp::new(security).service(get_user).into_app();
//! ```
//!
//! ## Attributes and the risks they address (OWASP API Security Top 10, 2023)
//!
//! | attribute | risk | meaning |
//! | --- | --- | --- |
//! | `#[get("/path")]`, `post`, `put`, `patch`, `delete` | — | the route; `{name}` segments are path parameters |
//! | `#[public]` | — | no authentication, as an explicit choice |
//! | `#[authenticated]` | API2 Broken Authentication | a valid bearer access token ([`auth`]) |
//! | `#[roles(admin)]`, `#[roles(any(a, b))]`, `#[roles(all(a, b))]` | API5 Broken Function Level Authorization | the principal's roles |
//! | `#[scopes("reports:read")]`, `#[scopes(any(a, b))]`, `#[scopes(all(a, b))]` | API5 Broken Function Level Authorization | the token's OAuth2 scopes (403 `insufficient_scope`) |
//! | `#[owner(user_id)]`, `#[owner(user_id, or_roles(admin))]` | API1 Broken Object Level Authorization | the path parameter equals the principal's subject |
//! | `#[owner(order_id, resource = Order)]` | API1 | the object is loaded through [`Owned`] and must belong to the caller (404 otherwise); the handler receives it as [`Checked<Order>`] |
//! | `#[owner(none, reason = "...")]` | API1 | waives the ownership lint for an id route, with a reason |
//! | `#[expose(id, name)]` | API3 Broken Object Property Level Authorization | the response carries exactly these fields ([`expose`](mod@expose)) |
//! | `#[derive(Input)]` | API3 | a request body: unknown fields refused, every field validated ([`input`]) |
//! | `#[limit("30/minute; 5/second", key = user, body = "64KiB", concurrency = 4)]` | API4 Unrestricted Resource Consumption | quotas, body cap and in-flight cap ([`limit`](mod@limit)) |
//! | `#[state_requires(order_id, Order: Validated => Executed)]`, `#[derive(StateMachine)]` | API6 Unrestricted Access to Sensitive Business Flows | business-state preconditions checked at compile time and before the handler ([`state`]) |
//! | `#[idempotent]` | API6 | an `Idempotency-Key` replays the first answer ([`idempotency`]) |
//! | `#[webhook(secret = "NAME")]` | API10 Unsafe Consumption of APIs | no token; the raw body must carry a valid signature made with the keys registered under `NAME` ([`webhook`]) |
//! | `#[registered(owner = "team", lifecycle = production)]` | API9 Improper Inventory Management | the route's inventory entry, required on every route; `deprecated(..)` adds `Deprecation`, `Sunset` and `Link`, `retired` answers 410 ([`inventory`]) |
//!
//! Refusals answer RFC 9457 `application/problem+json` ([`problem`]) and
//! emit one audit event on the `secure_api::audit` tracing target.
//!
//! Shared state (quotas, the access-token denylist, webhook delivery ids,
//! idempotency keys) lives in one store per kind, in memory or, with
//! `REDIS_URL`, in a Redis every instance shares ([`shared`]).

pub mod auth;
pub mod config;
pub mod cors;
pub mod docs;
pub mod expose;
mod guard;
pub mod headers;
pub mod idempotency;
pub mod input;
pub mod inventory;
mod lifecycle;
pub mod limit;
pub mod net;
pub mod observe;
pub mod openapi;
pub mod outbound;
pub mod owned;
pub mod page;
pub mod policy;
pub mod problem;
pub mod roles;
pub mod server;
pub mod shared;
pub mod state;
mod store;
pub mod webhook;

mod app;
mod transport;
mod util;

pub use app::{
    DEFAULT_JSON_LIMIT, DEFAULT_LIMIT, MAX_HEADER_BYTES, MAX_QUERY_BYTES, SecureApp, SecureRoute,
};
pub use auth::Principal;
pub use config::{ConfigError, KeySource, Mode, PlainHttp, SecurityConfig};
pub use expose::{Accepted, Created, NoContent, Page, SafeResponse, SerializeWhole};
pub use input::{Argument, Input, RawArgument};
pub use owned::{Checked, Owned};
pub use problem::{Problem, Refusal};
pub use roles::RoleHierarchy;
pub use secure_api_macros::{
    Input, StateMachine, authenticated, delete, expose, get, idempotent, limit, owner, patch, post,
    public, put, registered, roles, scopes, state_requires, webhook,
};

/// The actix-web version this crate is built on.
pub use actix_web;

/// Everything a handler module needs: `use secure_api_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::auth::{Principal, TokenPair};
    pub use crate::config::{Mode, SecurityConfig};
    pub use crate::expose::{Accepted, Created, NoContent, Page, SerializeWhole};
    pub use crate::input::Input;
    pub use crate::owned::{Checked, Owned};
    pub use crate::page::{PageConfig, PageRequest};
    pub use crate::policy::Quota;
    pub use crate::problem::Problem;
    pub use crate::roles::RoleHierarchy;
    pub use crate::state::{StateMachine, Stateful, Transition};
    pub use crate::{SecureApp, SecureRoute};
    pub use actix_web::http::StatusCode;
    pub use actix_web::{HttpRequest, HttpResponse, HttpServer, Responder, web};
    pub use secure_api_macros::{
        Input, StateMachine, authenticated, delete, expose, get, idempotent, limit, owner, patch,
        post, public, put, registered, roles, scopes, state_requires, webhook,
    };
}

/// The parsers of untrusted input that are not public API, for the fuzz
/// targets in `fuzz/` (feature `fuzzing`). Not a stable interface.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzzing {
    use actix_web::http::header::HeaderMap;

    /// The bearer token of an `Authorization` header, checked as text.
    pub fn bearer_token(headers: &HeaderMap) -> Result<&str, &'static str> {
        crate::auth::step::bearer_token(headers).and_then(crate::auth::step::token_text)
    }

    /// The `Idempotency-Key` of a request.
    pub fn idempotency_key(headers: &HeaderMap) -> Result<String, crate::Problem> {
        crate::idempotency::key_of(headers)
    }

    /// A key set's usable keys: each key's `kid` and the algorithms it
    /// verifies.
    pub type KeySet = Vec<(Option<String>, Vec<jsonwebtoken::Algorithm>)>;

    /// The usable keys of a provider's key set document.
    pub fn key_set(body: &[u8]) -> Result<KeySet, String> {
        crate::auth::oidc::fuzz_key_set(body)
    }
}

#[doc(hidden)]
/// Used by generated code, not public API: no stability guarantee.
#[doc(hidden)]
pub mod __private {
    pub use crate::app::{Mount, SecureRoute};
    pub use crate::expose::{Exposable, FieldWriter, One, safe_response};
    pub use crate::input::{Argument, Input, RawArgument, refused_input, validate_with_garde};
    pub use crate::openapi::schema::{
        AnswerDoc, ArgumentDoc, Field, Probe, RouteDoc, Rule, ViaAny, ViaInput, ViaUtoipa,
        example_value, object as input_object,
    };
    pub use crate::owned::check_owned;
    pub use crate::policy::{
        Access, Answer, Lifecycle, LimitKey, LimitRule, Method, OwnerRule, Quota, Registration,
        RoleRule, RoutePolicy,
    };
    pub use crate::problem::Problem;
    pub use crate::state::{
        StateMachine, StateRule, Stateful, check_state, state_index, transition_declared,
    };
    pub use actix_web::{HttpRequest, HttpResponse, Responder};
    pub use utoipa::openapi::schema::Schema;

    /// Implemented only by the route macros, which seals [`SecureRoute`].
    pub trait Sealed {}

    /// The route type the macros generate, which the handler's name (a
    /// function) returns.
    #[diagnostic::on_unimplemented(
        message = "this function is not a secured route: it returns `{Self}`",
        label = "not declared with a secure-api route attribute",
        note = "`SecureApp::service` mounts only handlers declared with `#[get]`, `#[post]`, `#[put]`, `#[patch]` or `#[delete]` from `secure_api_runtime::prelude` together with an access policy",
        note = "to fix it, declare the handler with `#[get(\"/path\")]` and one of `#[public]`, `#[authenticated]`, `#[roles(..)]`, `#[owner(..)]`, instead of `#[actix_web::get]`, a bare fn or an actix `Resource`"
    )]
    pub trait Generated: crate::SecureRoute {}
}
