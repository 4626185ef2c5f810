//! OpenAPI 3.1 from the route inventory (OWASP API9), built with utoipa's
//! model types: every route with its path parameters, bearer security
//! where a token is needed, deprecation, the headers a route requires
//! (`Idempotency-Key`, webhook signatures), refusals as `application/problem+json`,
//! and the policy a reviewer needs as `x-` extensions (`x-owner`,
//! `x-lifecycle`, `x-access`, `x-roles`, `x-limits`, `x-state`).
//!
//! `POST`, `PUT` and `PATCH` bodies are described as JSON objects. A success
//! answer projected by `#[expose(..)]` is described by its shape: objects
//! of exactly those fields (of any type: the route types carry no schemas),
//! alone, in an array, or in a page with `limit`, `offset` and `has_more`.

use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{
    HttpAuthScheme, HttpBuilder, OpenIdConnect, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, Deprecated, InfoBuilder, OpenApi, OpenApiBuilder, Paths,
    Ref, Required,
};

use crate::inventory::describe_limits_for;
use crate::policy::Quota;
use crate::policy::{Answer, Lifecycle, Method, RoleRule, RoutePolicy};
use crate::problem::PROBLEM_JSON;

/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

/// The document for `routes`, titled `title` at `version`.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[get("/api/users/{user_id}")]
/// #[registered(owner = "accounts", lifecycle = production)]
/// #[owner(user_id)]
/// async fn get_user(user_id: web::Path<i64>) -> String {
///     user_id.to_string()
/// }
///
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
/// let app = SecureApp::new(security).service(get_user);
/// let spec = secure_api_runtime::openapi::to_json(&secure_api_runtime::openapi::document("Users", "1.0.0", &app.routes()));
/// assert!(spec.contains("\"openapi\": \"3.1.0\""));
/// assert!(spec.contains("\"x-owner\": \"accounts\""));
/// ```
pub fn document(title: &str, version: &str, routes: &[&RoutePolicy]) -> OpenApi {
    document_for_issuers(title, version, routes, &[], crate::app::DEFAULT_LIMIT)
}

/// Like [`document`], with an `openIdConnect` security scheme for each
/// OpenID issuer `security` accepts tokens from (`oidc`, `oidc_2`, ...):
/// an operation that needs a token then accepts either the bearer scheme
/// or any issuer's, with the scopes it needs.
pub fn document_for(
    title: &str,
    version: &str,
    routes: &[&RoutePolicy],
    security: &crate::SecurityConfig,
) -> OpenApi {
    document_for_issuers(
        title,
        version,
        routes,
        security.oidc_issuers(),
        crate::app::DEFAULT_LIMIT,
    )
}

/// [`document_for`] an application: its routes, its OpenID issuers, and
/// its default quotas in each operation's `x-limits` (`none` for a route
/// without quotas in an application without a default). What
/// [`SecureApp::openapi`](crate::SecureApp::openapi) answers.
pub fn document_for_app(title: &str, version: &str, app: &crate::SecureApp) -> OpenApi {
    document_for_issuers(
        title,
        version,
        &app.routes(),
        app.security().oidc_issuers(),
        app.default_quotas(),
    )
}

/// The name of the security scheme of the `index`th issuer.
fn issuer_scheme(index: usize) -> String {
    match index {
        0 => "oidc".to_owned(),
        n => format!("oidc_{}", n + 1),
    }
}

fn document_for_issuers(
    title: &str,
    version: &str,
    routes: &[&RoutePolicy],
    issuers: &[String],
    defaults: &[Quota],
) -> OpenApi {
    // Routes that share a path become the operations of one path item.
    let mut paths = Paths::new();
    for policy in routes {
        paths.add_path_operation(
            policy.path,
            vec![method(policy.method)],
            operation(policy, issuers.len(), defaults),
        );
    }
    let problem = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("type", ObjectBuilder::new().schema_type(Type::String))
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "request_id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "the request's id, as in its `X-Request-Id` answer header",
                )),
        )
        .required("type")
        .required("title")
        .required("status")
        .build();
    let bearer = SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build(),
    );
    let mut components = ComponentsBuilder::new()
        .schema("Problem", problem)
        .security_scheme(BEARER, bearer);
    for (index, issuer) in issuers.iter().enumerate() {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        components = components.security_scheme(
            issuer_scheme(index),
            SecurityScheme::OpenIdConnect(OpenIdConnect::new(discovery)),
        );
    }
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title(title).version(version).build())
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The document as pretty JSON with sorted keys, so the same routes always
/// give the same text.
pub fn to_json(document: &OpenApi) -> String {
    let value = serde_json::to_value(document).unwrap_or(Value::Null);
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Patch => HttpMethod::Patch,
        Method::Delete => HttpMethod::Delete,
    }
}

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn operation(
    policy: &RoutePolicy,
    issuers: usize,
    defaults: &[Quota],
) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new()
        .operation_id(Some(policy.handler))
        .tag(policy.registration.owner)
        .summary(Some(format!("{} {}", policy.method, policy.path)));
    for name in path_params(policy.path) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string_schema())),
        );
    }
    if policy.idempotent {
        op = op.parameter(header(
            "Idempotency-Key",
            "repeats of a request carry the same key",
        ));
    }
    if let crate::policy::Access::Webhook { .. } = policy.access {
        for (name, what) in [
            ("webhook-id", "the delivery's id, accepted once"),
            (
                "webhook-timestamp",
                "seconds since the epoch, within 5 minutes",
            ),
            (
                "webhook-signature",
                "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body`",
            ),
        ] {
            op = op.parameter(header(name, what));
        }
    }
    if policy.access.needs_token() {
        // OpenAPI 3.1 lets a bearer requirement list what it needs too.
        let scopes = policy.scopes.names();
        op = op.security(SecurityRequirement::new(BEARER, scopes.iter().copied()));
        for index in 0..issuers {
            op = op.security(SecurityRequirement::new(
                issuer_scheme(index),
                scopes.iter().copied(),
            ));
        }
    }
    if matches!(policy.method, Method::Post | Method::Put | Method::Patch) {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                        .build(),
                )
                .build(),
        ));
    }
    if let Lifecycle::Deprecated { .. } = policy.registration.lifecycle {
        op = op.deprecated(Some(Deprecated::True));
    }
    let problem = || {
        ResponseBuilder::new()
            .description("a refusal, as RFC 9457 problem details")
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    let mut responses = ResponsesBuilder::new();
    if let Some(schema) = answer_schema(policy.answer) {
        responses = responses.response(
            "2XX",
            ResponseBuilder::new()
                .description("the projection `#[expose]` declares")
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
                .build(),
        );
    }
    op = op.responses(
        responses
            .response(
                "default",
                ResponseBuilder::new()
                    .description("the route's answer")
                    .build(),
            )
            .response("4XX", problem())
            .response("5XX", problem())
            .build(),
    );
    op.extensions(Some(extensions(policy, defaults).build()))
        .build()
}

/// The schema of a declared answer: exactly the exposed fields, each of any
/// type, in the answer's shape.
fn answer_schema(answer: Answer) -> Option<Schema> {
    let object = |fields: &[&str]| {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for field in fields {
            object = object
                .property(
                    *field,
                    ObjectBuilder::new().schema_type(SchemaType::AnyValue),
                )
                .required(*field);
        }
        object
    };
    let list = |fields: &[&str]| ArrayBuilder::new().items(object(fields));
    let schema = match answer {
        Answer::Unspecified => return None,
        Answer::One(fields) => object(fields).build().into(),
        Answer::List(fields) => list(fields).build().into(),
        Answer::Page(fields) => {
            let mut page = ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .property("items", list(fields))
                .property(
                    "limit",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .property(
                    "offset",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .property("has_more", ObjectBuilder::new().schema_type(Type::Boolean));
            for field in ["items", "limit", "offset", "has_more"] {
                page = page.required(field);
            }
            page.build().into()
        }
    };
    Some(schema)
}

fn header(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(string_schema()))
        .build()
}

fn extensions(policy: &RoutePolicy, defaults: &[Quota]) -> ExtensionsBuilder {
    let mut extensions = ExtensionsBuilder::new()
        .add("x-owner", policy.registration.owner)
        .add("x-lifecycle", policy.registration.lifecycle.describe())
        .add("x-access", policy.describe())
        .add("x-limits", describe_limits_for(&policy.limit, defaults));
    match policy.roles {
        RoleRule::None => {}
        RoleRule::Any(roles) => extensions = extensions.add("x-roles", json!({ "any": roles })),
        RoleRule::All(roles) => extensions = extensions.add("x-roles", json!({ "all": roles })),
    }
    if let Lifecycle::Deprecated {
        sunset, successor, ..
    } = policy.registration.lifecycle
    {
        extensions = extensions.add("x-sunset", sunset);
        if let Some(successor) = successor {
            extensions = extensions.add("x-successor", successor);
        }
    }
    if let Some(state) = &policy.state {
        extensions = extensions.add(
            "x-state",
            json!({ "resource": state.resource, "param": state.param, "from": state.from, "to": state.to }),
        );
    }
    if policy.idempotent {
        extensions = extensions.add("x-idempotent", true);
    }
    extensions
}

/// The `{name}` segments of an actix path pattern.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.split(':').next().unwrap_or(name))
        .collect()
}
