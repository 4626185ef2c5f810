//! The application middleware: forwards only requests that a secured route
//! matches, answers 404, 405 and 410 itself otherwise, refuses plain HTTP
//! in production and oversized heads, answers CORS preflights, and puts the
//! security headers (and CORS marks) on every answer. It also holds every
//! request body to a minimum rate (408 below it) and tells a watched
//! connection when its answers are sent (see [`crate::server`]). Every
//! request gets its id, span, audit event and metrics here (see
//! [`crate::observe`]).

use std::cell::Cell;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _, HttpResponse};
use tracing::Instrument as _;

use super::errors::problem_for_errors;
use super::matcher::{Dispatch, RouteTable};
use super::{MAX_HEADER_BYTES, MAX_QUERY_BYTES};
use crate::auth::oidc::metadata;
use crate::config::{Mode, SecurityConfig};
use crate::cors::Cors;
use crate::headers::SecurityHeaders;
use crate::observe::context::{self, Context, Outcome};
use crate::observe::{REQUEST_ID_HEADER, RequestId, audit, metrics};
use crate::problem::Problem;
use crate::server::{Hardening, MinRate, Watched};
use crate::transport;

pub(crate) struct Backstop {
    pub(crate) table: Rc<RouteTable>,
    pub(crate) headers: Rc<SecurityHeaders>,
    pub(crate) cors: Option<Rc<Cors>>,
    pub(crate) security: SecurityConfig,
    /// The protected-resource metadata (RFC 9728), when OpenID issuers are
    /// configured.
    pub(crate) metadata: Option<Rc<Bytes>>,
}

impl<S, B> Transform<S, ServiceRequest> for Backstop
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BackstopService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BackstopService {
            service: Rc::new(service),
            table: Rc::clone(&self.table),
            headers: Rc::clone(&self.headers),
            cors: self.cors.clone(),
            security: Rc::new(self.security.clone()),
            metadata: self.metadata.clone(),
        }))
    }
}

pub(crate) struct BackstopService<S> {
    service: Rc<S>,
    table: Rc<RouteTable>,
    headers: Rc<SecurityHeaders>,
    cors: Option<Rc<Cors>>,
    /// In an `Rc`: each request holds it until its answer, and the
    /// configuration's own clone is an atomic count.
    security: Rc<SecurityConfig>,
    metadata: Option<Rc<Bytes>>,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// What the backstop decided before any route runs.
enum Before {
    /// Answered here, without routing, and without CORS marks (a transport
    /// refusal, a preflight).
    Unmarked(HttpResponse),
    /// Answered here, without routing.
    Answer(HttpResponse),
    /// A secured route serves it.
    Forward,
}

impl<S> BackstopService<S> {
    fn decide(
        &self,
        req: &ServiceRequest,
        head: &Head,
        over_tls: bool,
        origin: Option<&HeaderValue>,
    ) -> Before {
        if !over_tls && self.security.mode() == Mode::Prod {
            context::refused("transport", "plain HTTP in production");
            return Before::Unmarked(transport::plain_http_answer(
                self.security.plain_http(),
                req,
            ));
        }
        if let Some(cors) = &self.cors
            && Cors::is_preflight(req.method(), req.headers())
        {
            return Before::Unmarked(self.preflight(cors, req, origin));
        }
        if let Some(problem) = oversized_head(req, head) {
            context::refused("head", "query string or headers over the cap");
            return Before::Answer(problem.to_response());
        }
        if let Some(metadata) = &self.metadata
            && req.path() == metadata::PATH
        {
            context::decide(|decision| decision.rule = "public");
            return Before::Answer(match *req.method() {
                Method::GET | Method::HEAD => HttpResponse::Ok()
                    .content_type("application/json")
                    .body(Bytes::clone(metadata)),
                _ => Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                    .with_detail("this resource does not answer that method")
                    .with_header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
                    .to_response(),
            });
        }
        let problem = match self.table.classify(
            req.method(),
            req.match_info().unprocessed(),
            req.resource_map(),
        ) {
            Dispatch::Secured => return Before::Forward,
            Dispatch::MethodNotAllowed(allow) => {
                context::refused("routing", "the path does not serve this method");
                let mut problem = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                    .with_detail("this resource does not answer that method");
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    problem = problem.with_header(header::ALLOW, value);
                }
                problem
            }
            Dispatch::SideDoor => {
                context::refused("backstop", "a route mounted outside SecureApp");
                tracing::error!(
                    target: "secure_api",
                    method = %req.method(),
                    path = req.path(),
                    pattern = req.resource_map().match_pattern(req.match_info().unprocessed()).unwrap_or_default(),
                    rule = "backstop",
                    outcome = "refused",
                    "a route that was not mounted through SecureApp matched; it has no security policy"
                );
                Problem::new(StatusCode::GONE).with_detail("this route is not available")
            }
            Dispatch::NotFound => {
                context::refused("routing", "no route at this path");
                Problem::not_found()
            }
        };
        Before::Answer(problem.to_response())
    }

    /// A CORS preflight: 204 with the allowed methods for an allowed origin
    /// asking for a method the path serves, 403 otherwise.
    fn preflight(
        &self,
        cors: &Cors,
        req: &ServiceRequest,
        origin: Option<&HeaderValue>,
    ) -> HttpResponse {
        let methods = self.table.methods(req.match_info().unprocessed());
        let requested = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok());
        let serves = requested.is_some_and(|m| methods.split(", ").any(|served| served == m));
        match (origin, serves) {
            (Some(origin), true) => {
                context::decide(|decision| decision.rule = "cors");
                let mut response = HttpResponse::NoContent().finish();
                cors.apply_preflight(origin, &methods, response.headers_mut());
                response
            }
            _ => {
                context::refused("cors", "origin or method not allowed");
                Problem::new(StatusCode::FORBIDDEN)
                    .with_detail("this origin may not call this route with that method")
                    .to_response()
            }
        }
    }
}

impl<S, B> Service<ServiceRequest> for BackstopService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        // Handlers read the id from the request's context (`RequestId`).
        let context = Context::new(RequestId::for_headers(req.headers()));
        // At `debug`, with the id alone: every log line names the id without
        // it (see `observe::format`), and the audit event names the rest.
        // Below `debug` there is no span at all: one made disabled would
        // still call into `log` on every entry (`tracing`'s `log` feature,
        // which actix turns on).
        let span = if tracing::level_enabled!(tracing::Level::DEBUG) {
            tracing::debug_span!(
                target: "secure_api",
                "secure_api.request",
                request_id = context.id.as_str(),
            )
        } else {
            tracing::Span::none()
        };
        let watched = req.conn_data::<Watched>().cloned();
        let in_flight = watched.as_ref().map(Watched::begin);
        let hardening = watched.map_or_else(Hardening::default, |w| w.hardening);
        let head = Head::read(&req);
        let slow_body = head.body.then(|| {
            let tripped = Rc::new(Cell::new(false));
            let payload = req.take_payload();
            let limited = MinRate::new(payload, hardening, Rc::clone(&tripped));
            req.set_payload(Payload::Stream {
                payload: Box::pin(limited),
            });
            tripped
        });
        let over_tls = transport::over_tls(&req, &self.security);
        let origin = self
            .cors
            .as_ref()
            .and_then(|cors| cors.allowed_origin(req.headers()).cloned());
        let decided = span.in_scope(|| {
            context::sync_scope(Rc::clone(&context), || {
                self.decide(&req, &head, over_tls, origin.as_ref())
            })
        });
        let security = Rc::clone(&self.security);
        let method = req.method().clone();
        let scoped = Rc::clone(&context);
        let headers = Rc::clone(&self.headers);
        let cors = self.cors.clone();
        let challenge_metadata = self.metadata.is_some();
        // Every answer, forwarded or not, ends here.
        let finish = move |response: ServiceResponse<EitherBody<B>>, mark: bool| {
            let mut response = match slow_body {
                Some(tripped) if tripped.get() => {
                    context::refused("deadline", "the body arrived too slowly");
                    too_slow(response)
                }
                _ => response,
            };
            // Ours even when the handler set one.
            response
                .headers_mut()
                .insert(REQUEST_ID_HEADER, context.id.header_value());
            record(&context, &method, &response, &security);
            if challenge_metadata && response.status() == StatusCode::UNAUTHORIZED {
                let challenge = metadata::challenge(response.request().headers(), over_tls);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge);
            }
            headers.apply(response.headers_mut(), over_tls);
            if mark && let (Some(cors), Some(origin)) = (&cors, &origin) {
                cors.apply(origin, response.headers_mut());
            }
            match in_flight {
                Some(in_flight) => response
                    .map_body(|_, body| EitherBody::right(in_flight.track(BoxBody::new(body)))),
                None => response,
            }
        };
        let (answer, mark) = match decided {
            Before::Unmarked(answer) => (answer, false),
            Before::Answer(answer) => (answer, true),
            Before::Forward => {
                let service = Rc::clone(&self.service);
                let forwarded = async move {
                    let response = problem_for_errors(service.call(req).await?);
                    Ok(finish(response, true))
                };
                let forwarded = context::scope(scoped, forwarded);
                // Entered on every poll only when a subscriber records it.
                return if span.is_disabled() {
                    Box::pin(forwarded)
                } else {
                    Box::pin(forwarded.instrument(span))
                };
            }
        };
        let response = req.into_response(answer).map_into_right_body();
        let response = span.in_scope(|| context::sync_scope(scoped, || finish(response, mark)));
        Box::pin(ready(Ok(response)))
    }
}

/// The request's audit event and metrics, once its answer is ready. With
/// neither on, the clock is not read.
fn record<B>(
    context: &Context,
    method: &Method,
    response: &ServiceResponse<B>,
    security: &SecurityConfig,
) {
    let audited = audit::wanted(context);
    if !audited && !metrics::enabled() {
        return;
    }
    let seconds = context.started.elapsed().as_secs_f64();
    let (route, refused_by) = {
        let mut decision = context.decision.borrow_mut();
        if decision.client.is_none() {
            decision.client = security.client_ip(response.request());
        }
        let refused = decision.outcome == Outcome::Refused;
        (
            decision.route.unwrap_or(audit::UNMATCHED),
            refused.then_some(decision.rule),
        )
    };
    if audited {
        audit::emit(context, method, response.status(), seconds);
    }
    metrics::request(route, method, response.status(), seconds, refused_by);
}

/// What a request's headers say of it, read in one pass.
struct Head {
    /// The names' and values' bytes, together.
    bytes: usize,
    /// It announces a body: a length above 0, or chunks.
    body: bool,
}

impl Head {
    fn read(req: &ServiceRequest) -> Self {
        let mut head = Self {
            bytes: 0,
            body: false,
        };
        for (name, value) in req.headers() {
            head.bytes += name.as_str().len() + value.len();
            head.body |= *name == header::TRANSFER_ENCODING
                || (*name == header::CONTENT_LENGTH && value.as_bytes() != b"0");
        }
        head
    }
}

/// The answer to a request whose body arrived too slowly: 408, and the
/// connection closed.
fn too_slow<B>(response: ServiceResponse<EitherBody<B>>) -> ServiceResponse<EitherBody<B>> {
    let (request, _) = response.into_parts();
    let mut answer = Problem::new(StatusCode::REQUEST_TIMEOUT)
        .with_detail("the request body arrived too slowly")
        .to_response();
    answer
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    ServiceResponse::new(request, answer).map_into_right_body()
}

/// A query string or header block larger than the caps, answered before
/// routing.
fn oversized_head(req: &ServiceRequest, head: &Head) -> Option<Problem> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        return Some(Problem::new(StatusCode::URI_TOO_LONG).with_detail(format!(
            "the query string is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    (head.bytes > MAX_HEADER_BYTES).then(|| {
        Problem::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).with_detail(format!(
            "the headers are larger than {MAX_HEADER_BYTES} bytes"
        ))
    })
}
