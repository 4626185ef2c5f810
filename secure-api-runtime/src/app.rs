//! [`SecureApp`]: the one way to mount secured routes on an actix `App`.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{
    AppService, HttpServiceFactory, ResourceDef, ResourceMap, Service, ServiceFactory,
    ServiceRequest, ServiceResponse, Transform, forward_ready,
};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, Error, FromRequest, Handler, Resource, Responder, guard, web};

use crate::config::{Mode, PlainHttp, SecurityConfig};
use crate::cors::Cors;
use crate::guard::{Route, RouteGuard};
use crate::headers::SecurityHeaders;
use crate::net::forwarded_https;
use crate::policy::Access;
use crate::policy::{Quota, RoutePolicy};
use crate::problem::{PROBLEM_JSON, Problem};
use crate::roles::RoleHierarchy;
use crate::webhook::WebhookKeys;

/// The default cap on JSON request bodies.
pub const DEFAULT_JSON_LIMIT: usize = 1024 * 1024;

/// The longest query string answered (414 beyond it).
pub const MAX_QUERY_BYTES: usize = 4 * 1024;

/// The most header bytes (names and values) answered (431 beyond them).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A route declared with the secure-api route attributes.
///
/// Only the route macros implement it: the trait is sealed, so a plain
/// actix handler, a bare fn or an actix `Resource` cannot be mounted on a
/// [`SecureApp`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a secured route",
    label = "not declared with a secure-api route attribute",
    note = "`SecureApp::service` mounts only handlers declared with `#[get]`, `#[post]`, `#[put]`, `#[patch]` or `#[delete]` from `secure_api_runtime::prelude` together with an access policy",
    note = "to fix it, declare the handler with `#[get(\"/path\")]` and one of `#[public]`, `#[authenticated]`, `#[roles(..)]`, `#[owner(..)]`, instead of `#[actix_web::get]`, a bare fn or an actix `Resource`"
)]
pub trait SecureRoute: crate::__private::Sealed {
    /// The route's declared policy.
    fn policy(&self) -> &'static RoutePolicy;

    #[doc(hidden)]
    fn register(self, mount: &mut crate::__private::Mount<'_>);
}

/// Registers a route's handler behind its guard. Used by generated code.
#[doc(hidden)]
pub struct Mount<'a> {
    config: &'a mut AppService,
    security: &'a SecurityConfig,
    hierarchy: &'a Rc<RoleHierarchy>,
    default_quotas: &'a [Quota],
    webhooks: &'a HashMap<String, WebhookKeys>,
}

impl fmt::Debug for Mount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount").finish_non_exhaustive()
    }
}

impl Mount<'_> {
    /// Mounts `handler` at `policy.path` for `policy.method`, guarded by `policy`.
    pub fn route<F, Args>(&mut self, policy: &'static RoutePolicy, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let quotas = &self.security.stores().quotas;
        let route = Route {
            policy,
            security: self.security.clone(),
            hierarchy: Rc::clone(self.hierarchy),
            limits: quotas.route(policy),
            default_limits: if policy.limit.quotas.is_empty() {
                quotas.default_quotas(self.default_quotas)
            } else {
                None
            },
            webhook: match policy.access {
                Access::Webhook { secret } => {
                    let keys = self.webhooks.get(secret).cloned();
                    if keys.is_none() {
                        tracing::error!(
                            target: "secure_api",
                            route = policy.handler,
                            secret,
                            "no webhook keys are registered under this name: every delivery will be refused"
                        );
                    }
                    keys
                }
                _ => None,
            },
        };
        let mut resource = Resource::new(policy.path).guard(guard::Method(policy.method.as_http()));
        let cap = policy.limit.body.and_then(|cap| usize::try_from(cap).ok());
        // An idempotent route (to recognise a replay) and a webhook (to check
        // its signature) read the body in the guard: they get the JSON cap
        // for raw bodies too.
        let reads_body = policy.idempotent || matches!(policy.access, Access::Webhook { .. });
        let cap = cap.or(reads_body.then_some(DEFAULT_JSON_LIMIT));
        if let Some(cap) = cap {
            resource = resource
                .app_data(
                    web::JsonConfig::default()
                        .limit(cap)
                        .error_handler(json_error),
                )
                .app_data(web::PayloadConfig::new(cap));
        }
        let resource = resource
            .wrap(RouteGuard::new(route))
            .route(web::route().to(handler));
        HttpServiceFactory::register(resource, self.config);
    }
}

/// A deferred change to the actix configuration (application data).
type Configure = Box<dyn FnOnce(&mut web::ServiceConfig)>;

struct Mounted {
    policy: &'static RoutePolicy,
    register: Box<dyn FnOnce(&mut Mount<'_>)>,
}

/// Builds an actix [`App`] that serves only secured routes.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[get("/health")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[public]
/// async fn health() -> &'static str {
///     "ok"
/// }
///
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
/// let app = SecureApp::new(security).service(health);
/// assert_eq!(app.routes()[0].path, "/health");
/// let _actix_app = app.into_app();
/// ```
pub struct SecureApp {
    security: SecurityConfig,
    hierarchy: RoleHierarchy,
    default_quotas: Vec<Quota>,
    headers: SecurityHeaders,
    cors: Option<Cors>,
    routes: Vec<Mounted>,
    configure: Vec<Configure>,
    webhooks: HashMap<String, WebhookKeys>,
}

impl fmt::Debug for SecureApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureApp")
            .field("security", &self.security)
            .field(
                "routes",
                &self.routes.iter().map(|r| r.policy).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl SecureApp {
    /// An application with no routes yet.
    pub fn new(security: SecurityConfig) -> Self {
        Self {
            security,
            hierarchy: RoleHierarchy::new(),
            default_quotas: Vec::new(),
            headers: SecurityHeaders::default(),
            cors: None,
            routes: Vec::new(),
            configure: Vec::new(),
            webhooks: HashMap::new(),
        }
    }

    /// Registers the keys of the `#[webhook(secret = "NAME")]` routes named
    /// `name`. Build the keys once, outside the `HttpServer` closure, and
    /// pass clones, so every worker shares one replay cache. A webhook route
    /// whose name has no keys refuses every delivery (and says so in the log
    /// when the app is built).
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    /// use secure_api_runtime::webhook::WebhookKeys;
    ///
    /// #[post("/api/webhooks/payment")]
    /// #[registered(owner = "platform", lifecycle = production)]
    /// #[webhook(secret = "PAYMENT_WEBHOOK_SECRET")]
    /// async fn payment() -> HttpResponse {
    ///     HttpResponse::Accepted().finish()
    /// }
    ///
    /// let keys = WebhookKeys::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    /// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
    /// let _app = SecureApp::new(security)
    ///     .webhook("PAYMENT_WEBHOOK_SECRET", keys.clone())
    ///     .service(payment)
    ///     .into_app();
    /// ```
    #[must_use]
    pub fn webhook(mut self, name: &str, keys: WebhookKeys) -> Self {
        self.webhooks.insert(name.to_owned(), keys);
        self
    }

    /// Mounts a secured route.
    #[must_use]
    pub fn service<R: SecureRoute + 'static>(mut self, route: R) -> Self {
        let policy = route.policy();
        if self
            .routes
            .iter()
            .any(|r| r.policy.method == policy.method && r.policy.path == policy.path)
        {
            tracing::warn!(
                target: "secure_api",
                method = policy.method.as_str(),
                path = policy.path,
                handler = policy.handler,
                "a route with this method and path is already mounted; the first one answers"
            );
        }
        self.routes.push(Mounted {
            policy,
            register: Box::new(move |mount| route.register(mount)),
        });
        self
    }

    /// Sets which roles include which (e.g. `admin` includes `user`) for
    /// every `#[roles]` and `or_roles` check.
    #[must_use]
    pub fn role_hierarchy(mut self, hierarchy: RoleHierarchy) -> Self {
        self.hierarchy = hierarchy;
        self
    }

    /// Quotas for every route that declares none of its own, counted per
    /// client address on public routes and per user on the others, across
    /// all those routes together.
    ///
    /// ```
    /// use secure_api_runtime::policy::Quota;
    /// use secure_api_runtime::prelude::*;
    ///
    /// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
    /// let app = SecureApp::new(security).default_limit(&[Quota::per_minute(200)]);
    /// ```
    #[must_use]
    pub fn default_limit(mut self, quotas: &[Quota]) -> Self {
        self.default_quotas = quotas.to_vec();
        self
    }

    /// Replaces the security headers added to every response (for example
    /// a different `Content-Security-Policy`).
    #[must_use]
    pub fn security_headers(mut self, headers: SecurityHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// Answers CORS preflights and marks answers to the origins `cors`
    /// allows. Without it, no cross-origin page can read any answer.
    #[must_use]
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Adds application data, as `actix_web::App::app_data` does.
    #[must_use]
    pub fn app_data<U: 'static>(mut self, data: U) -> Self {
        self.configure.push(Box::new(move |config| {
            config.app_data(data);
        }));
        self
    }

    /// The policies of the mounted routes, in mounting order.
    pub fn routes(&self) -> Vec<&'static RoutePolicy> {
        self.routes.iter().map(|r| r.policy).collect()
    }

    /// The security configuration.
    pub fn security(&self) -> &SecurityConfig {
        &self.security
    }

    /// Builds the actix `App`: the mounted routes behind their guards, the
    /// extractor settings that answer problem+json, and the backstop that
    /// refuses any route not mounted through this `SecureApp`.
    pub fn into_app(
        self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = Error,
            InitError = (),
        >,
    > {
        let table = RouteTable {
            routes: self
                .routes
                .iter()
                .map(|r| (Pattern::new(r.policy.path), r.policy))
                .collect(),
        };
        let headers = self
            .headers
            .clone()
            .always_hsts(self.security.mode() == Mode::Prod);
        let cors = self.cors.clone().map(Rc::new);
        let mut app = App::new()
            .app_data(
                web::JsonConfig::default()
                    .limit(DEFAULT_JSON_LIMIT)
                    .error_handler(json_error),
            )
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::QueryConfig::default().error_handler(query_error));
        for configure in self.configure {
            app = app.configure(configure);
        }
        let security = self.security.clone();
        app.service(Routes {
            security: self.security,
            hierarchy: Rc::new(self.hierarchy),
            default_quotas: self.default_quotas,
            routes: self.routes,
            webhooks: self.webhooks,
        })
        .wrap(Backstop {
            table: Rc::new(table),
            headers: Rc::new(headers),
            cors,
            security,
        })
    }
}

struct Routes {
    security: SecurityConfig,
    hierarchy: Rc<RoleHierarchy>,
    default_quotas: Vec<Quota>,
    routes: Vec<Mounted>,
    webhooks: HashMap<String, WebhookKeys>,
}

impl HttpServiceFactory for Routes {
    fn register(self, config: &mut AppService) {
        let mut mount = Mount {
            config,
            security: &self.security,
            hierarchy: &self.hierarchy,
            default_quotas: &self.default_quotas,
            webhooks: &self.webhooks,
        };
        for route in self.routes {
            (route.register)(&mut mount);
        }
    }
}

/// The secured routes' patterns, to decide before routing whether a request
/// may reach a handler.
struct RouteTable {
    routes: Vec<(Pattern, &'static RoutePolicy)>,
}

/// A route pattern, matched the way actix's router matches it. Patterns of
/// static segments and plain `{name}` parameters are compared segment by
/// segment; any other pattern is left to actix's `ResourceDef`.
enum Pattern {
    Segments(Vec<Segment>),
    Def(Box<ResourceDef>),
}

enum Segment {
    Static(&'static str),
    Param,
}

impl Pattern {
    fn new(pattern: &'static str) -> Self {
        let segments: Option<Vec<Segment>> = pattern
            .split('/')
            .map(|segment| {
                let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                match inner {
                    Some(name)
                        if !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                    {
                        Some(Segment::Param)
                    }
                    _ if segment.contains(['{', '}', '*']) => None,
                    _ => Some(Segment::Static(segment)),
                }
            })
            .collect();
        match segments {
            Some(segments) => Self::Segments(segments),
            None => Self::Def(Box::new(ResourceDef::new(pattern))),
        }
    }

    fn is_match(&self, path: &str) -> bool {
        match self {
            Self::Def(def) => def.is_match(path),
            Self::Segments(segments) => {
                let mut parts = path.split('/');
                segments
                    .iter()
                    .all(|segment| match (segment, parts.next()) {
                        (Segment::Static(expected), Some(part)) => *expected == part,
                        (Segment::Param, Some(part)) => !part.is_empty(),
                        (_, None) => false,
                    })
                    && parts.next().is_none()
            }
        }
    }
}

enum Dispatch {
    Secured,
    MethodNotAllowed(String),
    SideDoor,
    NotFound,
}

impl RouteTable {
    /// The methods the secured routes serve at `path`, comma separated.
    fn methods(&self, path: &str) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for (def, policy) in &self.routes {
            if def.is_match(path) && !methods.contains(&policy.method.as_str()) {
                methods.push(policy.method.as_str());
            }
        }
        methods.join(", ")
    }

    fn classify(
        &self,
        method: &actix_web::http::Method,
        path: &str,
        resources: &ResourceMap,
    ) -> Dispatch {
        let mut allowed: Vec<&str> = Vec::new();
        for (def, policy) in &self.routes {
            if def.is_match(path) {
                if policy.method.as_http() == method {
                    return Dispatch::Secured;
                }
                if !allowed.contains(&policy.method.as_str()) {
                    allowed.push(policy.method.as_str());
                }
            }
        }
        if !allowed.is_empty() {
            Dispatch::MethodNotAllowed(allowed.join(", "))
        } else if resources.has_resource(path) {
            Dispatch::SideDoor
        } else {
            Dispatch::NotFound
        }
    }
}

/// Application middleware: forwards only requests that a secured route
/// matches, answers 404/405/410 itself otherwise, and turns framework
/// errors into problem+json.
struct Backstop {
    table: Rc<RouteTable>,
    headers: Rc<SecurityHeaders>,
    cors: Option<Rc<Cors>>,
    security: SecurityConfig,
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
            security: self.security.clone(),
        }))
    }
}

/// The answer to a request that did not arrive over TLS in production:
/// 403, or a 308 to the `https` URL for a `GET` or `HEAD` when configured.
fn plain_http_answer(choice: PlainHttp, req: &ServiceRequest) -> actix_web::HttpResponse {
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if choice == PlainHttp::Redirect && safe {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            });
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        if let Some(host) = host {
            // An explicit port was the plain-HTTP one; the https URL keeps
            // the host only (`[v6]:port` keeps `[v6]`).
            let host = match host.strip_prefix('[') {
                Some(rest) => rest
                    .split_once(']')
                    .map_or(host, |(v6, _)| &host[..v6.len() + 2]),
                None => host.split_once(':').map_or(host, |(name, _)| name),
            };
            if let Ok(location) = HeaderValue::from_str(&format!("https://{host}{target}")) {
                return actix_web::HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, location))
                    .finish();
            }
        }
    }
    tracing::warn!(
        target: "secure_api::audit",
        rule = "transport",
        outcome = "refused",
        reason = "plain_http",
        path = %req.path(),
        "a request arrived without TLS in production mode"
    );
    Problem::forbidden("this API is served over HTTPS only").to_response()
}

struct BackstopService<S> {
    service: Rc<S>,
    table: Rc<RouteTable>,
    headers: Rc<SecurityHeaders>,
    cors: Option<Rc<Cors>>,
    security: SecurityConfig,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for BackstopService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let headers = Rc::clone(&self.headers);
        let over_tls = req.app_config().secure()
            || forwarded_https(
                req.peer_addr().map(|a| a.ip()),
                req.headers(),
                self.security.trusted_proxies(),
            );
        if !over_tls && self.security.mode() == Mode::Prod {
            let answer = plain_http_answer(self.security.plain_http(), &req);
            let mut response = req.into_response(answer);
            headers.apply(response.headers_mut(), over_tls);
            return Box::pin(ready(Ok(response.map_into_right_body())));
        }
        let origin = self
            .cors
            .as_ref()
            .and_then(|cors| cors.allowed_origin(req.headers()).cloned());
        if let Some(cors) = &self.cors
            && Cors::is_preflight(req.method(), req.headers())
        {
            let methods = self.table.methods(req.match_info().unprocessed());
            let requested = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .and_then(|m| m.to_str().ok());
            let serves = requested.is_some_and(|m| methods.split(", ").any(|served| served == m));
            let mut response = match (&origin, serves) {
                (Some(origin), true) => {
                    let mut response = actix_web::HttpResponse::NoContent().finish();
                    cors.apply_preflight(origin, &methods, response.headers_mut());
                    req.into_response(response)
                }
                _ => req.into_response(
                    Problem::new(StatusCode::FORBIDDEN)
                        .with_detail("this origin may not call this route with that method")
                        .to_response(),
                ),
            };
            headers.apply(response.headers_mut(), over_tls);
            return Box::pin(ready(Ok(response.map_into_right_body())));
        }
        let cors = self.cors.clone();
        let mark = move |map: &mut header::HeaderMap| {
            if let (Some(cors), Some(origin)) = (&cors, &origin) {
                cors.apply(origin, map);
            }
        };
        if let Some(problem) = oversized_head(&req) {
            let mut response = req.into_response(problem.to_response());
            headers.apply(response.headers_mut(), over_tls);
            mark(response.headers_mut());
            return Box::pin(ready(Ok(response.map_into_right_body())));
        }
        let problem = match self.table.classify(
            req.method(),
            req.match_info().unprocessed(),
            req.resource_map(),
        ) {
            Dispatch::Secured => {
                let service = Rc::clone(&self.service);
                return Box::pin(async move {
                    let mut response = problem_for_errors(service.call(req).await?);
                    headers.apply(response.headers_mut(), over_tls);
                    mark(response.headers_mut());
                    Ok(response)
                });
            }
            Dispatch::MethodNotAllowed(allow) => {
                let mut problem = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                    .with_detail("this resource does not answer that method");
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    problem = problem.with_header(header::ALLOW, value);
                }
                problem
            }
            Dispatch::SideDoor => {
                tracing::error!(
                    target: "secure_api::audit",
                    method = %req.method(),
                    path = req.path(),
                    pattern = req.resource_map().match_pattern(req.match_info().unprocessed()).unwrap_or_default(),
                    rule = "backstop",
                    outcome = "refused",
                    "a route that was not mounted through SecureApp matched; it has no security policy"
                );
                Problem::new(StatusCode::GONE).with_detail("this route is not available")
            }
            Dispatch::NotFound => Problem::not_found(),
        };
        let mut response = req.into_response(problem.to_response());
        headers.apply(response.headers_mut(), over_tls);
        mark(response.headers_mut());
        Box::pin(ready(Ok(response.map_into_right_body())))
    }
}

/// A query string or header block larger than the caps, answered before
/// routing.
fn oversized_head(req: &ServiceRequest) -> Option<Problem> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        return Some(Problem::new(StatusCode::URI_TOO_LONG).with_detail(format!(
            "the query string is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (header_bytes > MAX_HEADER_BYTES).then(|| {
        Problem::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).with_detail(format!(
            "the headers are larger than {MAX_HEADER_BYTES} bytes"
        ))
    })
}

/// Replaces the body of a response produced from an error with a generic
/// problem, unless it already is one. Server errors are logged with their
/// cause, which never reaches the client.
fn problem_for_errors<B: MessageBody>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let Some(error) = res.response().error() else {
        return res.map_into_left_body();
    };
    if is_problem {
        return res.map_into_left_body();
    }
    let status = res.status();
    if status.is_server_error() {
        tracing::error!(target: "secure_api", status = status.as_u16(), error = %error, "request failed");
    }
    let problem = Problem::new(status);
    res.into_response(problem.to_response())
        .map_into_right_body()
}

fn json_error(error: JsonPayloadError, _: &actix_web::HttpRequest) -> Error {
    let problem = match &error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
            .with_detail(format!("the body is larger than {limit} bytes")),
        JsonPayloadError::ContentType => Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with_detail("the body must be `application/json`"),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                .with_detail(format!("the body does not fit: {e}"))
        }
        _ => Problem::new(StatusCode::BAD_REQUEST).with_detail("the body is not valid JSON"),
    };
    problem.into()
}

fn path_error(_: PathError, _: &actix_web::HttpRequest) -> Error {
    Problem::new(StatusCode::BAD_REQUEST)
        .with_detail("a path parameter is not of the expected form")
        .into()
}

fn query_error(error: QueryPayloadError, _: &actix_web::HttpRequest) -> Error {
    let detail = match &error {
        QueryPayloadError::Deserialize(e) => format!("the query string does not fit: {e}"),
        _ => "the query string is not valid".to_owned(),
    };
    Problem::new(StatusCode::BAD_REQUEST)
        .with_detail(detail)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATTERNS: [&str; 7] = [
        "/",
        "/health",
        "/api/users/{user_id}",
        "/api/users/{user_id}/notes",
        "/api/orders/{order_id}/items/{item_id}",
        "/files/{name:[a-z]+}",
        "/static/{tail}*",
    ];

    #[test]
    fn simple_patterns_use_segments_and_others_actix() {
        assert!(matches!(
            Pattern::new("/api/users/{user_id}"),
            Pattern::Segments(_)
        ));
        assert!(matches!(
            Pattern::new("/files/{name:[a-z]+}"),
            Pattern::Def(_)
        ));
        assert!(matches!(Pattern::new("/static/{tail}*"), Pattern::Def(_)));
    }

    #[test]
    fn known_paths() {
        let users = Pattern::new("/api/users/{user_id}");
        assert!(users.is_match("/api/users/7"));
        assert!(!users.is_match("/api/users/"));
        assert!(!users.is_match("/api/users/7/"));
        assert!(!users.is_match("/api/users/7/notes"));
        assert!(!users.is_match("/api/users"));
    }

    proptest! {
        #[test]
        fn matches_exactly_what_actix_matches(
            segments in proptest::collection::vec(
                prop_oneof![
                    Just(String::new()), Just("api".to_owned()), Just("users".to_owned()), Just("notes".to_owned()),
                    Just("orders".to_owned()), Just("items".to_owned()), Just("health".to_owned()),
                    Just("files".to_owned()), Just("static".to_owned()), "[a-zA-Z0-9%._~-]{1,6}",
                ],
                0..6,
            )
        ) {
            let path = format!("/{}", segments.join("/"));
            for pattern in PATTERNS {
                let ours = Pattern::new(pattern).is_match(&path);
                let actix = ResourceDef::new(pattern).is_match(&path);
                prop_assert_eq!(ours, actix, "{} against {}", pattern, path);
            }
        }
    }
}
