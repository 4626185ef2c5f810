//! The route guard: runs a route's pipeline on every request, before any
//! handler argument is extracted.
//!
//! The pipeline is the list in [`before_handler`], in the order DESIGN.md
//! gives. Each step lives with its concern, has one signature
//! (`async fn(&mut Exchange) -> Step`) and decides one thing: go on, or stop
//! with a refusal (or, for an idempotent replay, the stored answer);
//! [`admit`] runs them and records the decision. After the handler, what
//! the steps claimed is settled ([`Claims::settle`]) and the route's
//! lifecycle headers are added. Security headers and CORS are the
//! backstop's (they apply to every answer of the app), the `#[expose]`
//! projection the route wrapper's.

pub(crate) mod exchange;

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::HeaderValue;
use actix_web::{Error, HttpMessage};
use tracing::Instrument as _;

use crate::auth::step as auth;
use crate::limit::InFlight;
use crate::limit::step as limit;
use crate::observe::context::{self, Outcome};
use crate::policy::{Access, OwnerRule, RoleRule, RoutePolicy};
use crate::roles::step as roles;
use crate::webhook::step as webhook;
use crate::{idempotency, lifecycle, owned, state};
pub(crate) use exchange::{Exchange, Route, Step, Stop};

/// The request side of the pipeline, in order.
async fn before_handler(x: &mut Exchange) -> Step {
    step!("lifecycle", lifecycle::refuse_retired(x)); // 410 for a retired route
    step!("body_cap", limit::body_cap(x)); // 413 on a declared length over the cap
    step!("client_address", limit::client_address(x)); // the peer, or a trusted proxy's word
    step!("address_quotas", limit::address_quotas(x)); // quotas keyed by address (429)
    step!("authentication", auth::authenticate(x)); // bearer token -> Principal (401; 503 while an issuer's keys load)
    step!("scopes", auth::require_scopes(x)); // OAuth2 scopes (403 insufficient_scope)
    step!("roles", roles::require(x)); // roles, with the hierarchy (403)
    step!("owner", owned::require_subject(x)); // `#[owner(user_id)]` (403)
    step!("user_quotas", limit::user_quotas(x)); // quotas keyed by user (429)
    step!("in_flight", limit::in_flight(x)); // `concurrency = N` (503)
    step!("settle", settle(x)); // the stores decide what the steps staged: one Redis round trip
    step!("owned", owned::load(x)); // `#[owner(.., resource = T)]` (404)
    step!("idempotency", idempotency::claim(x)); // replay, 422, 409
    step!("state", state::require(x)); // business state (409)
    step!("webhook", webhook::verify(x)); // signature over the raw body (401)
    Ok(())
}

/// Runs one step of [`before_handler`], stopping the pipeline when it
/// stops. When `debug` events are on anywhere, the step runs in a
/// `secure_api.step` span that records its decision (`continue`, `refused`
/// or `answered`); otherwise it is awaited as it is, without a span to make
/// and drop. Written out here rather than in a function taking the step's
/// future, which would hold that future twice (its argument, then the
/// instrumented one) and make every request's future larger.
macro_rules! step {
    ($name:literal, $step:expr) => {
        if tracing::level_enabled!(tracing::Level::DEBUG) {
            let span = step_span($name);
            let decided = $step.instrument(span.clone()).await;
            record_decision(&span, &decided);
            decided?
        } else {
            $step.await?
        }
    };
}
use step;

/// A step's `secure_api.step` span (at `debug`), its decision to record.
fn step_span(name: &'static str) -> tracing::Span {
    tracing::debug_span!(
        target: "secure_api",
        "secure_api.step",
        step = name,
        decision = tracing::field::Empty,
    )
}

/// Records a step's decision in its span, when the span is enabled.
fn record_decision(span: &tracing::Span, decided: &Step) {
    if !span.is_disabled() {
        span.record(
            "decision",
            match decided {
                Ok(()) => "continue",
                Err(Stop::Refused(_)) => "refused",
                Err(Stop::Answered(_)) => "answered",
            },
        );
    }
}

/// The rule that lets a request through when every step did: the most
/// specific one the route declares.
fn allowed_by(policy: &RoutePolicy) -> &'static str {
    if !matches!(policy.owner, OwnerRule::None) {
        "owner"
    } else if !matches!(policy.roles, RoleRule::None) {
        "roles"
    } else if !matches!(policy.scopes, RoleRule::None) {
        "scopes"
    } else {
        match policy.access {
            Access::Public => "public",
            Access::Authenticated => "authenticated",
            Access::FreshLogin => "fresh_login",
            Access::OptionalToken => "optional_token",
            Access::Webhook { .. } => "webhook",
        }
    }
}

/// Decides the quotas and the denylist lookup the steps before it staged
/// (in memory they were decided as they were staged).
async fn settle(x: &mut Exchange) -> Step {
    let stores = x.route.security.stores();
    Ok(stores.settle(&mut x.decisions).await?)
}

/// What the request claimed, to be settled by the handler's answer. Only
/// idempotent and webhook routes claim anything: the stores' futures are
/// boxed (here, and [`Claims::settle`] by its caller), so that every other
/// request's future stays small (it is copied into its box, and moved as it
/// runs).
struct Claims {
    idempotency: Option<Box<crate::store::idempotency::Claimed>>,
    delivery: Option<Box<crate::store::replay::ClaimedDelivery>>,
}

impl Claims {
    fn is_empty(&self) -> bool {
        self.idempotency.is_none() && self.delivery.is_none()
    }

    /// The request stopped before its handler: nothing it claimed is spent.
    async fn release(&self, route: &Route) {
        let stores = route.security.stores();
        if let Some(claimed) = &self.idempotency {
            Box::pin(stores.idempotency.release(claimed)).await;
        }
        if let Some(delivery) = &self.delivery {
            Box::pin(stores.replays.finish(delivery, None)).await;
        }
    }

    /// The answer side: the webhook delivery spent on a 2xx (freed
    /// otherwise), and the handler's answer kept for replays.
    async fn settle<B: MessageBody + 'static>(
        self,
        route: &Route,
        answer: Result<ServiceResponse<B>, Error>,
    ) -> Result<ServiceResponse<EitherBody<B>>, Error> {
        if let Some(delivery) = &self.delivery {
            let status = answer.as_ref().ok().map(|r| r.status().as_u16());
            let replays = &route.security.stores().replays;
            replays.finish(delivery, status).await;
        }
        match self.idempotency {
            Some(claimed) => idempotency::remember(route, &claimed, answer).await,
            None => answer.map(ServiceResponse::map_into_left_body),
        }
    }
}

/// What the request side hands on to the handler.
struct Admitted {
    req: ServiceRequest,
    /// The in-flight slot, held until the handler has answered.
    slot: Option<InFlight>,
    claims: Claims,
}

/// The request side of one request: [`before_handler`], its decision
/// recorded for the audit event, and then either the request for the
/// handler or the answer that stops it (with the route's lifecycle
/// headers, and whatever the steps claimed released).
async fn admit(
    req: ServiceRequest,
    route: &Rc<Route>,
    link: Option<&HeaderValue>,
) -> Result<Admitted, ServiceResponse> {
    context::decide(|decision| decision.route = Some(route.policy.path));
    let mut x = Exchange::new(req, Rc::clone(route));
    let mut decided = before_handler(&mut x).await;
    if matches!(decided, Err(Stop::Refused(_))) {
        // A refusal still counts what the steps before it staged: a
        // used-up quota answers first.
        if let Err(refusal) = settle(&mut x).await {
            decided = Err(refusal);
        }
    }
    let Exchange {
        req,
        principal,
        client,
        slot,
        claimed,
        delivery,
        ..
    } = x;
    context::decide(|decision| {
        if !client.is_unspecified() {
            decision.client = Some(client);
        }
        decision.caller.clone_from(&principal);
        match &decided {
            Ok(()) => decision.rule = allowed_by(route.policy),
            Err(Stop::Refused(refusal)) => {
                decision.rule = refusal.rule;
                decision.reason = Some(refusal.reason);
                decision.needs = match refusal.rule {
                    "roles" => Some(route.policy.roles.names()),
                    "scopes" => Some(route.policy.scopes.names()),
                    _ => None,
                };
                decision.outcome = Outcome::Refused;
            }
            Err(Stop::Answered(_)) => {
                // A repeated idempotency key, or a webhook delivery seen
                // before.
                decision.rule = if route.policy.idempotent {
                    "idempotency"
                } else {
                    "webhook"
                };
                decision.outcome = Outcome::Replayed;
            }
        }
    });
    let claims = Claims {
        idempotency: claimed,
        delivery,
    };
    let stopped = match decided {
        Ok(()) => {
            if let Some(principal) = principal {
                req.extensions_mut().insert(principal);
            }
            return Ok(Admitted { req, slot, claims });
        }
        Err(Stop::Answered(response)) => *response,
        Err(Stop::Refused(refusal)) => refusal.problem.to_response(),
    };
    claims.release(route).await;
    let mut response = req.into_response(stopped);
    lifecycle::deprecation_headers(route.policy, link, response.headers_mut());
    Err(response)
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
            let Admitted { req, slot, claims } = match admit(req, &route, link.as_ref()).await {
                Ok(admitted) => admitted,
                Err(stopped) => return Ok(stopped.map_into_right_body()),
            };
            let answer = service.call(req).await;
            drop(slot);
            let mut answer = if claims.is_empty() {
                answer.map(ServiceResponse::map_into_left_body)
            } else {
                Box::pin(claims.settle(&route, answer)).await
            };
            if let Ok(response) = &mut answer {
                lifecycle::deprecation_headers(route.policy, link.as_ref(), response.headers_mut());
            }
            answer
        })
    }
}
