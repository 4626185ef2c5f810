//! Audit events: one structured `tracing` event per security decision that
//! refuses a request, on the `secure_api::audit` target.

use crate::policy::RoutePolicy;

/// Records a refusal: which route, who (if known), which rule, and why.
pub(crate) fn refused(
    policy: &RoutePolicy,
    principal: Option<&str>,
    rule: &'static str,
    reason: &str,
) {
    tracing::warn!(
        target: "secure_api::audit",
        route = policy.handler,
        method = policy.method.as_str(),
        path = policy.path,
        principal = principal.unwrap_or("-"),
        rule,
        reason,
        outcome = "refused",
    );
}
