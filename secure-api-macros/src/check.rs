//! Rules that relate several attributes of one handler. Each `check_<rule>`
//! states its rule and records an error where the rule is broken.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{Ident, ItemFn};

use crate::ast::{Declared, Kind, LimitKey, OwnerSpec, Route, outer_type};
use crate::errors::{Errors, did_you_mean};
use crate::path::{is_id_like, is_user_id, resource_guess};

pub(crate) fn all(declared: &Declared, item: &ItemFn, errors: &mut Errors) {
    check_handler_shape(item, errors);
    check_route_present(declared, item, errors);
    check_access_declared(declared, item, errors);
    check_registered(declared, item, errors);
    check_public_alone(declared, errors);
    check_optional_alone(declared, errors);
    check_webhook_alone(declared, errors);
    check_owner_param(declared, errors);
    check_object_ids_have_owner(declared, errors);
    check_checked_matches_resource(declared, item, errors);
    check_user_limits_need_a_user(declared, errors);
    check_state_object_is_looked_up(declared, errors);
}

/// `#[state_requires(p, T: ..)]` checks the object that
/// `#[owner(p, resource = T)]` loads: the route declares that lookup, for
/// the same parameter and type.
fn check_state_object_is_looked_up(declared: &Declared, errors: &mut Errors) {
    let Some((_, state)) = &declared.state else {
        return;
    };
    if let Some((_, route)) = &declared.route
        && !check_path_parameter(&state.param, route, "state_requires", errors)
    {
        return;
    }
    let written = state
        .resource
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::");
    let looked_up = match &declared.owner {
        Some((
            _,
            OwnerSpec::Param {
                param,
                resource: Some(path),
                ..
            },
        )) => {
            *param == state.param
                && path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect::<Vec<_>>()
                    .join("::")
                    == written
        }
        _ => false,
    };
    if !looked_up {
        errors.push(
            state.param.span(),
            format!("`#[state_requires]` checks the `{written}` named by `{}`, but the route does not load it", state.param),
            format!("add `#[owner({}, resource = {written})]`, which loads the object once and checks its owner", state.param),
        );
    }
}

/// A limit counted per user needs a user: `key = user` and
/// `key = ip_and_user` cannot go on a `#[public]` route.
fn check_user_limits_need_a_user(declared: &Declared, errors: &mut Errors) {
    let Some((_, limit)) = &declared.limit else {
        return;
    };
    let userless = if declared.public.is_some() {
        Some("public")
    } else if declared.webhook.is_some() {
        Some("webhook")
    } else {
        None
    };
    if let (Some(kind), Some((ident, key))) = (userless, &limit.key)
        && *key != LimitKey::Ip
    {
        errors.push(
            ident.span(),
            format!(
                "`key = {ident}` counts requests per user, but a `#[{kind}]` route has no user"
            ),
            format!("use `key = ip` on a {kind} route, or require a token"),
        );
    }
}

/// A `Checked<T>` argument is filled by the ownership lookup of
/// `#[owner(param, resource = T)]`: the route must declare that lookup, for
/// that same `T`.
fn check_checked_matches_resource(declared: &Declared, item: &ItemFn, errors: &mut Errors) {
    let resource = match &declared.owner {
        Some((
            _,
            OwnerSpec::Param {
                resource: Some(resource),
                ..
            },
        )) => Some(resource),
        _ => None,
    };
    for input in &item.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        let Some((name, Some(inner))) = outer_type(&typed.ty) else {
            continue;
        };
        if name != "Checked" {
            continue;
        }
        let inner_text = quote::quote!(#inner).to_string();
        match resource {
            Some(resource) if quote::quote!(#resource).to_string() == inner_text => {}
            Some(resource) => errors.push(
                typed.ty.span(),
                format!(
                    "this route checks the ownership of `{}`, not of `{}`",
                    quote::quote!(#resource).to_string().replace(' ', ""),
                    inner_text.replace(' ', "")
                ),
                format!(
                    "take `Checked<{}>`",
                    quote::quote!(#resource).to_string().replace(' ', "")
                ),
            ),
            None => errors.push(
                typed.ty.span(),
                format!(
                    "`Checked<{}>` is only filled by an ownership lookup",
                    inner_text.replace(' ', "")
                ),
                format!(
                    "declare it: `#[owner(<path parameter>, resource = {})]`",
                    inner_text.replace(' ', "")
                ),
            ),
        }
    }
}

/// A handler is a plain `async fn`: no generics, no receiver.
fn check_handler_shape(item: &ItemFn, errors: &mut Errors) {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.push(
            sig.fn_token.span,
            format!("the handler `{}` must be an `async fn`", sig.ident),
            format!("write `async fn {}(..)`", sig.ident),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.push(
            sig.generics.span(),
            format!("the handler `{}` cannot be generic", sig.ident),
            "write one handler per concrete type",
        );
    }
    if let Some(receiver) = sig.receiver() {
        errors.push(
            receiver.span(),
            "a handler is a free function, not a method",
            "move the handler out of the `impl` block",
        );
    }
}

/// Policy attributes belong to a route: one of `get`, `post`, `put`,
/// `patch`, `delete` must be present.
fn check_route_present(declared: &Declared, item: &ItemFn, errors: &mut Errors) {
    if !declared.has_route() {
        errors.push(
            item.sig.ident.span(),
            format!("`{}` has secure-api policy attributes but no route attribute", item.sig.ident),
            "add the route, e.g. `#[get(\"/api/users/{user_id}\")]` (or `post`, `put`, `patch`, `delete`); if the handler has one, another crate's macro has taken it: an import such as `use actix_web::{get, post};` shadows the prelude's route attributes, so remove that import",
        );
    }
}

/// Every route declares who may call it: `public`, `authenticated`,
/// `roles`, `scopes`, `owner` or `webhook`. Nothing is open by default.
fn check_access_declared(declared: &Declared, item: &ItemFn, errors: &mut Errors) {
    let declares_access = [
        Kind::Public,
        Kind::Authenticated,
        Kind::Roles,
        Kind::Scopes,
        Kind::Owner,
        Kind::Webhook,
    ]
    .into_iter()
    .any(|k| declared.written(k));
    if declared.route.is_some() && !declares_access {
        errors.push(
            item.sig.ident.span(),
            format!("the route `{}` declares no access policy", item.sig.ident),
            "add `#[public]`, `#[authenticated]`, `#[roles(..)]`, `#[scopes(..)]`, `#[owner(..)]` or `#[webhook(..)]` to say who may call it",
        );
    }
}

/// Every route is in the inventory: who owns it and where it is in its
/// life (API9).
fn check_registered(declared: &Declared, item: &ItemFn, errors: &mut Errors) {
    if declared.route.is_some() && !declared.written(Kind::Registered) {
        errors.push(
            item.sig.ident.span(),
            format!("the route `{}` is not registered in the inventory", item.sig.ident),
            "add `#[registered(owner = \"team\", lifecycle = production)]` to say who owns it and where it is in its life",
        );
    }
}

/// A webhook is called by a sender that proves itself with a signature, not
/// by a user with a token: it takes no other access rule.
fn check_webhook_alone(declared: &Declared, errors: &mut Errors) {
    if declared.webhook.is_none() {
        return;
    }
    for (name, span) in token_rules(declared, true) {
        errors.push(
            span,
            format!("`#[webhook]` cannot be combined with `#[{name}]`: a webhook sender proves itself with a signature, not a token"),
            format!("remove `#[{name}]`; write a separate route for callers with tokens"),
        );
    }
}

/// `public` means no principal, so it cannot be combined with a rule that
/// needs one.
fn check_public_alone(declared: &Declared, errors: &mut Errors) {
    if declared.public.is_none() {
        return;
    }
    for (name, span) in token_rules(declared, false) {
        errors.push(
            span,
            format!("`#[public]` cannot be combined with `#[{name}]`: a public route has no caller to check"),
            format!("remove `#[public]` to require a token, or remove `#[{name}]` to serve everyone"),
        );
    }
}

/// `#[authenticated(optional)]` lets callers without a token through, so
/// no rule that needs a caller can go with it.
fn check_optional_alone(declared: &Declared, errors: &mut Errors) {
    if !declared.optional {
        return;
    }
    let waived = matches!(declared.owner, Some((_, OwnerSpec::Waived { .. })));
    for (name, span) in token_rules(declared, false) {
        if name == "authenticated" || (name == "owner" && waived) {
            continue;
        }
        errors.push(
            span,
            format!("`#[authenticated(optional)]` cannot be combined with `#[{name}]`: a caller without a token gets through, and has nothing to check"),
            format!("write `#[authenticated]` to require a token, or remove `#[{name}]`"),
        );
    }
}

/// The access attributes written that need a caller with a token (and
/// `public` too, when asked), with their spans.
fn token_rules(declared: &Declared, with_public: bool) -> Vec<(&'static str, Span)> {
    [
        ("public", declared.public.filter(|_| with_public)),
        ("authenticated", declared.authenticated),
        ("roles", declared.roles.as_ref().map(|(s, _)| *s)),
        ("scopes", declared.scopes.as_ref().map(|(s, _)| *s)),
        ("owner", declared.owner.as_ref().map(|(s, _)| *s)),
    ]
    .into_iter()
    .filter_map(|(name, span)| span.map(|span| (name, span)))
    .collect()
}

/// `#[owner(x)]` compares a path parameter with the caller: `x` must be a
/// parameter of the route's path.
fn check_owner_param(declared: &Declared, errors: &mut Errors) {
    let (
        Some((_, route)),
        Some((
            _,
            OwnerSpec::Param {
                param,
                resource,
                vouched,
                ..
            },
        )),
    ) = (&declared.route, &declared.owner)
    else {
        return;
    };
    if !check_path_parameter(param, route, "owner", errors) {
        return;
    }
    // The plain form compares the parameter with the caller's own id: on
    // an object's id (`loan_id`), a user whose id equals a loan's reads it.
    if resource.is_none() && vouched.is_none() && !is_user_id(&param.to_string()) {
        errors.push(
            param.span(),
            format!(
                "`#[owner({param})]` compares `{param}` with the caller's own id, and `{param}` does not name a user"
            ),
            format!(
                "load the object and check its owner with `#[owner({param}, resource = {})]`; if `{param}` does hold the caller's user id, say why with `#[owner({param}, reason = \"...\")]`",
                resource_guess(&param.to_string())
            ),
        );
    }
}

/// `param`, named by `#[attr(param, ..)]`, is one of the route's path
/// parameters; the error names the nearest and lists them all. Whether it
/// is.
fn check_path_parameter(param: &Ident, route: &Route, attr: &str, errors: &mut Errors) -> bool {
    let name = param.to_string();
    if route.params.contains(&name) {
        return true;
    }
    let path = route.path.value();
    let help = if route.params.is_empty() {
        format!(
            "`{path}` has no parameters; `#[{attr}]` needs one such as `{{user_id}}` in the path"
        )
    } else {
        let hint = did_you_mean(&name, route.params.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`? "))
            .unwrap_or_default();
        let list = route
            .params
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{hint}the path parameters are {list}")
    };
    errors.push(
        param.span(),
        format!("`{name}` is not a path parameter of `{path}`"),
        help,
    );
    false
}

/// The BOLA lint: a route on `#[authenticated]`, `#[roles]` or `#[scopes]` whose path
/// carries an object id (`id`, `*_id`, `*Id`, `*ID`) must say whose object
/// it is, with `#[owner]`, or waive the check with
/// `#[owner(none, reason = "...")]`. The help offers the resource form
/// first; comparing the id with the caller's own only for a user id.
fn check_object_ids_have_owner(declared: &Declared, errors: &mut Errors) {
    let Some((_, route)) = &declared.route else {
        return;
    };
    let signed_in = declared.authenticated.is_some()
        || declared.written(Kind::Roles)
        || declared.written(Kind::Scopes);
    if !signed_in || declared.written(Kind::Owner) {
        return;
    }
    if let Some(id) = route.params.iter().find(|p| is_id_like(p)) {
        let help = if is_user_id(id) {
            format!(
                "add `#[owner({id})]` so only that user may call it, `#[owner({id}, or_roles(..))]` to let roles through, or `#[owner(none, reason = \"...\")]` to waive the check"
            )
        } else {
            format!(
                "add `#[owner({id}, resource = {})]` so the object is loaded and only its owner may call it, or `#[owner(none, reason = \"...\")]` to waive the check",
                resource_guess(id)
            )
        };
        errors.push(
            route.path.span(),
            format!(
                "the route `{} {}` takes the object id `{id}` but checks no ownership (broken object level authorization)",
                route.kind.name().to_uppercase(),
                route.path.value()
            ),
            help,
        );
    }
}
