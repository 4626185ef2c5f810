//! The audit trail: one structured `tracing` event per request, allowed
//! and refused alike, on the [`AUDIT_TARGET`] target.
//!
//! An event names the request id, method, route pattern (never the raw
//! path), principal (`sub`, and `issuer` for a provider's token), client
//! address, the rule that decided, the outcome, the status and the
//! duration; a `roles` or `scopes` refusal also names what the route asks
//! for (`needs`, comma separated). No token, secret or body is ever one of its fields.
//!
//! A handler that decides by a rule of its own (a login checking a
//! password) says so with [`allowed`] or [`refused`], and names the account
//! it acted on with [`account`]: the request's one event then carries them.
//!
//! ```
//! use secure_api_runtime::observe::audit;
//! use secure_api_runtime::prelude::*;
//!
//! #[post("/api/unlock")]
//! #[registered(owner = "platform", lifecycle = production)]
//! #[public]
//! async fn unlock(form: web::Json<Unlock>) -> Result<HttpResponse, Problem> {
//!     audit::account(&form.door);
//!     if form.code != "1234" {
//!         audit::refused("door_code", "wrong_code");
//!         return Err(Problem::forbidden("wrong code"));
//!     }
//!     audit::allowed("door_code");
//!     Ok(HttpResponse::NoContent().finish())
//! }
//!
//! #[derive(serde::Deserialize, garde::Validate, Input)]
//! #[serde(deny_unknown_fields)]
//! struct Unlock {
//!     #[garde(length(max = 32))]
//!     door: String,
//!     #[garde(length(max = 8))]
//!     code: String,
//! }
//! ```

use actix_web::http::{Method, StatusCode};

use super::context::{self, Context, Outcome};

/// The `tracing` target of audit events.
pub const AUDIT_TARGET: &str = "secure_api::audit";

/// The route field of a request no secured route matched.
pub const UNMATCHED: &str = "unmatched";

/// Records that the handler let the current request through by `rule`.
/// Outside a request, does nothing.
pub fn allowed(rule: &'static str) {
    context::decide(|decision| {
        decision.rule = rule;
        decision.reason = None;
        decision.outcome = Outcome::Allowed;
    });
}

/// Records that the handler refused the current request by `rule`, for
/// `reason` (a short code, such as `bad_credentials`). Outside a request,
/// does nothing.
pub fn refused(rule: &'static str, reason: &'static str) {
    context::refused(rule, reason);
}

/// Names the account the current request acts on when no token names its
/// caller (a login's username): the event's `account` field. Never pass a
/// secret.
pub fn account(name: &str) {
    context::decide(|decision| decision.account = Some(name.to_owned()));
}

/// Emits the request's one audit event: `info` when allowed, `warn` when
/// refused.
pub(crate) fn emit(context: &Context, method: &Method, status: StatusCode, seconds: f64) {
    let decision = context.decision.borrow();
    let route = decision.route.unwrap_or(UNMATCHED);
    let principal = decision.sub.as_deref().unwrap_or("-");
    let issuer = decision.issuer.as_deref().unwrap_or("-");
    let account = decision.account.as_deref();
    let client = decision.client.map(tracing::field::display);
    let duration_ms = (seconds * 1_000_000.0).round() / 1000.0;
    let request_id = context.id.as_str();
    let needs = decision.needs.map(|names| names.join(","));
    let needs = needs.as_deref();
    macro_rules! event {
        ($level:expr, $message:literal) => {
            tracing::event!(
                target: "secure_api::audit",
                $level,
                request_id,
                method = method.as_str(),
                route,
                principal,
                issuer,
                account,
                client,
                rule = decision.rule,
                reason = decision.reason,
                needs,
                outcome = decision.outcome.as_str(),
                status = status.as_u16(),
                duration_ms,
                $message
            )
        };
    }
    match decision.outcome {
        Outcome::Refused => event!(tracing::Level::WARN, "decision"),
        Outcome::Allowed | Outcome::Replayed => event!(tracing::Level::INFO, "decision"),
    }
}
