//! [`SecureApp`]: the one way to mount secured routes on an actix `App`.
//!
//! `mod.rs` holds the builder and the [`Mount`] that puts each route behind
//! its guard; `matcher` the route table the backstop consults, `backstop`
//! the application middleware, `errors` the extractor error handlers.

mod backstop;
mod errors;
mod matcher;

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::dev::{
    AppService, HttpServiceFactory, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::{App, Error, FromRequest, Handler, Resource, Responder, guard, web};

use self::backstop::Backstop;
use self::errors::{form_error, json_error, path_error, query_error};
use self::matcher::{Pattern, RouteTable};
use crate::config::{Mode, SecurityConfig};
use crate::cors::Cors;
use crate::guard::{Route, RouteGuard};
use crate::headers::SecurityHeaders;
use crate::policy::{Access, Quota, RoutePolicy};
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

// A handler's name is a function that returns its route, so that
// `.service(handler)` mounts it.
impl<F, R> crate::__private::Sealed for F
where
    F: Fn() -> R,
    R: crate::__private::Generated,
{
}

impl<F, R> SecureRoute for F
where
    F: Fn() -> R,
    R: crate::__private::Generated,
{
    fn policy(&self) -> &'static RoutePolicy {
        self().policy()
    }

    fn register(self, mount: &mut crate::__private::Mount<'_>) {
        self().register(mount);
    }
}

/// The quota of every route without a `#[limit]` of its own unless
/// [`SecureApp::default_limit`] replaces it or [`SecureApp::no_default_limit`]
/// removes it: 600 a minute per client (per address on public routes, per
/// user on the others), shared by all those routes. Ten requests a second
/// sustained, with a burst of 600, is more than a person's browser or a
/// well-behaved integration sends, and stops one client from scraping a
/// collection or flooding a route that has no limit of its own.
pub const DEFAULT_LIMIT: &[Quota] = &[Quota::per_minute(600)];

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
                    if keys.is_none() && self.security.first_notice(policy.handler) {
                        // A development start without the sender's secret
                        // is usual; in production it is a broken route.
                        let message = "no webhook keys are registered under this name: every delivery will be refused";
                        match self.security.mode() {
                            Mode::Dev => {
                                tracing::warn!(target: "secure_api", route = policy.handler, secret, "{message}")
                            }
                            Mode::Prod => {
                                tracing::error!(target: "secure_api", route = policy.handler, secret, "{message}")
                            }
                        }
                    }
                    keys
                }
                _ => None,
            },
        };
        let method = policy.method;
        let mut resource = Resource::new(policy.path).guard(guard::fn_guard(move |ctx| {
            method.serves(&ctx.head().method)
        }));
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
                .app_data(
                    web::FormConfig::default()
                        .limit(cap)
                        .error_handler(form_error),
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
    /// The roles the application declares, when it does ([`SecureApp::roles`]).
    declared_roles: Option<Vec<String>>,
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

/// Panics when `policy` asks for a role that is not `declared`.
fn check_declared(policy: &RoutePolicy, declared: &[String]) {
    let or_roles = match policy.owner {
        crate::policy::OwnerRule::Subject { or_roles, .. }
        | crate::policy::OwnerRule::Resource { or_roles, .. } => or_roles,
        _ => &[],
    };
    for role in policy.roles.names().iter().chain(or_roles) {
        if declared.iter().any(|d| d == role) {
            continue;
        }
        let nearest = declared
            .iter()
            .min_by_key(|d| strsim::levenshtein(d, role))
            .filter(|d| strsim::levenshtein(d, role) <= 2)
            .map(|d| format!("; did you mean `{d}`?"))
            .unwrap_or_default();
        panic!(
            "the route {} {} ({}) asks for the role `{role}`, which the application does not declare (declared: {}){nearest}",
            policy.method,
            policy.path,
            policy.handler,
            declared.join(", ")
        );
    }
}

impl SecureApp {
    /// An application with no routes yet.
    pub fn new(security: SecurityConfig) -> Self {
        Self {
            security,
            hierarchy: RoleHierarchy::new(),
            default_quotas: DEFAULT_LIMIT.to_vec(),
            headers: SecurityHeaders::default(),
            cors: None,
            routes: Vec::new(),
            configure: Vec::new(),
            webhooks: HashMap::new(),
            declared_roles: None,
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
    ///
    /// # Panics
    ///
    /// When the application declares its roles ([`SecureApp::roles`]) and
    /// the route asks for another one.
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
        if let Some(declared) = &self.declared_roles {
            check_declared(policy, declared);
        }
        self.routes.push(Mounted {
            policy,
            register: Box::new(move |mount| route.register(mount)),
        });
        self
    }

    /// Declares every role the application's routes may ask for, so that a
    /// misspelt role (`#[roles(amdin)]`, `or_roles(amdin)`) stops the
    /// application from being built instead of refusing everyone at run
    /// time. Optional: an application that declares nothing is not
    /// checked. Routes mounted before and after are checked alike.
    ///
    /// # Panics
    ///
    /// When a mounted route asks for a role not in `roles`, naming the
    /// route, the role and the nearest declared one: a mistake in the code,
    /// found when the application is built, as actix-web does for a route
    /// pattern it cannot parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    ///
    /// #[post("/api/admin/users")]
    /// #[registered(owner = "accounts", lifecycle = production)]
    /// #[roles(admin)]
    /// async fn create_user() -> &'static str {
    ///     "created"
    /// }
    ///
    /// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
    /// let app = SecureApp::new(security).roles(&["admin", "user"]).service(create_user);
    /// assert_eq!(app.declared_roles(), Some(&["admin".to_owned(), "user".to_owned()][..]));
    /// ```
    #[must_use]
    pub fn roles(mut self, roles: &[&str]) -> Self {
        let declared: Vec<String> = roles.iter().map(|role| (*role).to_owned()).collect();
        for mounted in &self.routes {
            check_declared(mounted.policy, &declared);
        }
        self.declared_roles = Some(declared);
        self
    }

    /// The roles declared with [`SecureApp::roles`], if any.
    pub fn declared_roles(&self) -> Option<&[String]> {
        self.declared_roles.as_deref()
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
    /// all those routes together. Replaces [`DEFAULT_LIMIT`]; an empty list
    /// is [`no_default_limit`](Self::no_default_limit).
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

    /// Leaves the routes without a `#[limit]` of their own unlimited (the
    /// route table says `none` for them), for an application whose proxy
    /// or gateway already limits every client.
    #[must_use]
    pub fn no_default_limit(mut self) -> Self {
        self.default_quotas.clear();
        self
    }

    /// The quotas of every route without a `#[limit]` of its own; empty
    /// after [`no_default_limit`](Self::no_default_limit).
    pub fn default_quotas(&self) -> &[Quota] {
        &self.default_quotas
    }

    /// The route inventory as a text table (see [`inventory::table_for`]),
    /// with this application's default quotas.
    ///
    /// [`inventory::table_for`]: crate::inventory::table_for
    pub fn route_table(&self) -> String {
        crate::inventory::table_for(&self.routes(), &self.default_quotas)
    }

    /// The OpenAPI 3.1 document of this application's routes (see
    /// [`openapi::document_for_app`](crate::openapi::document_for_app)).
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
    /// let app = SecureApp::new(security).no_default_limit().service(health);
    /// let spec = secure_api_runtime::openapi::to_json(&app.openapi("Health", "1.0.0"));
    /// assert!(spec.contains("\"x-limits\": \"none\""));
    /// ```
    pub fn openapi(&self, title: &str, version: &str) -> utoipa::openapi::OpenApi {
        crate::openapi::document_for_app(title, version, self)
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
        self.security.announce_generated_key();
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
        let metadata =
            crate::auth::oidc::metadata::document(&self.security, &self.routes()).map(Rc::new);
        let mut app = App::new()
            .app_data(
                web::JsonConfig::default()
                    .limit(DEFAULT_JSON_LIMIT)
                    .error_handler(json_error),
            )
            .app_data(web::FormConfig::default().error_handler(form_error))
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
            metadata,
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
