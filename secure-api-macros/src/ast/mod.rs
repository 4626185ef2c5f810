//! Parsing: the handler and each of its secure-api attributes, into typed
//! values that keep their tokens for spans, one module per attribute. Rules
//! about one attribute's own options live in its module; rules that relate
//! several attributes live in `check`.

mod authenticated;
mod expose;
mod limit;
mod owner;
mod registered;
mod roles;
mod route;
mod state;
mod webhook;

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser as _};
use syn::spanned::Spanned as _;
use syn::{Attribute, Ident, ItemFn, Meta, Type};

use crate::errors::{Errors, error};

pub(crate) use limit::{LimitKey, LimitSpec};
pub(crate) use owner::OwnerSpec;
pub(crate) use registered::{Lifecycle, Registration};
pub(crate) use roles::{RoleList, RoleMode};
pub(crate) use route::Route;
pub(crate) use state::StateSpec;

/// The attributes this crate defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Public,
    Authenticated,
    Roles,
    Scopes,
    Owner,
    Expose,
    Limit,
    StateRequires,
    Idempotent,
    Webhook,
    Registered,
}

impl Kind {
    pub(crate) const ALL: [Self; 16] = [
        Self::Get,
        Self::Post,
        Self::Put,
        Self::Patch,
        Self::Delete,
        Self::Public,
        Self::Authenticated,
        Self::Roles,
        Self::Scopes,
        Self::Owner,
        Self::Expose,
        Self::Limit,
        Self::StateRequires,
        Self::Idempotent,
        Self::Webhook,
        Self::Registered,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::Public => "public",
            Self::Authenticated => "authenticated",
            Self::Roles => "roles",
            Self::Scopes => "scopes",
            Self::Owner => "owner",
            Self::Expose => "expose",
            Self::Limit => "limit",
            Self::StateRequires => "state_requires",
            Self::Idempotent => "idempotent",
            Self::Webhook => "webhook",
            Self::Registered => "registered",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn is_route(self) -> bool {
        matches!(
            self,
            Self::Get | Self::Post | Self::Put | Self::Patch | Self::Delete
        )
    }
}

/// Everything declared on one handler. `span`s point at the attribute's name.
#[derive(Default)]
pub(crate) struct Declared {
    pub route: Option<(Span, Route)>,
    pub public: Option<Span>,
    pub authenticated: Option<Span>,
    /// `#[authenticated(fresh)]`.
    pub fresh: bool,
    /// `#[authenticated(optional)]`.
    pub optional: bool,
    pub roles: Option<(Span, RoleList)>,
    /// `#[scopes(..)]`: OAuth2 scopes, in the same list form as roles.
    pub scopes: Option<(Span, RoleList)>,
    pub owner: Option<(Span, OwnerSpec)>,
    pub expose: Option<(Span, Vec<Ident>)>,
    pub limit: Option<(Span, LimitSpec)>,
    pub state: Option<(Span, StateSpec)>,
    pub idempotent: Option<Span>,
    /// `#[webhook(secret = "NAME")]`: the span and the secret's name.
    pub webhook: Option<(Span, String)>,
    /// `#[registered(..)]`: the route's inventory entry.
    pub registered: Option<(Span, Registration)>,
    /// Attributes that were written but did not parse; their errors are
    /// reported already, so rules that look for them stay silent.
    pub invalid: Vec<Kind>,
}

impl Declared {
    /// Whether a policy attribute of `kind` was written, valid or not.
    pub(crate) fn written(&self, kind: Kind) -> bool {
        self.invalid.contains(&kind)
            || match kind {
                Kind::Public => self.public.is_some(),
                Kind::Authenticated => self.authenticated.is_some(),
                Kind::Roles => self.roles.is_some(),
                Kind::Scopes => self.scopes.is_some(),
                Kind::Owner => self.owner.is_some(),
                Kind::Expose => self.expose.is_some(),
                Kind::Limit => self.limit.is_some(),
                Kind::StateRequires => self.state.is_some(),
                Kind::Idempotent => self.idempotent.is_some(),
                Kind::Webhook => self.webhook.is_some(),
                Kind::Registered => self.registered.is_some(),
                Kind::Get | Kind::Post | Kind::Put | Kind::Patch | Kind::Delete => self.has_route(),
            }
    }

    /// Whether a route attribute was written, valid or not.
    pub(crate) fn has_route(&self) -> bool {
        self.route.is_some() || self.invalid.iter().any(|k| k.is_route())
    }
}

/// Parses the handler and all of its secure-api attributes: the one being
/// expanded (`trigger`, with `args`) and any still written on the item,
/// which are removed from it. `None` when the item is not a function.
pub(crate) fn parse(
    trigger: Kind,
    args: TokenStream,
    item: TokenStream,
    errors: &mut Errors,
) -> Option<(Declared, ItemFn)> {
    let mut item: ItemFn = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            errors.push(
                e.span(),
                format!("`#[{}]` goes on an `async fn` handler", trigger.name()),
                "write the handler as `async fn name(..) -> impl Responder { .. }`",
            );
            return None;
        }
    };
    let mut raws = vec![(trigger, Span::call_site(), args)];
    let mut declared = Declared::default();
    let mut kept = Vec::with_capacity(item.attrs.len());
    for attr in std::mem::take(&mut item.attrs) {
        match classify(&attr) {
            Class::Ours(kind) => match attr.meta {
                Meta::Path(path) => raws.push((kind, path.span(), TokenStream::new())),
                Meta::List(list) => raws.push((kind, list.path.span(), list.tokens)),
                Meta::NameValue(nv) => errors.push(
                    nv.eq_token.span,
                    format!("`#[{} = ..]` is not a form secure-api reads", kind.name()),
                    format!("write `#[{}(..)]`", kind.name()),
                ),
            },
            Class::ActixRoute(name) => {
                // It stands where a route attribute belongs: the missing route is this error.
                declared.invalid.push(Kind::Get);
                errors.push(
                attr.path().span(),
                format!("`#[actix_web::{name}]` registers a handler that no security policy guards"),
                format!("use `#[{name}(\"/path\")]` from `secure_api_runtime::prelude` together with an access policy"),
                );
            }
            Class::Other => kept.push(attr),
        }
    }
    item.attrs = kept;

    for (kind, span, args) in raws {
        parse_one(kind, span, args, &mut declared, errors);
    }
    Some((declared, item))
}

enum Class {
    Ours(Kind),
    ActixRoute(String),
    Other,
}

fn classify(attr: &Attribute) -> Class {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let last = segments.last().map(String::as_str).unwrap_or_default();
    let first = segments.first().map(String::as_str).unwrap_or_default();
    match Kind::from_name(last) {
        Some(kind)
            if segments.len() == 1
                || first == "secure_api_runtime"
                || first == "secure_api_macros" =>
        {
            Class::Ours(kind)
        }
        _ if first == "actix_web"
            && [
                "get", "post", "put", "patch", "delete", "head", "route", "routes",
            ]
            .contains(&last) =>
        {
            Class::ActixRoute(last.to_owned())
        }
        _ => Class::Other,
    }
}

fn parse_one(
    kind: Kind,
    span: Span,
    args: TokenStream,
    declared: &mut Declared,
    errors: &mut Errors,
) {
    let taken = match kind {
        Kind::Get | Kind::Post | Kind::Put | Kind::Patch | Kind::Delete => {
            declared.route.as_ref().map(|(_, r)| r.kind)
        }
        Kind::Public => declared.public.map(|_| kind),
        Kind::Authenticated => declared.authenticated.map(|_| kind),
        Kind::Roles => declared.roles.as_ref().map(|_| kind),
        Kind::Scopes => declared.scopes.as_ref().map(|_| kind),
        Kind::Owner => declared.owner.as_ref().map(|_| kind),
        Kind::Expose => declared.expose.as_ref().map(|_| kind),
        Kind::Limit => declared.limit.as_ref().map(|_| kind),
        Kind::StateRequires => declared.state.as_ref().map(|_| kind),
        Kind::Idempotent => declared.idempotent.map(|_| kind),
        Kind::Webhook => declared.webhook.as_ref().map(|_| kind),
        Kind::Registered => declared.registered.as_ref().map(|_| kind),
    };
    if let Some(first) = taken {
        if first == kind {
            errors.push(
                span,
                format!("duplicate `#[{}]` attribute", kind.name()),
                format!("keep one `#[{}]` on the handler", kind.name()),
            );
        } else {
            errors.push(
                span,
                format!(
                    "a handler has one route attribute, but this one has `#[{}]` and `#[{}]`",
                    first.name(),
                    kind.name()
                ),
                "write a separate handler for each method",
            );
        }
        return;
    }
    let parsed = match kind {
        Kind::Public => no_options(kind, args).map(|()| declared.public = Some(span)),
        Kind::Idempotent => no_options(kind, args).map(|()| declared.idempotent = Some(span)),
        Kind::Authenticated => authenticated::parse(args).map(|option| {
            declared.authenticated = Some(span);
            declared.fresh = option == authenticated::Option::Fresh;
            declared.optional = option == authenticated::Option::Optional;
        }),
        Kind::Roles => (|input: ParseStream<'_>| roles::parse_list(input, span, "roles", false))
            .parse2(args)
            .map(|list| declared.roles = Some((span, list))),
        Kind::Scopes => (|input: ParseStream<'_>| roles::parse_list(input, span, "scopes", false))
            .parse2(args)
            .map(|list| declared.scopes = Some((span, list))),
        Kind::Limit => limit::parse(args, span).map(|limit| declared.limit = Some((span, limit))),
        Kind::StateRequires => (|input: ParseStream<'_>| state::parse(input, span))
            .parse2(args)
            .map(|state| declared.state = Some((span, state))),
        Kind::Registered => (|input: ParseStream<'_>| registered::parse(input, span))
            .parse2(args)
            .map(|registration| declared.registered = Some((span, registration))),
        Kind::Webhook => (|input: ParseStream<'_>| webhook::parse(input, span))
            .parse2(args)
            .map(|secret| declared.webhook = Some((span, secret))),
        Kind::Expose => (|input: ParseStream<'_>| expose::parse(input, span))
            .parse2(args)
            .map(|fields| declared.expose = Some((span, fields))),
        Kind::Owner => (|input: ParseStream<'_>| owner::parse(input, span))
            .parse2(args)
            .map(|spec| declared.owner = Some((span, spec))),
        Kind::Get | Kind::Post | Kind::Put | Kind::Patch | Kind::Delete => {
            (|input: ParseStream<'_>| route::parse(input, kind, span))
                .parse2(args)
                .map(|route| declared.route = Some((span, route)))
        }
    };
    if let Err(e) = parsed {
        declared.invalid.push(kind);
        errors.push_syn(e);
    }
}

fn no_options(kind: Kind, args: TokenStream) -> syn::Result<()> {
    match args.into_iter().next() {
        None => Ok(()),
        Some(token) => Err(error(
            token.span(),
            format!("`#[{}]` takes no options", kind.name()),
            format!("write `#[{}]`", kind.name()),
        )),
    }
}

/// The last path segment's name and its single type argument, e.g.
/// `web::Json<Body>` → `("Json", Some(Body))`.
pub(crate) fn outer_type(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let inner = match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    Some((last.ident.to_string(), inner))
}
