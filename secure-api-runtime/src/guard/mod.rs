//! The route guard: runs a route's pipeline on every request, before any
//! handler argument is extracted.
//!
//! The pipeline is the list in [`before_handler`], in the order DESIGN.md
//! gives. Each step lives with its concern, has one signature
//! (`async fn(&mut Exchange) -> Step`) and decides one thing: go on, or stop
//! with a refusal (or, for an idempotent replay, the stored answer). After
//! the handler, [`after_handler`] runs the answer's side. Security headers
//! and CORS are the backstop's (they apply to every answer of the app),
//! the `#[expose]` projection the route wrapper's.

pub(crate) mod exchange;

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};

use crate::audit;
use crate::auth::step as auth;
use crate::limit::step as limit;
use crate::roles::step as roles;
use crate::webhook::step as webhook;
use crate::{idempotency, lifecycle, owned, state};
pub(crate) use exchange::{Exchange, Route, Step, Stop};

/// The request side of the pipeline, in order.
async fn before_handler(x: &mut Exchange) -> Step {
    lifecycle::refuse_retired(x).await?; // 410 for a retired route
    limit::body_cap(x).await?; // 413 on a declared length over the cap
    limit::client_address(x).await?; // the peer, or a trusted proxy's word
    limit::address_quotas(x).await?; // quotas keyed by address (429)
    auth::authenticate(x).await?; // bearer token -> Principal (401; 503 while an issuer's keys load)
    auth::require_scopes(x).await?; // OAuth2 scopes (403 insufficient_scope)
    roles::require(x).await?; // roles, with the hierarchy (403)
    owned::require_subject(x).await?; // `#[owner(user_id)]` (403)
    limit::user_quotas(x).await?; // quotas keyed by user (429)
    limit::in_flight(x).await?; // `concurrency = N` (503)
    settle(x).await?; // the stores decide what the steps staged: one Redis round trip
    owned::load(x).await?; // `#[owner(.., resource = T)]` (404)
    idempotency::claim(x).await?; // replay, 422, 409
    state::require(x).await?; // business state (409)
    webhook::verify(x).await?; // signature over the raw body (401)
    Ok(())
}

/// Decides the quotas and the denylist lookup the steps before it staged
/// (in memory they were decided as they were staged).
async fn settle(x: &mut Exchange) -> Step {
    let stores = x.route.security.stores();
    Ok(stores.settle(&mut x.decisions).await?)
}

/// What the request claimed, to be settled by the handler's answer.
struct Claims {
    idempotency: Option<crate::store::idempotency::Claimed>,
    delivery: Option<crate::store::replay::ClaimedDelivery>,
}

impl Claims {
    /// The request stopped before its handler: nothing it claimed is spent.
    async fn release(&self, route: &Route) {
        let stores = route.security.stores();
        if let Some(claimed) = &self.idempotency {
            stores.idempotency.release(claimed).await;
        }
        if let Some(delivery) = &self.delivery {
            stores.replays.finish(delivery, None).await;
        }
    }
}

/// The answer side: the webhook delivery spent on a 2xx (freed otherwise),
/// the handler's answer kept for replays, and the lifecycle headers on
/// every answer of the route.
async fn after_handler<B: MessageBody + 'static>(
    route: &Route,
    claims: Claims,
    answer: Result<ServiceResponse<B>, Error>,
    link: Option<&actix_web::http::header::HeaderValue>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if let Some(delivery) = &claims.delivery {
        let status = answer.as_ref().ok().map(|r| r.status().as_u16());
        route
            .security
            .stores()
            .replays
            .finish(delivery, status)
            .await;
    }
    let mut answer = match claims.idempotency {
        Some(claimed) => idempotency::remember(route, &claimed, answer).await,
        None => answer.map(ServiceResponse::map_into_left_body),
    };
    if let Ok(response) = &mut answer {
        lifecycle::deprecation_headers(route.policy, link, response.headers_mut());
    }
    answer
}

/// Resource middleware that runs a route's pipeline.
pub(crate) struct RouteGuard {
    route: Rc<Route>,
}

impl RouteGuard {
    pub(crate) fn new(route: Route) -> Self {
        Self {
            route: Rc::new(route),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RouteGuard
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RouteGuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RouteGuardService {
            service: Rc::new(service),
            route: Rc::clone(&self.route),
        }))
    }
}

pub(crate) struct RouteGuardService<S> {
    service: Rc<S>,
    route: Rc<Route>,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for RouteGuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let route = Rc::clone(&self.route);
        Box::pin(async move {
            let link = lifecycle::successor_link(route.policy, &req);
            let mut x = Exchange::new(req, Rc::clone(&route));
            let mut decided = before_handler(&mut x).await;
            if matches!(decided, Err(Stop::Refused(_))) {
                // A refusal still counts what the steps before it staged:
                // a used-up quota answers first.
                if let Err(refusal) = settle(&mut x).await {
                    decided = Err(refusal);
                }
            }
            let Exchange {
                req,
                principal,
                slot,
                claimed,
                delivery,
                ..
            } = x;
            let claims = Claims {
                idempotency: claimed,
                delivery,
            };
            let stopped = match decided {
                Ok(()) => None,
                Err(Stop::Answered(response)) => Some(*response),
                Err(Stop::Refused(refusal)) => {
                    audit::refused(
                        route.policy,
                        principal.as_ref().map(|p| p.sub.as_str()),
                        refusal.rule,
                        refusal.reason,
                    );
                    Some(refusal.problem.to_response())
                }
            };
            if let Some(response) = stopped {
                claims.release(&route).await;
                let mut response = req.into_response(response);
                lifecycle::deprecation_headers(route.policy, link.as_ref(), response.headers_mut());
                return Ok(response.map_into_right_body());
            }
            if let Some(principal) = principal {
                req.extensions_mut().insert(principal);
            }
            let answer = service.call(req).await;
            drop(slot);
            after_handler(&route, claims, answer, link.as_ref()).await
        })
    }
}
