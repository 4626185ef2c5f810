//! Attribute macros of secure-api. Use them through
//! `secure_api_runtime::prelude`, which re-exports them; this crate holds no
//! runtime logic.
//!
//! Every attribute of a handler (the route and its policies) is read by
//! whichever of them the compiler expands first, so their order on the `fn`
//! does not matter.

mod ast;
mod check;
mod errors;
mod expand;
mod input;
mod limit;
mod path;
mod state;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

use crate::ast::Kind;

macro_rules! entry_points {
    ($($(#[$doc:meta])* $name:ident => $kind:ident,)*) => {$(
        $(#[$doc])*
        #[proc_macro_attribute]
        pub fn $name(args: TokenStream, item: TokenStream) -> TokenStream {
            expand::route(Kind::$kind, args.into(), item.into()).into()
        }
    )*};
}

entry_points! {
    /// `#[get("/path")]`: a `GET` route. Needs an access policy attribute.
    get => Get,
    /// `#[post("/path")]`: a `POST` route. Needs an access policy attribute.
    post => Post,
    /// `#[put("/path")]`: a `PUT` route. Needs an access policy attribute.
    put => Put,
    /// `#[patch("/path")]`: a `PATCH` route. Needs an access policy attribute.
    patch => Patch,
    /// `#[delete("/path")]`: a `DELETE` route. Needs an access policy attribute.
    delete => Delete,
    /// `#[public]`: the route needs no authentication, by explicit choice.
    public => Public,
    /// `#[authenticated]`: the route needs a valid bearer access token.
    authenticated => Authenticated,
    /// `#[roles(admin)]`, `#[roles(any(a, b))]`, `#[roles(all(a, b))]`:
    /// the principal must hold these roles (implies authenticated).
    roles => Roles,
    /// `#[scopes("reports:read")]`, `#[scopes(any(a, b))]`, `#[scopes(all(a, b))]`:
    /// the access token must grant these OAuth2 scopes (implies
    /// authenticated); 403 with `WWW-Authenticate: Bearer
    /// error="insufficient_scope"` otherwise.
    scopes => Scopes,
    /// `#[owner(user_id)]`: the path parameter must equal the principal's
    /// subject; `#[owner(user_id, or_roles(admin))]` lets those roles through;
    /// `#[owner(none, reason = "...")]` states that an id route needs no
    /// ownership check.
    owner => Owner,
    /// `#[expose(id, username)]`: the response body carries exactly these
    /// fields of the returned value (`T`, `Vec<T>`, `Option<T>`, `Page<T>`,
    /// `Created<T>`, or a `Result` of one of them).
    expose => Expose,
    /// `#[limit("30/minute; 5/second", key = user, body = "64KiB", concurrency = 4)]`:
    /// per-route quotas (429), body cap (413) and in-flight cap (503).
    limit => Limit,
    /// `#[state_requires(order_id, Order: Validated => Executed)]`: the
    /// object (loaded by `#[owner(order_id, resource = Order)]`) must be in
    /// the first state (409 otherwise); the transition must be declared.
    state_requires => StateRequires,
    /// `#[idempotent]`: the route requires an `Idempotency-Key` header; a
    /// replay returns the first answer without running the handler again.
    idempotent => Idempotent,
    /// `#[webhook(secret = "PAYMENT_WEBHOOK_SECRET")]`: the route is called
    /// by a webhook sender, not a user; its raw body must carry a valid
    /// HMAC-SHA256 signature (Standard Webhooks format) with the keys
    /// registered under that name, before anything parses it.
    webhook => Webhook,
    /// `#[registered(owner = "team", lifecycle = production)]`: the route's
    /// inventory entry, required on every route. `lifecycle = deprecated(sunset
    /// = "2027-06-30", successor = "/api/v2/users")` adds `Deprecation`,
    /// `Sunset` and `Link` headers; `lifecycle = retired` answers 410.
    registered => Registered,
}

/// `#[derive(StateMachine)]` with `#[transitions(Draft => Validated, ..)]`:
/// an enum of states and the moves between them.
#[proc_macro_derive(StateMachine, attributes(transitions))]
pub fn derive_state_machine(item: TokenStream) -> TokenStream {
    state::derive(item.into()).into()
}

/// `#[derive(Input)]`: a declared request body. Requires
/// `#[serde(deny_unknown_fields)]` and a `garde::Validate` implementation.
/// A field may show an example in the API document with
/// `#[input(example = "..")]`.
#[proc_macro_derive(Input, attributes(input))]
pub fn derive_input(item: TokenStream) -> TokenStream {
    input::derive(item.into()).into()
}
