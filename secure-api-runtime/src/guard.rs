//! The route guard: interprets a route's static [`RoutePolicy`] on every
//! request, before any handler argument is extracted or any body byte read.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};

use crate::audit;
use crate::auth::Principal;
use crate::config::SecurityConfig;
use crate::idempotency;
use crate::limit::client_ip::client_ip;
use crate::limit::{InFlight, Key, Limiter};
use crate::policy::{Access, Lifecycle, LimitKey, OwnerRule, RoutePolicy};
use crate::problem::Problem;
use crate::roles::RoleHierarchy;
use crate::shared::Shared;
use crate::webhook::{WebhookError, WebhookKeys};
use actix_web::HttpResponse;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Why a request was refused: the problem sent, and the rule and reason logged.
#[derive(Debug)]
pub struct Refusal {
    /// The answer sent to the client.
    pub problem: Problem,
    /// The rule that refused (`authentication`, `roles`, `owner`).
    pub rule: &'static str,
    /// A short reason for the audit log.
    pub reason: &'static str,
    /// The subject, once the token was verified.
    pub principal: Option<String>,
}

/// Applies `policy` to a request's headers and path parameters.
///
/// Returns the principal for authenticated routes, `None` for public ones.
pub fn authorize<'a>(
    policy: &RoutePolicy,
    security: &SecurityConfig,
    hierarchy: &RoleHierarchy,
    headers: &HeaderMap,
    path_param: impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<Principal>, Refusal> {
    if !policy.access.needs_token() {
        return Ok(None);
    }
    let refuse_authn = |reason| Refusal {
        problem: Problem::unauthorized("a valid bearer access token is required"),
        rule: "authentication",
        reason,
        principal: None,
    };
    let token = bearer_token(headers).map_err(refuse_authn)?;
    let principal = security
        .verify_access_token(token)
        .map_err(|e| refuse_authn(e.reason()))?;
    // Checked after verification, never cached with it: a logout takes
    // effect on the next request.
    if security.revocations().is_revoked(&principal.jti) {
        return Err(refuse_authn("revoked"));
    }
    if policy.access == Access::FreshLogin {
        let window = security.fresh_login().as_secs();
        let now = crate::auth::sessions::now_secs();
        let fresh = principal
            .auth_time
            .is_some_and(|at| now.saturating_sub(at) <= window);
        if !fresh {
            return Err(Refusal {
                problem: Problem::unauthorized(
                    "this route needs a recent password login: sign in again",
                ),
                rule: "authentication",
                reason: "login_not_fresh",
                principal: Some(principal.sub),
            });
        }
    }
    let held = hierarchy.expand(&principal.roles);
    if !policy.roles.allows(&held) {
        return Err(Refusal {
            problem: Problem::forbidden("this route needs a role the caller does not hold"),
            rule: "roles",
            reason: "missing_role",
            principal: Some(principal.sub),
        });
    }
    if let OwnerRule::Subject { param, or_roles } = policy.owner {
        let owns = path_param(param).is_some_and(|value| value == principal.sub);
        if !owns && !holds_any(&held, or_roles) {
            return Err(Refusal {
                problem: Problem::forbidden("the caller does not own this resource"),
                rule: "owner",
                reason: "not_owner",
                principal: Some(principal.sub),
            });
        }
    }
    Ok(Some(principal))
}

fn holds_any(held: &[String], roles: &[&str]) -> bool {
    roles.iter().any(|role| held.iter().any(|h| h == role))
}

/// The token of a single `Authorization: Bearer <token>` header; the scheme
/// is matched without regard to case.
fn bearer_token(headers: &HeaderMap) -> Result<&str, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next().ok_or("missing_token")?;
    if values.next().is_some() {
        return Err("several_authorization_headers");
    }
    let value = value.to_str().map_err(|_| "malformed_authorization")?;
    let (scheme, token) = value.split_once(' ').ok_or("malformed_authorization")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("not_bearer");
    }
    let token = token.trim_matches(' ');
    if token.is_empty() || token.contains(' ') {
        return Err("malformed_authorization");
    }
    Ok(token)
}

/// What a route guard needs besides the route's policy.
#[derive(Clone)]
pub(crate) struct GuardContext {
    pub(crate) security: SecurityConfig,
    pub(crate) hierarchy: Rc<RoleHierarchy>,
    /// The route's own quotas and in-flight cap.
    pub(crate) limits: Option<Arc<Limiter>>,
    /// The application's default quotas, for a route without its own.
    pub(crate) default_limits: Option<Arc<Limiter>>,
    /// The keys of a `#[webhook]` route, when registered.
    pub(crate) webhook: Option<WebhookKeys>,
}

/// Resource middleware that runs the route's policy.
pub(crate) struct RouteGuard {
    policy: &'static RoutePolicy,
    context: GuardContext,
}

impl RouteGuard {
    pub(crate) fn new(policy: &'static RoutePolicy, context: GuardContext) -> Self {
        Self { policy, context }
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
            policy: self.policy,
            context: self.context.clone(),
        }))
    }
}

pub(crate) struct RouteGuardService<S> {
    service: Rc<S>,
    policy: &'static RoutePolicy,
    context: GuardContext,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S> RouteGuardService<S> {
    /// The quotas counted at `stage`, and who they count for: the route's
    /// own, or the application default, keyed by address on public routes
    /// and by user on the others.
    fn quotas_for(&self, stage: Stage) -> Option<(&Arc<Limiter>, LimitKey)> {
        match &self.context.limits {
            Some(own) if own.has_quotas() => {
                let key = self.policy.limit.key;
                (stage == Stage::of(key)).then_some((own, key))
            }
            _ => {
                let key = if !self.policy.access.needs_token() {
                    LimitKey::Ip
                } else {
                    LimitKey::User
                };
                let default = self.context.default_limits.as_ref()?;
                (stage == Stage::of(key)).then_some((default, key))
            }
        }
    }

    /// Everything that can be decided before the handler: limits, token,
    /// roles, owner. The principal (if any) and the in-flight slot. With a
    /// shared store, quotas are not decided here but put in `deferred`, in
    /// order, for the caller to decide in the store before anything else.
    fn decide(
        &self,
        req: &ServiceRequest,
        mut deferred: Option<&mut Vec<Deferred>>,
    ) -> Result<Decision, Refusal> {
        let policy = self.policy;
        if policy.registration.lifecycle == Lifecycle::Retired {
            return Err(Refusal {
                problem: Problem::new(StatusCode::GONE)
                    .with_detail("this route is retired and no longer served"),
                rule: "lifecycle",
                reason: "retired",
                principal: None,
            });
        }
        if let Some(cap) = policy.limit.body
            && declared_length(req.headers()).is_some_and(|length| length > cap)
        {
            return Err(Refusal {
                problem: Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                    .with_detail(format!("the body is larger than {cap} bytes")),
                rule: "limit",
                reason: "body_too_large",
                principal: None,
            });
        }
        let ip = client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            self.context.security.trusted_proxies(),
        )
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut limited = |stage, sub: Option<&str>| -> Result<(), Refusal> {
            let Some((limits, kind)) = self.quotas_for(stage) else {
                return Ok(());
            };
            let Some(key) = Key::for_request(kind, Some(ip), sub) else {
                return Ok(());
            };
            if let Some(deferred) = deferred.as_deref_mut() {
                deferred.push(Deferred {
                    limiter: Arc::clone(limits),
                    key,
                    principal: sub.map(str::to_owned),
                });
                return Ok(());
            }
            limits.check(&key).map_err(|problem| Refusal {
                problem,
                rule: "limit",
                reason: "quota_used_up",
                principal: sub.map(str::to_owned),
            })
        };
        limited(Stage::BeforeAuthentication, None)?;
        let principal = authorize(
            policy,
            &self.context.security,
            &self.context.hierarchy,
            req.headers(),
            |name| req.match_info().get(name),
        )?;
        limited(
            Stage::AfterAuthentication,
            principal.as_ref().map(|p| p.sub.as_str()),
        )?;
        let idempotency_key = if policy.idempotent {
            let key = idempotency::key_of(req.headers()).map_err(|problem| Refusal {
                problem,
                rule: "idempotency",
                reason: "missing_or_malformed_key",
                principal: principal.as_ref().map(|p| p.sub.clone()),
            })?;
            // Keys belong to the caller: the subject, or the address of an
            // anonymous caller.
            let who = principal
                .as_ref()
                .map_or_else(|| format!("ip:{ip}"), |p| format!("sub:{}", p.sub));
            Some((who, key))
        } else {
            None
        };
        let slot = match &self.context.limits {
            Some(limits) => limits.enter().map_err(|problem| Refusal {
                problem,
                rule: "limit",
                reason: "too_many_in_flight",
                principal: principal.as_ref().map(|p| p.sub.clone()),
            })?,
            None => None,
        };
        Ok(Decision {
            principal,
            slot,
            idempotency_key,
        })
    }
}

/// A quota to decide in the shared store, before anything else.
pub(crate) struct Deferred {
    limiter: Arc<Limiter>,
    key: Key,
    principal: Option<String>,
}

/// Decides deferred quotas in the shared store, in order: the first
/// refusal, as a response, if any.
async fn decide_shared(
    policy: &'static RoutePolicy,
    shared: &Shared,
    deferred: &[Deferred],
) -> Option<HttpResponse> {
    for quota in deferred {
        if let Err(problem) = quota.limiter.check_shared(shared, &quota.key).await {
            let reason = if problem.status() == StatusCode::TOO_MANY_REQUESTS {
                "quota_used_up"
            } else {
                "shared_store_unavailable"
            };
            audit::refused(policy, quota.principal.as_deref(), "limit", reason);
            return Some(problem.to_response());
        }
    }
    None
}

/// Whether another instance revoked the token: the refusal to send, if so
/// (or if the store cannot say and fails closed).
async fn revoked_elsewhere(
    policy: &'static RoutePolicy,
    shared: &Shared,
    principal: &Principal,
) -> Option<HttpResponse> {
    let (problem, reason) = match shared.is_denied(&principal.jti).await {
        Ok(false) => return None,
        Ok(true) => (
            Problem::unauthorized("a valid bearer access token is required"),
            "revoked",
        ),
        Err(error) => (
            shared.unavailable("token denylist", &error).err()?,
            "shared_store_unavailable",
        ),
    };
    audit::refused(policy, Some(&principal.sub), "authentication", reason);
    Some(problem.to_response())
}

/// What the guard decided before the handler: who calls, the in-flight slot
/// held for the request, and the caller's idempotency key.
struct Decision {
    principal: Option<Principal>,
    slot: Option<InFlight>,
    idempotency_key: Option<(String, String)>,
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

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

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
        let policy = self.policy;
        let successor = successor_link(policy, &req);
        let shared = self.context.security.shared().cloned();
        let mut deferred = Vec::new();
        let decided = self.decide(&req, shared.is_some().then_some(&mut deferred));
        let Decision {
            principal,
            slot,
            idempotency_key,
        } = match decided {
            Ok(decision) => decision,
            Err(refusal) => {
                let audit = move || {
                    audit::refused(
                        policy,
                        refusal.principal.as_deref(),
                        refusal.rule,
                        refusal.reason,
                    );
                    refusal.problem.to_response()
                };
                let Some(shared) = shared.filter(|_| !deferred.is_empty()) else {
                    let mut response = req.into_response(audit());
                    deprecation_headers(policy, successor.as_ref(), response.headers_mut());
                    return Box::pin(ready(Ok(response.map_into_right_body())));
                };
                // The quotas decided before the refusal come first.
                return Box::pin(async move {
                    let answer = decide_shared(policy, &shared, &deferred)
                        .await
                        .unwrap_or_else(audit);
                    let mut response = req.into_response(answer);
                    deprecation_headers(policy, successor.as_ref(), response.headers_mut());
                    Ok(response.map_into_right_body())
                });
            }
        };
        let lookup = match (policy.owner, policy.check_owned, &principal) {
            (
                OwnerRule::Resource {
                    param, or_roles, ..
                },
                Some(check),
                Some(principal),
            ) => {
                let id = req.match_info().get(param).unwrap_or_default().to_owned();
                let bypass = holds_any(&self.context.hierarchy.expand(&principal.roles), or_roles);
                Some(check(
                    id,
                    req.request().clone(),
                    principal.sub.clone(),
                    bypass,
                    policy.state.as_ref(),
                ))
            }
            _ => None,
        };
        let sub = principal.as_ref().map(|p| p.sub.clone());
        let shared_checks = shared.map(|shared| (shared, deferred, principal.clone()));
        if let Some(principal) = principal {
            req.extensions_mut().insert(principal);
        }
        let service = Rc::clone(&self.service);
        let security = self.context.security.clone();
        let webhook = self.context.webhook.clone();
        let guarded = async move {
            // Held until the handler's response is ready.
            let _slot = slot;
            let mut req = req;
            if let Some((shared, deferred, principal)) = &shared_checks {
                let refused = match decide_shared(policy, shared, deferred).await {
                    Some(refused) => Some(refused),
                    None => match principal {
                        Some(principal) => revoked_elsewhere(policy, shared, principal).await,
                        None => None,
                    },
                };
                if let Some(refused) = refused {
                    return Ok(req.into_response(refused).map_into_right_body());
                }
            }
            let claimed = match idempotency_key {
                None => None,
                Some((who, key)) => {
                    let shared = shared_checks.as_ref().map(|(shared, _, _)| shared);
                    match claim(&security, shared, policy, &mut req, (who, key)).await {
                        Ok(Claim::Run(scope)) => Some(scope),
                        Ok(Claim::Answered(response)) => {
                            return Ok(req.into_response(response).map_into_right_body());
                        }
                        Err(problem) => {
                            audit::refused(
                                policy,
                                sub.as_deref(),
                                "idempotency",
                                "key_reused_or_busy",
                            );
                            return Ok(req
                                .into_response(problem.to_response())
                                .map_into_right_body());
                        }
                    }
                }
            };
            if matches!(policy.access, Access::Webhook { .. })
                && let Err((problem, reason)) = verify_webhook(
                    policy,
                    webhook.as_ref(),
                    shared_checks.as_ref().map(|(shared, _, _)| shared),
                    &mut req,
                )
                .await
            {
                if let Some(scope) = &claimed {
                    release(&security, scope).await;
                }
                audit::refused(policy, None, "webhook", reason);
                return Ok(req
                    .into_response(problem.to_response())
                    .map_into_right_body());
            }
            if let Some(lookup) = lookup
                && let Err(problem) = lookup.await
            {
                if let Some(scope) = &claimed {
                    release(&security, scope).await;
                }
                let reason = match problem.status() {
                    StatusCode::NOT_FOUND => "not_owner_or_missing",
                    StatusCode::CONFLICT => "wrong_state",
                    _ => "lookup_failed",
                };
                audit::refused(policy, sub.as_deref(), "owner", reason);
                return Ok(req
                    .into_response(problem.to_response())
                    .map_into_right_body());
            }
            let answer = service.call(req).await;
            let Some(scope) = claimed else {
                return answer.map(ServiceResponse::map_into_left_body);
            };
            remember(&security, &scope, answer).await
        };
        Box::pin(async move {
            let mut answer = guarded.await;
            if let Ok(response) = &mut answer {
                deprecation_headers(policy, successor.as_ref(), response.headers_mut());
            }
            answer
        })
    }
}

/// The successor `Link` of a deprecated route, its `{param}`s filled with
/// this request's values (when they are plain URL characters).
fn successor_link(policy: &RoutePolicy, req: &ServiceRequest) -> Option<HeaderValue> {
    let Lifecycle::Deprecated {
        successor: Some(successor),
        ..
    } = policy.registration.lifecycle
    else {
        return None;
    };
    let mut target = successor.to_owned();
    for (name, value) in req.match_info().iter() {
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            target = target.replace(&format!("{{{name}}}"), value);
        }
    }
    HeaderValue::from_str(&format!("<{target}>; rel=\"successor-version\"")).ok()
}

/// A deprecated route's `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and
/// successor `Link` headers, on every answer it gives.
fn deprecation_headers(policy: &RoutePolicy, link: Option<&HeaderValue>, headers: &mut HeaderMap) {
    let Lifecycle::Deprecated {
        deprecation_header,
        sunset_header,
        ..
    } = policy.registration.lifecycle
    else {
        return;
    };
    for (name, value) in [
        ("deprecation", deprecation_header),
        ("sunset", sunset_header),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    if let Some(link) = link {
        headers.append(actix_web::http::header::LINK, link.clone());
    }
}

enum Claim {
    Run(Claimed),
    Answered(HttpResponse),
}

/// Reads the raw body (within the route's cap), checks its signature with
/// the route's keys and puts it back for the handler. Nothing parses the
/// body before the signature holds.
async fn verify_webhook(
    policy: &'static RoutePolicy,
    keys: Option<&WebhookKeys>,
    shared: Option<&Shared>,
    req: &mut ServiceRequest,
) -> Result<(), (Problem, &'static str)> {
    let body = read_body(req).await.map_err(|p| (p, "body_unreadable"))?;
    let Some(keys) = keys else {
        return Err((WebhookError::BadSignature.into(), "no_keys_registered"));
    };
    let now = crate::auth::sessions::now_secs();
    let id = keys
        .verify_signature(req.headers(), &body, now)
        .map_err(|e| (Problem::from(e), e.reason()))?;
    if let Some(id) = id {
        let remembered = match shared {
            Some(shared) => match shared
                .first_delivery(policy.path, id, keys.replay_window())
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(WebhookError::Replayed),
                Err(error) => {
                    shared
                        .unavailable("webhook replay cache", &error)
                        .map_err(|p| (p, "shared_store_unavailable"))?;
                    keys.remember(id, now)
                }
            },
            None => keys.remember(id, now),
        };
        remembered.map_err(|e| (Problem::from(e), e.reason()))?;
    }
    req.set_payload(Payload::from(body));
    Ok(())
}

/// The whole body, within the route's `PayloadConfig` cap.
async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, Problem> {
    req.extract::<Bytes>().await.map_err(|e| {
        let status = e.as_response_error().status_code();
        Problem::new(if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        })
        .with_detail("the body could not be read")
    })
}

/// A key claimed for this request: in this process, or in the shared store.
enum Claimed {
    Local(idempotency::Scope),
    Shared {
        shared: Shared,
        key: String,
        fingerprint: [u8; 32],
    },
}

/// Reads the body (within the route's cap), puts it back for the handler,
/// and claims the key for this exact request: in the shared store when
/// there is one (falling back to this process's own keys when it fails
/// open), else in this process.
async fn claim(
    security: &SecurityConfig,
    shared: Option<&Shared>,
    policy: &'static RoutePolicy,
    req: &mut ServiceRequest,
    (who, key): (String, String),
) -> Result<Claim, Problem> {
    let body = read_body(req).await?;
    let print = idempotency::fingerprint(req.method(), &req.uri().to_string(), &body);
    req.set_payload(Payload::from(body));
    if let Some(shared) = shared {
        let stored_at = format!(
            "secure_api:idempotency:{} {}:{who}:{key}",
            policy.method, policy.path
        );
        match idempotency::claim_shared(shared, &stored_at, print).await {
            Ok(Ok(idempotency::Claim::Run)) => {
                return Ok(Claim::Run(Claimed::Shared {
                    shared: shared.clone(),
                    key: stored_at,
                    fingerprint: print,
                }));
            }
            Ok(Ok(idempotency::Claim::Replay(response))) => return Ok(Claim::Answered(response)),
            Ok(Err(problem)) => return Err(problem),
            Err(error) => shared.unavailable("idempotency keys", &error)?,
        }
    }
    let scope = (who, std::ptr::from_ref(policy) as usize, key);
    Ok(match security.idempotency().claim(scope.clone(), print)? {
        idempotency::Claim::Run => Claim::Run(Claimed::Local(scope)),
        idempotency::Claim::Replay(response) => Claim::Answered(response),
    })
}

/// Frees a claimed key whose request failed before it was answered.
async fn release(security: &SecurityConfig, claimed: &Claimed) {
    match claimed {
        Claimed::Local(scope) => security.idempotency().abandon(scope),
        Claimed::Shared { shared, key, .. } => {
            if let Err(error) = shared.delete(key).await {
                tracing::warn!(target: "secure_api", %error, "an idempotency key could not be freed");
            }
        }
    }
}

/// Stores the handler's answer under the claimed key and sends it.
async fn remember<B: MessageBody + 'static>(
    security: &SecurityConfig,
    claimed: &Claimed,
    answer: Result<ServiceResponse<B>, Error>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            release(security, claimed).await;
            return Err(e);
        }
    };
    let (request, response) = answer.into_parts();
    let status = response.status();
    let headers = response.headers().clone();
    let Ok(body) = actix_web::body::to_bytes(response.into_body()).await else {
        release(security, claimed).await;
        let failed = Problem::new(StatusCode::INTERNAL_SERVER_ERROR).to_response();
        return Ok(ServiceResponse::new(request, failed).map_into_right_body());
    };
    match claimed {
        Claimed::Local(scope) => security
            .idempotency()
            .finish(scope, status, &headers, &body),
        Claimed::Shared {
            shared,
            key,
            fingerprint,
        } => {
            if let Err(error) =
                idempotency::finish_shared(shared, key, *fingerprint, status, &headers, &body).await
            {
                tracing::warn!(target: "secure_api", %error, "an answer could not be kept for replays");
            }
        }
    }
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in &headers {
        rebuilt.append_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(request, rebuilt.body(body)).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::JwtKey;
    use crate::config::Mode;
    use crate::policy::{Lifecycle, Method, Registration, RoleRule};
    use actix_web::http::header::HeaderValue;

    static OWNER: RoutePolicy = RoutePolicy {
        handler: "get_user",
        method: Method::Get,
        path: "/api/users/{user_id}",
        access: Access::Authenticated,
        roles: RoleRule::None,
        owner: OwnerRule::Subject {
            param: "user_id",
            or_roles: &["support"],
        },
        check_owned: None,
        limit: crate::policy::LimitRule::NONE,
        state: None,
        idempotent: false,
        registration: Registration {
            owner: "tests",
            lifecycle: Lifecycle::Production,
        },
    };

    static ADMIN: RoutePolicy = RoutePolicy {
        handler: "admin",
        method: Method::Post,
        path: "/api/admin/users",
        access: Access::Authenticated,
        roles: RoleRule::Any(&["admin"]),
        owner: OwnerRule::None,
        check_owned: None,
        limit: crate::policy::LimitRule::NONE,
        state: None,
        idempotent: false,
        registration: Registration {
            owner: "tests",
            lifecycle: Lifecycle::Production,
        },
    };

    fn config() -> SecurityConfig {
        match SecurityConfig::builder(Mode::Dev)
            .key(JwtKey::hs256(
                b"guard unit tests secret, 32 bytes+".to_vec(),
            ))
            .build()
        {
            Ok(config) => config,
            Err(e) => panic!("{e}"),
        }
    }

    fn headers(config: &SecurityConfig, sub: &str, roles: &[&str]) -> HeaderMap {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let token = config
            .issue_access_token(sub, &roles)
            .map(|t| t.token)
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("bearer {token}")) {
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    fn rule_of(result: Result<Option<Principal>, Refusal>) -> Option<&'static str> {
        result.err().map(|r| r.rule)
    }

    #[test]
    fn owner_rule_compares_the_path_parameter_with_the_subject() {
        let config = config();
        let mine = authorize(
            &OWNER,
            &config,
            &RoleHierarchy::new(),
            &headers(&config, "7", &[]),
            |_| Some("7"),
        );
        assert!(matches!(mine, Ok(Some(p)) if p.sub == "7"));
        assert_eq!(
            rule_of(authorize(
                &OWNER,
                &config,
                &RoleHierarchy::new(),
                &headers(&config, "7", &[]),
                |_| Some("8")
            )),
            Some("owner")
        );
        assert_eq!(
            rule_of(authorize(
                &OWNER,
                &config,
                &RoleHierarchy::new(),
                &headers(&config, "7", &[]),
                |_| None
            )),
            Some("owner")
        );
        assert!(
            authorize(
                &OWNER,
                &config,
                &RoleHierarchy::new(),
                &headers(&config, "7", &["support"]),
                |_| Some("8")
            )
            .is_ok()
        );
    }

    #[test]
    fn roles_are_checked_after_authentication() {
        let config = config();
        assert_eq!(
            rule_of(authorize(
                &ADMIN,
                &config,
                &RoleHierarchy::new(),
                &headers(&config, "1", &["user"]),
                |_| None
            )),
            Some("roles")
        );
        assert!(
            authorize(
                &ADMIN,
                &config,
                &RoleHierarchy::new(),
                &headers(&config, "1", &["admin"]),
                |_| { None }
            )
            .is_ok()
        );
        assert_eq!(
            rule_of(authorize(
                &ADMIN,
                &config,
                &RoleHierarchy::new(),
                &HeaderMap::new(),
                |_| None
            )),
            Some("authentication")
        );
    }

    #[test]
    fn the_role_hierarchy_grants_included_roles() {
        let config = config();
        let hierarchy = RoleHierarchy::new().role("owner", ["admin"]);
        assert!(
            authorize(
                &ADMIN,
                &config,
                &hierarchy,
                &headers(&config, "1", &["owner"]),
                |_| None
            )
            .is_ok()
        );
        let support = RoleHierarchy::new().role("lead", ["support"]);
        assert!(
            authorize(
                &OWNER,
                &config,
                &support,
                &headers(&config, "7", &["lead"]),
                |_| Some("8")
            )
            .is_ok()
        );
    }

    #[test]
    fn authorization_header_forms() {
        let token = "a.b.c";
        let parse = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(AUTHORIZATION, value);
            }
            bearer_token(&headers).map(str::to_owned)
        };
        assert_eq!(parse("Bearer a.b.c"), Ok(token.to_owned()));
        assert_eq!(parse("BEARER a.b.c"), Ok(token.to_owned()));
        assert_eq!(parse("Basic a.b.c"), Err("not_bearer"));
        assert_eq!(parse("Bearer"), Err("malformed_authorization"));
        assert_eq!(parse("Bearer a b"), Err("malformed_authorization"));
        assert_eq!(parse(""), Err("malformed_authorization"));
        let mut twice = HeaderMap::new();
        twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer a.b.c"));
        twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer d.e.f"));
        assert_eq!(bearer_token(&twice), Err("several_authorization_headers"));
    }
}
