//! The security policy of a route, as static data.
//!
//! The route macros turn a handler's attributes into one `static`
//! [`RoutePolicy`]; the route guard interprets it on every
//! request. Reading a policy is how the inventory and a reviewer learn what a
//! route demands.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::HttpRequest;

use crate::problem::Problem;

/// The HTTP method a route answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as actix names it.
    pub fn as_http(self) -> actix_web::http::Method {
        match self {
            Self::Get => actix_web::http::Method::GET,
            Self::Post => actix_web::http::Method::POST,
            Self::Put => actix_web::http::Method::PUT,
            Self::Patch => actix_web::http::Method::PATCH,
            Self::Delete => actix_web::http::Method::DELETE,
        }
    }

    /// Whether a request with `method` is served by a route declared with
    /// this method: a `GET` route also answers `HEAD`, under the same policy
    /// and without a body (RFC 9110 §9.3.2).
    pub fn serves(self, method: &actix_web::http::Method) -> bool {
        *method == self.as_http() || (self == Self::Get && *method == actix_web::http::Method::HEAD)
    }

    /// The methods a route declared with this method answers, as an `Allow`
    /// header lists them.
    pub fn served(self) -> &'static [&'static str] {
        match self {
            Self::Get => &["GET", "HEAD"],
            Self::Post => &["POST"],
            Self::Put => &["PUT"],
            Self::Patch => &["PATCH"],
            Self::Delete => &["DELETE"],
        }
    }

    /// The method's name in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may call a route at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `#[public]`: no authentication, chosen explicitly.
    Public,
    /// A valid access token is required (`#[authenticated]`, and implied by
    /// `#[roles]` and `#[owner]`).
    Authenticated,
    /// `#[authenticated(fresh)]`: a token issued by a password login (not by
    /// a refresh) within [`SecurityConfig::fresh_login`](crate::SecurityConfig::fresh_login).
    FreshLogin,
    /// `#[authenticated(optional)]`: everyone is served; a token, when one
    /// is sent, must be valid (401 otherwise) and gives the handler its
    /// `Option<Principal>`.
    OptionalToken,
    /// `#[webhook(secret = "NAME")]`: no token; the raw body must carry a
    /// valid signature made with the keys registered under `secret`
    /// ([`SecureApp::webhook`](crate::SecureApp::webhook)).
    Webhook {
        /// The name the keys are registered under.
        secret: &'static str,
    },
}

impl Access {
    /// Whether the route needs a bearer access token.
    pub const fn needs_token(&self) -> bool {
        matches!(self, Self::Authenticated | Self::FreshLogin)
    }

    /// Whether the route reads a bearer access token: when it needs one,
    /// or takes one when sent (`#[authenticated(optional)]`).
    pub const fn reads_token(&self) -> bool {
        self.needs_token() || matches!(self, Self::OptionalToken)
    }

    /// Who a route's quotas count for unless `#[limit(key = ..)]` says, and
    /// who the application's default quotas count for: the caller's address
    /// on a route without a token (public, webhook), else the user.
    pub const fn quota_key(&self) -> LimitKey {
        if self.needs_token() {
            LimitKey::User
        } else {
            LimitKey::Ip
        }
    }
}

/// A role requirement (`#[roles(...)]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleRule {
    /// No role is required.
    None,
    /// At least one of these roles (`#[roles(admin)]`, `#[roles(any(a, b))]`).
    Any(&'static [&'static str]),
    /// Every one of these roles (`#[roles(all(a, b))]`).
    All(&'static [&'static str]),
}

/// An OAuth2 scope requirement (`#[scopes("reports:read")]`,
/// `#[scopes(any(a, b))]`, `#[scopes(all(a, b))]`): the same rule as for
/// roles, over the token's scopes.
pub type ScopeRule = RoleRule;

impl RoleRule {
    /// The names the rule lists.
    pub fn names(&self) -> &'static [&'static str] {
        match self {
            Self::None => &[],
            Self::Any(names) | Self::All(names) => names,
        }
    }

    /// Whether a principal holding `roles` satisfies the rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::policy::RoleRule;
    ///
    /// let held = ["user".to_owned(), "billing".to_owned()];
    /// assert!(RoleRule::Any(&["admin", "billing"]).allows(&held));
    /// assert!(!RoleRule::All(&["admin", "billing"]).allows(&held));
    /// assert!(RoleRule::None.allows(&[]));
    /// ```
    pub fn allows(&self, roles: &[String]) -> bool {
        let holds = |wanted: &&str| roles.iter().any(|held| held == wanted);
        match self {
            Self::None => true,
            Self::Any(wanted) => wanted.iter().any(holds),
            Self::All(wanted) => wanted.iter().all(holds),
        }
    }
}

/// An object-level (ownership) requirement (`#[owner(...)]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerRule {
    /// No ownership rule: the route's path carries no object id.
    None,
    /// `#[owner(param)]`: the path parameter must equal the principal's
    /// subject, unless the principal holds one of `or_roles`.
    Subject {
        /// The path parameter compared with `sub`.
        param: &'static str,
        /// Roles that pass without owning the object.
        or_roles: &'static [&'static str],
    },
    /// `#[owner(param, resource = T)]`: the object named by the path
    /// parameter is loaded through `impl Owned for T` and must belong to the
    /// principal, unless the principal holds one of `or_roles`; 404 otherwise.
    Resource {
        /// The path parameter that names the object.
        param: &'static str,
        /// The object's type, as written.
        resource: &'static str,
        /// Roles that pass without owning the object.
        or_roles: &'static [&'static str],
    },
    /// `#[owner(none, reason = "...")]`: ownership deliberately not checked.
    Waived {
        /// Why the route needs no ownership check, for reviewers.
        reason: &'static str,
    },
}

/// One quota of a `#[limit]`: `count` requests per `period_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests allowed in a burst, refilled evenly over the period.
    pub count: u32,
    /// The period, in seconds.
    pub period_secs: u64,
}

/// Who a quota counts requests for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKey {
    /// The client address (IPv6 by its /64).
    Ip,
    /// The principal's subject.
    User,
    /// Both together.
    IpAndUser,
}

/// Resource limits of a route (`#[limit]`, OWASP API4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitRule {
    /// Quotas, all of which must allow a request (429 otherwise).
    pub quotas: &'static [Quota],
    /// Who the quotas count for.
    pub key: LimitKey,
    /// Body cap in bytes (413 beyond it); the default JSON cap otherwise.
    pub body: Option<u64>,
    /// Requests in flight at once (503 beyond it).
    pub concurrency: Option<u32>,
}

impl Quota {
    /// `count` requests per second.
    pub const fn per_second(count: u32) -> Self {
        Self {
            count,
            period_secs: 1,
        }
    }

    /// `count` requests per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            period_secs: 60,
        }
    }

    /// `count` requests per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self {
            count,
            period_secs: 3600,
        }
    }
}

impl LimitRule {
    /// No limit declared: the application's default quota applies.
    pub const NONE: LimitRule = LimitRule {
        quotas: &[],
        key: LimitKey::Ip,
        body: None,
        concurrency: None,
    };
}

/// A route's inventory entry (`#[registered]`, OWASP API9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The team that owns the route.
    pub owner: &'static str,
    /// Where the route is in its life.
    pub lifecycle: Lifecycle,
}

/// Where a route is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Served.
    Production,
    /// Served, with `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and, with
    /// a successor, `Link: <successor>; rel="successor-version"`.
    Deprecated {
        /// The day it was deprecated (`YYYY-MM-DD`), if declared.
        since: Option<&'static str>,
        /// The day it stops being served (`YYYY-MM-DD`).
        sunset: &'static str,
        /// The path or URL that replaces it.
        successor: Option<&'static str>,
        /// The `Deprecation` header value (`@<seconds since the epoch>`;
        /// `@0` when `since` is not declared).
        deprecation_header: &'static str,
        /// The `Sunset` header value (an HTTP-date).
        sunset_header: &'static str,
    },
    /// No longer served: 410 Gone, before anything else.
    Retired,
}

impl Lifecycle {
    /// `production`, `deprecated (sunset 2027-06-30, successor /api/v2/..)`
    /// or `retired`, for inventories.
    pub fn describe(&self) -> String {
        match self {
            Self::Production => "production".to_owned(),
            Self::Retired => "retired".to_owned(),
            Self::Deprecated {
                sunset, successor, ..
            } => match successor {
                Some(successor) => {
                    format!("deprecated (sunset {sunset}, successor {successor})")
                }
                None => format!("deprecated (sunset {sunset})"),
            },
        }
    }
}

/// The type-erased ownership check a route's policy points to: the path
/// parameter's raw value, the request, the caller's subject, and whether an
/// `or_roles` role lets the caller pass without owning the object.
pub type CheckOwned =
    fn(String, HttpRequest, String, bool) -> Pin<Box<dyn Future<Output = Result<(), Problem>>>>;

/// The type-erased state check a route's policy points to: the request
/// (holding the checked object) and the rule.
pub type CheckState = fn(&HttpRequest, &'static StateRule) -> Result<(), Problem>;

/// What `#[state_requires(param, Type: From => To)]` declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRule {
    /// The path parameter naming the object.
    pub param: &'static str,
    /// The object's type, as written.
    pub resource: &'static str,
    /// The required starting state (variant name).
    pub from: &'static str,
    /// The state the route moves to (variant name).
    pub to: &'static str,
}

/// What a route's success answer holds, as far as its declarations say:
/// with `#[expose(..)]`, objects of exactly those fields, alone, in a list
/// or in a [`Page`](crate::Page). The OpenAPI document describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Nothing declared: text, an `HttpResponse` built by hand, or a type
    /// sent whole.
    Unspecified,
    /// One object of these fields (also `Option`, `Created`, `Accepted`).
    One(&'static [&'static str]),
    /// A JSON array of objects of these fields (`Vec`).
    List(&'static [&'static str]),
    /// `{"items": [..], "limit", "offset", "has_more"}` with items of these
    /// fields (`Page`).
    Page(&'static [&'static str]),
}

/// Everything a route declares about its security.
#[derive(Debug)]
pub struct RoutePolicy {
    /// The handler's name.
    pub handler: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The actix path pattern, e.g. `/api/users/{user_id}`.
    pub path: &'static str,
    /// Authentication requirement.
    pub access: Access,
    /// Function-level authorization.
    pub roles: RoleRule,
    /// The OAuth2 scopes the token must grant (`#[scopes]`).
    pub scopes: ScopeRule,
    /// Object-level authorization.
    pub owner: OwnerRule,
    /// The lookup behind [`OwnerRule::Resource`].
    pub check_owned: Option<CheckOwned>,
    /// The state check behind [`RoutePolicy::state`], on the looked-up object.
    pub check_state: Option<CheckState>,
    /// Quotas, body cap and in-flight cap.
    pub limit: LimitRule,
    /// The business state the object must be in (`#[state_requires]`).
    pub state: Option<StateRule>,
    /// Whether the route requires an `Idempotency-Key` (`#[idempotent]`).
    pub idempotent: bool,
    /// The inventory entry.
    pub registration: Registration,
    /// What the success answer holds (`#[expose]`).
    pub answer: Answer,
    /// What the handler's signature says for the OpenAPI document.
    pub doc: crate::openapi::schema::RouteDoc,
}

impl RoutePolicy {
    /// A route of `handler` at `method` and `path`, registered to `owner` as
    /// a production route, that needs an access token and nothing else: the
    /// start of a policy written by hand (tests, benches), refined with the
    /// `with_*` methods. Routes declared with the attributes get theirs from
    /// the macros.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::policy::*;
    ///
    /// static POLICY: RoutePolicy = RoutePolicy::new("get_user", Method::Get, "/api/users/{user_id}", "accounts")
    ///     .with_owner(OwnerRule::Subject { param: "user_id", or_roles: &["admin"] });
    /// assert_eq!(POLICY.describe(), "owner(user_id, or_roles(admin))");
    /// ```
    pub const fn new(
        handler: &'static str,
        method: Method,
        path: &'static str,
        owner: &'static str,
    ) -> Self {
        Self {
            handler,
            method,
            path,
            access: Access::Authenticated,
            roles: RoleRule::None,
            scopes: RoleRule::None,
            owner: OwnerRule::None,
            check_owned: None,
            check_state: None,
            limit: LimitRule::NONE,
            state: None,
            idempotent: false,
            registration: Registration {
                owner,
                lifecycle: Lifecycle::Production,
            },
            answer: Answer::Unspecified,
            doc: crate::openapi::schema::RouteDoc::NONE,
        }
    }

    /// The same policy with another access rule.
    #[must_use]
    pub const fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// The same policy with a role rule.
    #[must_use]
    pub const fn with_roles(mut self, roles: RoleRule) -> Self {
        self.roles = roles;
        self
    }

    /// The same policy with a scope rule.
    #[must_use]
    pub const fn with_scopes(mut self, scopes: ScopeRule) -> Self {
        self.scopes = scopes;
        self
    }

    /// The same policy with an ownership rule.
    #[must_use]
    pub const fn with_owner(mut self, owner: OwnerRule) -> Self {
        self.owner = owner;
        self
    }

    /// The same policy with limits.
    #[must_use]
    pub const fn with_limit(mut self, limit: LimitRule) -> Self {
        self.limit = limit;
        self
    }

    /// The same policy with another lifecycle.
    #[must_use]
    pub const fn with_lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.registration.lifecycle = lifecycle;
        self
    }

    /// A one-line description of the access rule, for logs and inventories.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::policy::*;
    ///
    /// static POLICY: RoutePolicy = RoutePolicy::new("reports", Method::Get, "/api/reports", "finance")
    ///     .with_roles(RoleRule::Any(&["admin", "auditor"]));
    /// assert_eq!(POLICY.describe(), "roles(any(admin, auditor))");
    /// ```
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.access == Access::FreshLogin {
            parts.push("authenticated(fresh)".to_owned());
        }
        for (name, rule) in [("roles", self.roles), ("scopes", self.scopes)] {
            match rule {
                RoleRule::None => {}
                RoleRule::Any([one]) => parts.push(format!("{name}({one})")),
                RoleRule::Any(many) => parts.push(format!("{name}(any({}))", many.join(", "))),
                RoleRule::All(many) => parts.push(format!("{name}(all({}))", many.join(", "))),
            }
        }
        match self.owner {
            OwnerRule::None => {}
            OwnerRule::Subject {
                param,
                or_roles: [],
            } => parts.push(format!("owner({param})")),
            OwnerRule::Subject { param, or_roles } => {
                parts.push(format!("owner({param}, or_roles({}))", or_roles.join(", ")));
            }
            OwnerRule::Resource {
                param,
                resource,
                or_roles: [],
            } => {
                parts.push(format!("owner({param}, resource = {resource})"));
            }
            OwnerRule::Resource {
                param,
                resource,
                or_roles,
            } => {
                parts.push(format!(
                    "owner({param}, resource = {resource}, or_roles({}))",
                    or_roles.join(", ")
                ));
            }
            OwnerRule::Waived { .. } => parts.push("owner(none)".to_owned()),
        }
        if parts.is_empty() {
            match self.access {
                Access::Public => "public".to_owned(),
                Access::Authenticated | Access::FreshLogin => "authenticated".to_owned(),
                Access::OptionalToken => "authenticated(optional)".to_owned(),
                Access::Webhook { secret } => format!("webhook(secret = {secret})"),
            }
        } else {
            parts.join(" + ")
        }
    }
}
