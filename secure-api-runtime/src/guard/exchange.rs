//! What the pipeline's steps share about one request: the route they guard,
//! and what earlier steps found (the client address, the principal, the
//! store decisions still to settle, the in-flight slot, the claimed
//! idempotency key and webhook delivery).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;

use crate::auth::principal::Principal;
use crate::config::SecurityConfig;
use crate::limit::{InFlight, Limiter};
use crate::policy::RoutePolicy;
use crate::problem::{Problem, Refusal};
use crate::roles::RoleHierarchy;
use crate::store::Decisions;
use crate::store::idempotency::Claimed;
use crate::store::replay::ClaimedDelivery;
use crate::webhook::WebhookKeys;

/// A mounted route: its policy and what its steps need besides the request.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) policy: &'static RoutePolicy,
    pub(crate) security: SecurityConfig,
    pub(crate) hierarchy: std::rc::Rc<RoleHierarchy>,
    /// The route's own quotas and in-flight cap.
    pub(crate) limits: Option<Arc<Limiter>>,
    /// The application's default quotas, for a route without its own.
    pub(crate) default_limits: Option<Arc<Limiter>>,
    /// The keys of a `#[webhook]` route, when registered.
    pub(crate) webhook: Option<WebhookKeys>,
}

/// One request on its way through the pipeline.
pub(crate) struct Exchange {
    pub(crate) req: ServiceRequest,
    pub(crate) route: std::rc::Rc<Route>,
    /// The client address (the peer, or what a trusted proxy says).
    pub(crate) client: IpAddr,
    /// The caller, once the token verified (shared with the cache of
    /// verified tokens).
    pub(crate) principal: Option<Arc<Principal>>,
    /// The caller's roles with every role they include, when the role
    /// hierarchy added any (expanded once, by the authentication step).
    pub(crate) expanded: Option<Vec<String>>,
    /// What the stores still have to decide (with Redis, in one round trip).
    pub(crate) decisions: Decisions,
    /// Held until the handler's answer is ready.
    pub(crate) slot: Option<InFlight>,
    /// The idempotency key claimed for this request (boxed, as the
    /// delivery: most requests claim nothing, and the request's future,
    /// which holds this, stays small).
    pub(crate) claimed: Option<Box<Claimed>>,
    /// The webhook delivery id claimed for this request.
    pub(crate) delivery: Option<Box<ClaimedDelivery>>,
}

/// Why a request goes no further than a step.
pub(crate) enum Stop {
    /// Refused by a rule: answered with its problem and audited.
    Refused(Refusal),
    /// Answered already (an idempotent replay, a processed webhook delivery).
    Answered(Box<HttpResponse>),
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// What every step returns: go on, or stop here.
pub(crate) type Step = Result<(), Stop>;

impl Exchange {
    pub(crate) fn new(req: ServiceRequest, route: std::rc::Rc<Route>) -> Self {
        Self {
            req,
            route,
            client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            principal: None,
            expanded: None,
            decisions: Decisions::default(),
            slot: None,
            claimed: None,
            delivery: None,
        }
    }

    /// The route's policy.
    pub(crate) fn policy(&self) -> &'static RoutePolicy {
        self.route.policy
    }

    /// The caller's roles with every role they include.
    pub(crate) fn held_roles(&self) -> &[String] {
        match (&self.expanded, &self.principal) {
            (Some(all), _) => all,
            (None, Some(principal)) => &principal.roles,
            (None, None) => &[],
        }
    }

    /// Whether the caller holds any of `roles` (an `or_roles` bypass).
    pub(crate) fn holds_any(&self, roles: &[&str]) -> bool {
        let held = self.held_roles();
        roles.iter().any(|role| held.iter().any(|h| h == role))
    }

    /// The caller's subject, once known.
    pub(crate) fn sub(&self) -> Option<&str> {
        self.principal.as_ref().map(|p| p.sub.as_str())
    }

    /// The whole body, within the route's `PayloadConfig` cap, put back for
    /// the handler to read again.
    pub(crate) async fn read_body(&mut self) -> Result<Bytes, Problem> {
        let body = self.req.extract::<Bytes>().await.map_err(|e| {
            let status = e.as_response_error().status_code();
            Problem::new(if status.is_client_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            })
            .with_detail("the body could not be read")
        })?;
        self.req.set_payload(Payload::from(body.clone()));
        Ok(body)
    }
}
