//! The pipeline's webhook step (OWASP API10).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::guard::exchange::{Exchange, Step, Stop};
use crate::policy::Access;
use crate::problem::{Problem, Refusal};
use crate::store::replay::ReplayRefused;

use super::{Delivery, WebhookError};

/// Step: a `#[webhook]` route reads the raw body (within the route's cap),
/// checks its signature with the keys registered under the route's secret
/// name (401 for a bad or stale one), then looks up the delivery id: a new
/// id is claimed for this request, one being processed answers 409, one
/// processed answers its 2xx status again without the handler. Nothing
/// parses the body before the signature holds.
pub(crate) async fn verify(x: &mut Exchange) -> Step {
    if !matches!(x.policy().access, Access::Webhook { .. }) {
        return Ok(());
    }
    // Boxed, so that only webhook routes carry this large future.
    Box::pin(verify_delivery(x)).await
}

/// [`verify`] on a webhook route.
async fn verify_delivery(x: &mut Exchange) -> Step {
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
    let Some(id) = id else {
        return Ok(());
    };
    let replays = &route.security.stores().replays;
    let (known, claimed) = replays
        .claim(route.policy.path, id, keys, now)
        .await
        .map_err(|refused| match refused {
            ReplayRefused::Webhook(e) => refuse(Problem::from(e), e.reason()),
            ReplayRefused::Unavailable(problem) => refuse(problem, "shared_store_unavailable"),
        })?;
    match known {
        Delivery::First => {
            x.delivery = claimed.map(Box::new);
            Ok(())
        }
        Delivery::Running => {
            let e = WebhookError::InProgress;
            Err(refuse(Problem::from(e), e.reason()).into())
        }
        Delivery::Answered(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Err(Stop::Answered(Box::new(
                HttpResponse::build(status).finish(),
            )))
        }
    }
}
