//! The pipeline's webhook step (OWASP API10).

use crate::guard::exchange::{Exchange, Step};
use crate::policy::Access;
use crate::problem::{Problem, Refusal};
use crate::store::replay::ReplayRefused;

use super::WebhookError;

/// Step: a `#[webhook]` route reads the raw body (within the route's cap),
/// checks its signature with the keys registered under the route's secret
/// name, and records the delivery id (401 for a bad or stale signature or
/// a replay). Nothing parses the body before the signature holds.
pub(crate) async fn verify(x: &mut Exchange) -> Step {
    if !matches!(x.policy().access, Access::Webhook { .. }) {
        return Ok(());
    }
    let refuse = |problem, reason| Refusal::new(problem, "webhook", reason);
    let body = x
        .read_body()
        .await
        .map_err(|problem| refuse(problem, "body_unreadable"))?;
    let route = std::rc::Rc::clone(&x.route);
    let Some(keys) = &route.webhook else {
        return Err(refuse(WebhookError::BadSignature.into(), "no_keys_registered").into());
    };
    let now = crate::util::now_secs();
    let id = keys
        .verify_signature(x.req.headers(), &body, now)
        .map_err(|e| refuse(Problem::from(e), e.reason()))?;
    if let Some(id) = id {
        let replays = &route.security.stores().replays;
        replays
            .first_delivery(route.policy.path, id, keys, now)
            .await
            .map_err(|refused| match refused {
                ReplayRefused::Webhook(e) => refuse(Problem::from(e), e.reason()),
                ReplayRefused::Unavailable(problem) => refuse(problem, "shared_store_unavailable"),
            })?;
    }
    Ok(())
}
