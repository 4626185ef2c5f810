//! Request bodies (OWASP API3): `#[derive(Input)]` marks a type as a
//! declared request body. Unknown fields are refused (the derive requires
//! `#[serde(deny_unknown_fields)]`), and every field is validated through
//! `garde` before the handler runs (422 naming the field).

use actix_web::http::StatusCode;
use serde::de::DeserializeOwned;

use utoipa::PartialSchema as _;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::openapi::schema::{self, ArgumentDoc};
use crate::problem::Problem;

/// A declared request body. Derive it with `#[derive(Input)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared request body",
    label = "a JSON, form or query body must be a `#[derive(Input)]` type",
    note = "declare it: `#[derive(Deserialize, garde::Validate, Input)]` with `#[serde(deny_unknown_fields)]`, so unknown fields are refused and every field is validated"
)]
pub trait Input: DeserializeOwned + 'static {
    /// Checks every field's rule; the problem names the failing fields.
    fn validate_input(&self) -> Result<(), Problem>;

    /// The body's JSON Schema, for the OpenAPI document. `#[derive(Input)]`
    /// writes it from the fields (see [`openapi::schema`](crate::openapi::schema));
    /// by default, any object.
    fn input_schema() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .build()
            .into()
    }
}

/// Runs `garde` validation and turns its report into a 422. Used by the
/// `Input` derive.
pub fn validate_with_garde<T>(value: &T) -> Result<(), Problem>
where
    T: garde::Validate,
    T::Context: Default,
{
    value.validate().map_err(|report| {
        let detail = report
            .iter()
            .map(|(path, error)| format!("`{path}`: {error}"))
            .collect::<Vec<_>>()
            .join("; ");
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(detail)
    })
}

/// An argument a secured handler may take: an extractor whose input the
/// framework has checked, or one the application vouches for.
///
/// The route macros require it of every argument, by type, so a body
/// cannot slip past [`Input`] under another name (`use web::Json as Body`,
/// `type Incoming = web::Json<Patch>`) or through another extractor.
/// `web::Json<T>`, `web::Form<T>` and `web::Query<T>` need `T: Input`, and
/// are validated before the handler runs; [`Principal`](crate::Principal),
/// [`Checked`](crate::Checked), [`Transition`](crate::state::Transition),
/// [`PageRequest`](crate::page::PageRequest), `HttpRequest`, `web::Path<T>`,
/// `web::Data<T>`, `web::ReqData<T>` and `Option` of any of them are
/// arguments as they are. A raw body (`String`, `web::Bytes`,
/// `web::Payload`) is a [`RawArgument`]: only a `#[webhook]` route, whose
/// body is signed, or a route that declares how much it reads raw with
/// `#[limit(body = "..")]`, may take one.
///
/// # Examples
///
/// An extractor of the application's own opts in with one line:
///
/// ```
/// use std::future::{Ready, ready};
/// use secure_api_runtime::prelude::*;
///
/// /// The tenant named by the `x-tenant` header.
/// struct Tenant(String);
///
/// impl actix_web::FromRequest for Tenant {
///     type Error = Problem;
///     type Future = Ready<Result<Self, Problem>>;
///
///     fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
///         let tenant = req.headers().get("x-tenant").and_then(|v| v.to_str().ok());
///         ready(tenant.map(|t| Tenant(t.to_owned())).ok_or_else(|| Problem::bad_request("no tenant")))
///     }
/// }
///
/// impl secure_api_runtime::Argument for Tenant {}
///
/// #[get("/api/settings")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[authenticated]
/// async fn settings(tenant: Tenant) -> String {
///     tenant.0
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an argument a secured handler may take",
    label = "not an extractor secure-api checks",
    note = "a body is `web::Json<T>`, `web::Form<T>` or `web::Query<T>` of a `#[derive(Input)]` type, validated before the handler runs; a raw body (`String`, `web::Bytes`, `web::Payload`) needs `#[webhook]` or `#[limit(body = \"..\")]` on the route",
    note = "an extractor of your own opts in with `impl secure_api_runtime::Argument for {Self} {{}}`"
)]
pub trait Argument: actix_web::FromRequest {
    /// Checks the extracted value before the handler runs (the
    /// [`Input`] validation of a body); nothing to check by default.
    fn check(&self) -> Result<(), Problem> {
        Ok(())
    }

    /// What the argument reads from the request, for the OpenAPI
    /// document; nothing by default.
    fn describe() -> ArgumentDoc {
        ArgumentDoc::Nothing
    }

    /// Whether the argument needs a caller with a token
    /// ([`Principal`](crate::Principal)): on a `#[public]` or
    /// `#[authenticated(optional)]` route it does not compile.
    const NEEDS_TOKEN: bool = false;

    /// Whether the argument reads the caller's token at all (`Principal`,
    /// and `Option<Principal>`): on a `#[public]` route it does not compile.
    const READS_TOKEN: bool = Self::NEEDS_TOKEN;

    /// Whether the argument exists only on a route with
    /// `#[state_requires]` ([`Transition`](crate::state::Transition)):
    /// elsewhere it does not compile.
    const NEEDS_STATE: bool = false;
}

/// An argument of a route that reads its body raw (a `#[webhook]`, or a
/// route with `#[limit(body = "..")]`): every [`Argument`], and `String`,
/// `web::Bytes` and `web::Payload`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an argument a secured handler may take",
    label = "not an extractor secure-api checks",
    note = "a body is `web::Json<T>`, `web::Form<T>` or `web::Query<T>` of a `#[derive(Input)]` type, validated before the handler runs",
    note = "an extractor of your own opts in with `impl secure_api_runtime::Argument for {Self} {{}}`"
)]
pub trait RawArgument: actix_web::FromRequest {
    /// As [`Argument::check`].
    fn check(&self) -> Result<(), Problem> {
        Ok(())
    }

    /// As [`Argument::NEEDS_TOKEN`].
    const NEEDS_TOKEN: bool = false;

    /// As [`Argument::READS_TOKEN`].
    const READS_TOKEN: bool = false;

    /// As [`Argument::NEEDS_STATE`].
    const NEEDS_STATE: bool = false;

    /// As [`Argument::describe`]; a raw body is any bytes.
    fn describe() -> ArgumentDoc {
        ArgumentDoc::Body {
            media_type: "application/octet-stream",
            schema: ObjectBuilder::new()
                .schema_type(Type::String)
                .content_media_type("application/octet-stream")
                .build()
                .into(),
            required: true,
            fields: None,
        }
    }
}

impl<T: Argument> RawArgument for T {
    fn check(&self) -> Result<(), Problem> {
        Argument::check(self)
    }

    fn describe() -> ArgumentDoc {
        <T as Argument>::describe()
    }

    const NEEDS_TOKEN: bool = <T as Argument>::NEEDS_TOKEN;
    const READS_TOKEN: bool = <T as Argument>::READS_TOKEN;
    const NEEDS_STATE: bool = <T as Argument>::NEEDS_STATE;
}

impl RawArgument for String {}
impl RawArgument for actix_web::web::Bytes {}
impl RawArgument for actix_web::web::Payload {}

impl<T: Input> Argument for actix_web::web::Json<T> {
    fn check(&self) -> Result<(), Problem> {
        self.validate_input()
    }

    fn describe() -> ArgumentDoc {
        ArgumentDoc::of_input::<T>(Some("application/json"))
    }
}

impl<T: Input> Argument for actix_web::web::Form<T> {
    fn check(&self) -> Result<(), Problem> {
        self.validate_input()
    }

    fn describe() -> ArgumentDoc {
        ArgumentDoc::of_input::<T>(Some("application/x-www-form-urlencoded"))
    }
}

impl<T: Input> Argument for actix_web::web::Query<T> {
    fn check(&self) -> Result<(), Problem> {
        self.validate_input()
    }

    fn describe() -> ArgumentDoc {
        ArgumentDoc::of_input::<T>(None)
    }
}

impl<T: Argument> Argument for Option<T> {
    const READS_TOKEN: bool = T::READS_TOKEN;
    const NEEDS_STATE: bool = T::NEEDS_STATE;

    fn check(&self) -> Result<(), Problem> {
        self.as_ref().map_or(Ok(()), Argument::check)
    }

    fn describe() -> ArgumentDoc {
        match T::describe() {
            ArgumentDoc::Body {
                media_type,
                schema,
                fields,
                ..
            } => ArgumentDoc::Body {
                media_type,
                schema,
                required: false,
                fields,
            },
            other => other,
        }
    }
}

impl<T: serde::de::DeserializeOwned + 'static> Argument for actix_web::web::Path<T> {}
impl<T: ?Sized + 'static> Argument for actix_web::web::Data<T> {}
impl<T: Clone + 'static> Argument for actix_web::web::ReqData<T> {}
impl Argument for actix_web::HttpRequest {}
impl Argument for crate::Principal {
    const NEEDS_TOKEN: bool = true;
}
impl<T: 'static> Argument for crate::Checked<T> {}
impl<S: crate::state::StateMachine> Argument for crate::state::Transition<S> {
    const NEEDS_STATE: bool = true;
}
impl Argument for crate::page::PageRequest {
    fn describe() -> ArgumentDoc {
        let field = |name, schema| schema::Field {
            name,
            required: false,
            schema,
            rules: &[],
            example: None,
        };
        ArgumentDoc::Query {
            schema: schema::object(&[field("limit", u32::schema), field("offset", u64::schema)]),
            fields: schema::serde_fields::<crate::page::RawPage>(),
        }
    }
}

/// Records that the input was refused. Used by generated code.
pub fn refused_input() {
    crate::observe::context::refused("input", "the input failed validation");
}
