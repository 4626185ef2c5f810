//! Object-level authorization through lookups (OWASP API1):
//! `#[owner(order_id, resource = Order)]`.
//!
//! The guard loads the object named by the path parameter through
//! [`Owned::load`], compares its owner with the caller, and hands the loaded
//! object to the handler as [`Checked<T>`], which nothing else can build.
//! Someone else's object and a missing one both answer 404.

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

use crate::guard::exchange::{Exchange, Step};
use crate::policy::OwnerRule;
use crate::problem::{Problem, Refusal};

/// An object whose owner the guard checks before the handler runs.
///
/// `load` reads from [`Owned::Source`], which the guard takes from the
/// application's data by its type (register it with
/// [`SecureApp::app_data`](crate::SecureApp::app_data)); when it is missing,
/// the request answers 500 and the log names the type to register.
///
/// # Examples
///
/// ```
/// use std::borrow::Cow;
/// use std::collections::HashMap;
/// use secure_api_runtime::prelude::*;
///
/// struct Order { id: i64, owner_id: i64 }
///
/// /// The application's store (a database pool in a real application).
/// struct Orders(HashMap<i64, i64>);
///
/// impl Owned for Order {
///     type Source = web::Data<Orders>;
///
///     async fn load(id: &str, orders: &web::Data<Orders>) -> Result<Option<Self>, Problem> {
///         let Ok(id) = id.parse() else { return Ok(None) };
///         Ok(orders.0.get(&id).map(|&owner_id| Order { id, owner_id }))
///     }
///
///     fn owner(&self) -> Cow<'_, str> {
///         Cow::Owned(self.owner_id.to_string())
///     }
/// }
///
/// #[post("/api/orders/{order_id}/validate")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[owner(order_id, resource = Order)]
/// async fn validate(order: Checked<Order>) -> String {
///     format!("order {} validated", order.id)
/// }
///
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().unwrap();
/// let app = SecureApp::new(security)
///     .app_data(web::Data::new(Orders(HashMap::from([(1, 7)]))))
///     .service(validate);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be checked for ownership",
    label = "`#[owner(.., resource = {Self})]` needs `impl Owned for {Self}`",
    note = "implement `Owned` for it: `load` finds the object by the path parameter, `owner` names its owner's subject"
)]
pub trait Owned: Sized + 'static {
    /// What `load` reads from: application data registered with
    /// `.app_data(..)`, found by this type (usually `web::Data<YourStore>`).
    type Source: 'static;

    /// Loads the object named by the path parameter's raw value; `Ok(None)`
    /// when there is none (including when `id` is not a valid id).
    fn load(id: &str, source: &Self::Source)
    -> impl Future<Output = Result<Option<Self>, Problem>>;

    /// The subject (`sub` of the access token) of the object's owner.
    fn owner(&self) -> Cow<'_, str>;
}

/// An object whose ownership the guard checked for this request. Only the
/// guard creates it; take it as a handler argument instead of loading the
/// object again.
#[derive(Debug)]
pub struct Checked<T>(T);

impl<T> Checked<T> {
    /// The checked object.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Checked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: 'static> FromRequest for Checked<T> {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions_mut().remove::<Checked<T>>().ok_or_else(|| {
            tracing::error!(
                target: "secure_api",
                path = req.path(),
                "a `Checked` argument was taken twice or without `#[owner(.., resource = ..)]`"
            );
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        }))
    }
}

pub use crate::policy::CheckOwned;

/// Loads `T` by `id`; passes if `sub` owns it or `bypass` (an `or_roles`
/// role) holds, and stores it for [`Checked<T>`]. 404 otherwise.
pub fn check_owned<T: Owned>(
    id: String,
    req: HttpRequest,
    sub: String,
    bypass: bool,
) -> Pin<Box<dyn Future<Output = Result<(), Problem>>>> {
    Box::pin(async move {
        let Some(source) = req.app_data::<T::Source>() else {
            tracing::error!(
                target: "secure_api",
                path = req.path(),
                resource = std::any::type_name::<T>(),
                missing = std::any::type_name::<T::Source>(),
                "the ownership check cannot load the resource: register its `Owned::Source` with `.app_data(..)`"
            );
            return Err(Problem::internal());
        };
        let object = T::load(&id, source).await?.ok_or_else(Problem::not_found)?;
        if !bypass && object.owner() != sub {
            return Err(Problem::not_found());
        }
        req.extensions_mut().insert(Checked(object));
        Ok(())
    })
}

/// Step: `#[owner(user_id)]`: the path parameter equals the caller's
/// subject, or the caller holds one of `or_roles` (403 otherwise).
pub(crate) async fn require_subject(x: &mut Exchange) -> Step {
    let OwnerRule::Subject { param, or_roles } = x.policy().owner else {
        return Ok(());
    };
    let Some(sub) = x.sub() else { return Ok(()) };
    let owns = x
        .req
        .match_info()
        .get(param)
        .is_some_and(|value| value == sub);
    if owns || x.holds_any(or_roles) {
        return Ok(());
    }
    Err(Refusal::new(
        Problem::forbidden("the caller does not own this resource"),
        "owner",
        "not_owner",
    )
    .into())
}

/// Step: `#[owner(order_id, resource = Order)]`: the object is loaded once
/// through [`Owned::load`] and must belong to the caller (or the caller
/// holds one of `or_roles`); someone else's object and a missing one both
/// answer 404. The handler receives it as [`Checked<T>`].
pub(crate) async fn load(x: &mut Exchange) -> Step {
    let (
        OwnerRule::Resource {
            param, or_roles, ..
        },
        Some(check),
    ) = (x.policy().owner, x.policy().check_owned)
    else {
        return Ok(());
    };
    let Some(sub) = x.sub() else { return Ok(()) };
    let id = x.req.match_info().get(param).unwrap_or_default().to_owned();
    let lookup = check(
        id,
        x.req.request().clone(),
        sub.to_owned(),
        x.holds_any(or_roles),
    );
    lookup.await.map_err(|problem| {
        let reason = if problem.status() == StatusCode::NOT_FOUND {
            "not_owner_or_missing"
        } else {
            "lookup_failed"
        };
        Refusal::new(problem, "owner", reason).into()
    })
}
