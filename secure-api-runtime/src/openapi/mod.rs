//! OpenAPI 3.1 from the route inventory (OWASP API9), built with utoipa's
//! model types: every route with its path parameters, bearer security
//! where a token is needed, deprecation, the headers a route requires
//! (`Idempotency-Key`, webhook signatures), and the policy a reviewer needs
//! as `x-` extensions (`x-owner`, `x-lifecycle`, `x-access`, `x-roles`,
//! `x-limits`, `x-state`).
//!
//! Bodies and answers come from the handler's types ([`schema`]): request
//! bodies and query parameters from each argument's
//! [`Argument::describe`](crate::Argument::describe) (an [`Input`](crate::Input)
//! type's fields and rules), the success answer under the status its type
//! gives with the schema of its projection or of the type sent whole, and
//! the refusals the route's policy can give, each a problem+json answer in
//! `components.responses`. An answer that projects an object with its `id`
//! links to the routes that load that object by their path parameter.

pub mod schema;

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use utoipa::openapi::extensions::{Extensions, ExtensionsBuilder};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder, Responses, ResponsesBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    HttpAuthScheme, HttpBuilder, OpenIdConnect, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, Deprecated, InfoBuilder, OpenApi, OpenApiBuilder, Paths,
    Ref, RefOr, Required,
};

use crate::inventory::describe_limits_for;
use crate::policy::Quota;
use crate::policy::{Answer, Lifecycle, Method, RoleRule, RoutePolicy};
use crate::problem::PROBLEM_JSON;
use schema::{AnswerDoc, ArgumentDoc};

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
    schema::take_referenced();
    let mut paths = Paths::new();
    for policy in routes {
        paths.add_path_operation(
            policy.path,
            vec![method(policy.method)],
            operation(policy, routes, issuers.len(), defaults),
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
        .schemas_from_iter(schema::take_referenced())
        .schema("Problem", problem)
        .responses_from_iter(refusal_responses())
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
    routes: &[&RoutePolicy],
    issuers: usize,
    defaults: &[Quota],
) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new()
        .operation_id(Some(policy.handler))
        .tag(policy.registration.owner)
        .summary(Some(format!("{} {}", policy.method, policy.path)));
    let arguments: Vec<ArgumentDoc> = policy.doc.arguments.iter().map(|doc| doc()).collect();
    let names = path_params(policy.path);
    let typed = path_schemas(&arguments, names.len());
    for (index, name) in names.into_iter().enumerate() {
        let schema = typed
            .and_then(|schemas| schemas.get(index).cloned())
            .unwrap_or_else(|| string_schema().into());
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema)),
        );
    }
    if policy.idempotent {
        // What `idempotency::key_of` accepts: 1 to 255 visible ASCII characters.
        let key = string_schema()
            .min_length(Some(1))
            .max_length(Some(crate::idempotency::MAX_KEY_LEN))
            .pattern(Some("^[!-~]+$"));
        op = op.parameter(header(
            "Idempotency-Key",
            "repeats of a request carry the same key",
            key,
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
            op = op.parameter(header(name, what, string_schema()));
        }
    }
    if policy.access.reads_token() {
        // An empty requirement: a request without a token is served too.
        if policy.access == crate::policy::Access::OptionalToken {
            op = op.security(SecurityRequirement::default());
        }
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
    let mut reads_input = false;
    let mut query = std::collections::BTreeSet::new();
    for argument in arguments {
        match argument {
            ArgumentDoc::Nothing | ArgumentDoc::Path(_) => {}
            ArgumentDoc::Query { schema, .. } => {
                reads_input = true;
                // Two arguments may read the same parameter (a page's
                // `limit` beside a query that declares it too).
                for parameter in query_parameters(schema) {
                    if query.insert(parameter.name.clone()) {
                        op = op.parameter(parameter);
                    }
                }
            }
            ArgumentDoc::Body {
                media_type,
                schema,
                required,
                ..
            } => {
                reads_input = true;
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .content(
                            media_type,
                            ContentBuilder::new().schema(Some(schema)).build(),
                        )
                        .required(Some(if required {
                            Required::True
                        } else {
                            Required::False
                        }))
                        .build(),
                ));
            }
        }
    }
    if let Lifecycle::Deprecated { .. } = policy.registration.lifecycle {
        op = op.deprecated(Some(Deprecated::True));
    }
    if let crate::policy::Access::Webhook { .. } = policy.access {
        op = op.description(Some(
            "A webhook: a delivery signed with the route's secret (Standard Webhooks), \
             verified before its body is read. It needs no token.",
        ));
    }
    op = op.responses(responses(policy, routes, reads_input, defaults));
    op.extensions(Some(extensions(policy, defaults).build()))
        .build()
}

/// The answers a route gives: its success, with its status, schema and
/// headers, and the refusals its policy can give.
fn responses(
    policy: &RoutePolicy,
    routes: &[&RoutePolicy],
    reads_input: bool,
    defaults: &[Quota],
) -> Responses {
    let mut responses = ResponsesBuilder::new();
    let retired = matches!(policy.registration.lifecycle, Lifecycle::Retired);
    match policy.doc.status {
        _ if retired => {}
        Some(status) => {
            responses = responses.response(status.to_string(), success(policy, routes));
        }
        None => {}
    }
    // What the handler itself answers beyond its typed success: a response
    // built by hand, or a refusal of its own (a wrong password's 401, an
    // upstream's 502).
    let default = ResponseBuilder::new();
    let default = if policy.doc.status.is_none() && !retired {
        default.description("the route's answer, built by its handler")
    } else {
        default
            .description("a refusal of the handler's own, as RFC 9457 problem details")
            .content(PROBLEM_JSON, problem_content())
    };
    responses = responses.response("default", default.build());
    let token = policy.access.reads_token();
    let webhook = matches!(policy.access, crate::policy::Access::Webhook { .. });
    let has_body = matches!(policy.method, Method::Post | Method::Put | Method::Patch);
    let limited = !policy.limit.quotas.is_empty() || !defaults.is_empty();
    let can_miss = !path_params(policy.path).is_empty()
        || policy.doc.option
        || !matches!(policy.owner, crate::policy::OwnerRule::None);
    let refusals = [
        (StatusCode::BAD_REQUEST, true),
        (StatusCode::UNAUTHORIZED, token || webhook),
        (StatusCode::FORBIDDEN, token),
        (StatusCode::NOT_FOUND, can_miss),
        (StatusCode::REQUEST_TIMEOUT, true),
        (
            StatusCode::CONFLICT,
            policy.idempotent || policy.state.is_some(),
        ),
        (StatusCode::GONE, retired),
        (StatusCode::PAYLOAD_TOO_LARGE, has_body),
        (StatusCode::URI_TOO_LONG, true),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, has_body && reads_input),
        (StatusCode::UNPROCESSABLE_ENTITY, reads_input),
        (StatusCode::TOO_MANY_REQUESTS, limited),
        (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, true),
        (StatusCode::INTERNAL_SERVER_ERROR, true),
        (StatusCode::SERVICE_UNAVAILABLE, true),
    ];
    for (status, given) in refusals {
        if given {
            responses = responses.response(
                status.as_str(),
                Ref::new(format!("#/components/responses/{}", refusal_name(status))),
            );
        }
    }
    responses.build()
}

/// The success answer: its schema, the headers it carries, and its links.
fn success(policy: &RoutePolicy, routes: &[&RoutePolicy]) -> Response {
    let mut response = ResponseBuilder::new().description(match policy.answer {
        Answer::Unspecified => "the answer",
        _ => "the projection `#[expose]` declares",
    });
    let schema = match ((policy.doc.answer)(), policy.answer) {
        (AnswerDoc::Fields(schemas), Answer::One(names)) => Some(projection(names, schemas)),
        (AnswerDoc::Fields(schemas), Answer::List(names)) => {
            Some(schema::array(projection(names, schemas)))
        }
        (AnswerDoc::Fields(schemas), Answer::Page(names)) => Some(page(projection(names, schemas))),
        (AnswerDoc::Whole(whole), _) => match *whole {
            RefOr::T(schema) => Some(schema),
            RefOr::Ref(reference) => {
                Some(Schema::AllOf(AllOfBuilder::new().item(reference).build()))
            }
        },
        _ => None,
    };
    if let Some(schema) = schema {
        response = response.content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        );
    }
    for (name, link) in links(policy, routes) {
        response = response.link(name, link);
    }
    if let Lifecycle::Deprecated { successor, .. } = policy.registration.lifecycle {
        response = response
            .header(
                "Deprecation",
                answer_header("when the route was deprecated (RFC 9745)"),
            )
            .header(
                "Sunset",
                answer_header("when the route stops answering (RFC 8594)"),
            );
        if successor.is_some() {
            response = response.header(
                "Link",
                answer_header("the successor route, `rel=\"successor-version\"`"),
            );
        }
    }
    response.build()
}

/// The routes an answer leads to: when it projects one object of type `T`
/// with its `id`, every route whose owner rule loads a `T` by its path
/// parameter, with that parameter taken from the answer (so a client, or
/// a stateful fuzzer, can go from `POST /orders` to
/// `POST /orders/{order_id}/validate`).
fn links(policy: &RoutePolicy, routes: &[&RoutePolicy]) -> Vec<(String, Link)> {
    let (Some(item), Answer::One(fields)) = (policy.doc.item, policy.answer) else {
        return Vec::new();
    };
    if !fields.contains(&"id") {
        return Vec::new();
    }
    routes
        .iter()
        .filter_map(|route| match route.owner {
            crate::policy::OwnerRule::Resource {
                param, resource, ..
            } if resource.rsplit("::").next() == Some(item) => Some((
                route.handler.to_owned(),
                LinkBuilder::new()
                    // utoipa 5.5 writes its `operation_id` field under that
                    // name; OpenAPI's is `operationId`.
                    .extensions(Some(Extensions::from_iter([(
                        "operationId",
                        route.handler,
                    )])))
                    .parameter(param, "$response.body#/id")
                    .description(format!("the {item} this answer holds"))
                    .build(),
            )),
            _ => None,
        })
        .collect()
}

/// An object of exactly the exposed fields, each with its type's schema.
fn projection(names: &[&str], schemas: Vec<RefOr<Schema>>) -> Schema {
    let fields: Vec<(&str, RefOr<Schema>)> = names.iter().copied().zip(schemas).collect();
    schema::exact_object(&fields)
}

/// `{"items", "limit", "offset", "has_more"}` of `item`s.
fn page(item: Schema) -> Schema {
    let mut page = schema::closed_object()
        .property("items", schema::array(item))
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

/// Each property of a query's object schema, as a query parameter.
fn query_parameters(schema: Schema) -> Vec<utoipa::openapi::path::Parameter> {
    let Schema::Object(object) = schema else {
        return Vec::new();
    };
    object
        .properties
        .into_iter()
        .map(|(name, schema)| {
            let required = object.required.contains(&name);
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .schema(Some(schema))
                .build()
        })
        .collect()
}

/// The name of a refusal in `components.responses`.
fn refusal_name(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("Refused")
        .split([' ', '-'])
        .collect()
}

/// The refusals every operation refers to, as problem details, with the
/// headers a 429 carries.
fn refusal_responses() -> Vec<(String, Response)> {
    let statuses = [
        (
            StatusCode::BAD_REQUEST,
            "a malformed request: its URL, headers or body cannot be read",
        ),
        (
            StatusCode::UNAUTHORIZED,
            "no valid credentials: a missing, expired, revoked or malformed token, or a bad webhook signature",
        ),
        (
            StatusCode::FORBIDDEN,
            "the caller may not do this: a role, scope, owner or fresh-login rule refused it",
        ),
        (StatusCode::NOT_FOUND, "no such object, or not the caller's"),
        (
            StatusCode::REQUEST_TIMEOUT,
            "the request was not received in time",
        ),
        (
            StatusCode::CONFLICT,
            "the object is not in the state the route needs, or the idempotency key was used for another request or is in flight",
        ),
        (StatusCode::GONE, "the route is retired"),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than the route accepts",
        ),
        (
            StatusCode::URI_TOO_LONG,
            "the URL is longer than the server accepts",
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is not of the media type the route reads",
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "the input is not what the route declares: an unknown field, a wrong type or a failed rule",
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "a quota is used up; retry after `Retry-After` seconds",
        ),
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the headers are larger than the server accepts",
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server failed; the problem's `request_id` finds it in the log",
        ),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "a store the decision needs is unreachable, or the request ran out of time",
        ),
    ];
    statuses
        .into_iter()
        .map(|(status, description)| {
            let mut response = ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, problem_content());
            if status == StatusCode::TOO_MANY_REQUESTS {
                response = response
                    .header(
                        "Retry-After",
                        answer_header("seconds until a retry can succeed"),
                    )
                    .header(
                        "RateLimit-Policy",
                        answer_header("the quota (draft-ietf-httpapi-ratelimit-headers)"),
                    )
                    .header(
                        "RateLimit",
                        answer_header("what is left of it (draft-ietf-httpapi-ratelimit-headers)"),
                    );
            }
            (refusal_name(status), response.build())
        })
        .collect()
}

/// A problem+json body: the `Problem` schema.
fn problem_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

/// A header of an answer.
fn answer_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(string_schema())
        .description(Some(description))
        .build()
}

fn header(
    name: &str,
    description: &str,
    schema: ObjectBuilder,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
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

/// The schemas of a route's `count` path parameters, from its `web::Path`
/// argument: only when it reads each of them, each as a plain value (a
/// number, a string, a boolean); otherwise the document shows strings.
fn path_schemas(arguments: &[ArgumentDoc], count: usize) -> Option<&[RefOr<Schema>]> {
    let schemas = arguments.iter().find_map(|argument| match argument {
        ArgumentDoc::Path(schemas) => Some(schemas.as_slice()),
        _ => None,
    })?;
    let plain = |schema: &RefOr<Schema>| {
        matches!(
            schema,
            RefOr::T(Schema::Object(object)) if matches!(
                object.schema_type,
                SchemaType::Type(Type::Integer | Type::Number | Type::String | Type::Boolean)
            )
        )
    };
    (schemas.len() == count && schemas.iter().all(plain)).then_some(schemas)
}

/// The `{name}` segments of an actix path pattern.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.split(':').next().unwrap_or(name))
        .collect()
}
