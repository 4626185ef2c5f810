//! The pipeline's limit steps: the declared body length, the client
//! address, quotas keyed by address (before authentication) and by user
//! (after it), and the in-flight cap.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;

use super::{Key, Limiter};
use crate::guard::exchange::{Exchange, Route, Step};
use crate::policy::LimitKey;
use crate::problem::{Problem, Refusal};

/// Step: a declared `Content-Length` over the route's body cap is refused
/// (413) before a byte of the body is read.
pub(crate) async fn body_cap(x: &mut Exchange) -> Step {
    let Some(cap) = x.policy().limit.body else {
        return Ok(());
    };
    let declared = x
        .req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > cap) {
        return Err(Refusal::new(
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(format!("the body is larger than {cap} bytes")),
            "limit",
            "body_too_large",
        )
        .into());
    }
    Ok(())
}

/// Step: the client address quotas count for: the peer, or the nearest
/// untrusted address a trusted proxy reports.
pub(crate) async fn client_address(x: &mut Exchange) -> Step {
    if let Some(ip) = x.route.security.client_ip(x.req.request()) {
        x.client = ip;
    }
    Ok(())
}

/// Step: quotas counted per client address, before the token is verified.
pub(crate) async fn address_quotas(x: &mut Exchange) -> Step {
    count(x, Stage::BeforeAuthentication)
}

/// Step: quotas counted per user (or per user and address), after the
/// token is verified.
pub(crate) async fn user_quotas(x: &mut Exchange) -> Step {
    count(x, Stage::AfterAuthentication)
}

/// Step: an in-flight slot of a route with `concurrency = N` (503 when
/// every slot is taken), held until the answer is ready.
pub(crate) async fn in_flight(x: &mut Exchange) -> Step {
    if let Some(limits) = &x.route.limits {
        x.slot = limits
            .enter()
            .map_err(|problem| Refusal::new(problem, "limit", "too_many_in_flight"))?;
    }
    Ok(())
}

/// When a quota is counted: address-keyed quotas before the token is
/// verified, user-keyed ones after.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    BeforeAuthentication,
    AfterAuthentication,
}

impl Stage {
    fn of(key: LimitKey) -> Self {
        match key {
            LimitKey::Ip => Self::BeforeAuthentication,
            LimitKey::User | LimitKey::IpAndUser => Self::AfterAuthentication,
        }
    }
}

fn count(x: &mut Exchange, stage: Stage) -> Step {
    let sub = x.principal.as_ref().map(|p| p.sub.as_str());
    let Some((limiter, kind)) = quotas_of(&x.route) else {
        return Ok(());
    };
    if Stage::of(kind) != stage {
        return Ok(());
    }
    let Some(key) = Key::for_request(kind, Some(x.client), sub) else {
        return Ok(());
    };
    let stores = x.route.security.stores();
    Ok(stores.count(&mut x.decisions, limiter, key)?)
}

/// The quotas a request counts against, and who they count for: the
/// route's own, or else the application default, which counts per address
/// on routes without a token and per user on the others.
fn quotas_of(route: &Route) -> Option<(&Arc<Limiter>, LimitKey)> {
    let policy = route.policy;
    match &route.limits {
        Some(own) if own.has_quotas() => Some((own, policy.limit.key)),
        _ => {
            let key = policy.access.quota_key();
            route.default_limits.as_ref().map(|limiter| (limiter, key))
        }
    }
}
