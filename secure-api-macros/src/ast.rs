//! Parsing: the handler and each of its secure-api attributes, into typed
//! values that keep their tokens for spans. Rules about one attribute's own
//! options live here; rules that relate several attributes live in `check`.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::spanned::Spanned as _;
use syn::{Attribute, Ident, ItemFn, LitStr, Meta, Token};

use crate::errors::{Errors, did_you_mean, error};
use crate::path;

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
    Owner,
    Expose,
    Limit,
    StateRequires,
    Idempotent,
    Webhook,
    Registered,
}

impl Kind {
    const ALL: [Self; 15] = [
        Self::Get,
        Self::Post,
        Self::Put,
        Self::Patch,
        Self::Delete,
        Self::Public,
        Self::Authenticated,
        Self::Roles,
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

/// `#[get("/path")]` and its siblings.
pub(crate) struct Route {
    pub kind: Kind,
    pub path: LitStr,
    pub params: Vec<String>,
}

pub(crate) struct Role {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleMode {
    Any,
    All,
}

pub(crate) struct RoleList {
    pub mode: RoleMode,
    pub roles: Vec<Role>,
}

pub(crate) enum OwnerSpec {
    /// `#[owner(param)]`, `#[owner(param, or_roles(..))]`,
    /// `#[owner(param, resource = Type)]`
    Param {
        param: Ident,
        or_roles: Option<RoleList>,
        resource: Option<syn::Path>,
    },
    /// `#[owner(none, reason = "...")]`
    Waived { reason: LitStr },
}

/// `#[state_requires(order_id, Order: Validated => Executed)]`
pub(crate) struct StateSpec {
    pub param: Ident,
    pub resource: syn::Path,
    pub from: Ident,
    pub to: Ident,
}

fn parse_state_requires(input: ParseStream<'_>, span: Span) -> syn::Result<StateSpec> {
    let help = "write `#[state_requires(order_id, Order: Validated => Executed)]`";
    if input.is_empty() {
        return Err(error(
            span,
            "`#[state_requires]` needs the object and its transition",
            help,
        ));
    }
    let shape = |e: syn::Error| {
        error(
            e.span(),
            "expected `<path parameter>, <Type>: <From> => <To>`",
            help,
        )
    };
    let param: Ident = input.call(Ident::parse_any).map_err(shape)?;
    input.parse::<Token![,]>().map_err(shape)?;
    let resource: syn::Path = input.parse().map_err(shape)?;
    input.parse::<Token![:]>().map_err(shape)?;
    let from: Ident = input.parse().map_err(shape)?;
    input.parse::<Token![=>]>().map_err(shape)?;
    let to: Ident = input.parse().map_err(shape)?;
    if !input.is_empty() {
        return Err(error(
            input.span(),
            "unexpected tokens after the transition",
            help,
        ));
    }
    Ok(StateSpec {
        param,
        resource,
        from,
        to,
    })
}

/// Who a `#[limit]` counts requests for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitKey {
    Ip,
    User,
    IpAndUser,
}

/// `#[limit("30/minute; 5/second", key = user, body = "64KiB", concurrency = 4)]`
pub(crate) struct LimitSpec {
    pub quotas: Vec<crate::limit::Quota>,
    /// The key as written, if written.
    pub key: Option<(Ident, LimitKey)>,
    pub body: Option<u64>,
    pub concurrency: Option<u32>,
}

#[derive(darling::FromMeta)]
struct LimitOptions {
    #[darling(default)]
    key: Option<Ident>,
    #[darling(default)]
    body: Option<LitStr>,
    #[darling(default)]
    concurrency: Option<syn::LitInt>,
}

const LIMIT_HELP: &str = "write `#[limit(\"30/minute; 5/second\", key = ip | user | ip_and_user, body = \"64KiB\", concurrency = 4)]`; every part is optional but one";

fn parse_limit(args: TokenStream, span: Span) -> syn::Result<LimitSpec> {
    use darling::FromMeta as _;
    let mut items = darling::ast::NestedMeta::parse_meta_list(args)?;
    let mut quotas = Vec::new();
    if let Some(darling::ast::NestedMeta::Lit(syn::Lit::Str(spec))) = items.first() {
        quotas = crate::limit::quotas(&spec.value()).map_err(|reason| {
            error(
                spec.span(),
                format!("`{}` is not a valid limit: {reason}", spec.value()),
                LIMIT_HELP,
            )
        })?;
        items.remove(0);
    }
    if let Some(darling::ast::NestedMeta::Lit(lit)) = items.first() {
        return Err(error(
            lit.span(),
            "the quotas come first, as one string",
            LIMIT_HELP,
        ));
    }
    let options = LimitOptions::from_list(&items).map_err(|e| {
        let mut errors = e.into_iter().map(|e| {
            let message = e.to_string();
            let mut chars = message.chars();
            let message = chars
                .next()
                .map(|c| c.to_lowercase().collect::<String>() + chars.as_str())
                .unwrap_or_default();
            error(
                e.span(),
                format!("in `#[limit]`: {}", message.trim_end_matches('.')),
                LIMIT_HELP,
            )
        });
        let mut first = errors
            .next()
            .unwrap_or_else(|| error(span, "`#[limit]` is not valid", LIMIT_HELP));
        for next in errors {
            first.combine(next);
        }
        first
    })?;
    let key = match options.key {
        None => None,
        Some(ident) => {
            let key = match ident.to_string().as_str() {
                "ip" => LimitKey::Ip,
                "user" => LimitKey::User,
                "ip_and_user" => LimitKey::IpAndUser,
                other => {
                    let hint = did_you_mean(other, ["ip", "user", "ip_and_user"])
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    return Err(error(
                        ident.span(),
                        format!("`{other}` is not a limit key"),
                        format!("{hint}the keys are `ip`, `user` and `ip_and_user`"),
                    ));
                }
            };
            Some((ident, key))
        }
    };
    let body = match options.body {
        None => None,
        Some(lit) => Some(crate::limit::size(&lit.value()).map_err(|reason| {
            error(
                lit.span(),
                format!("`body = \"{}\"` is not a valid size: {reason}", lit.value()),
                "write a size such as `body = \"64KiB\"`",
            )
        })?),
    };
    let concurrency = match options.concurrency {
        None => None,
        Some(lit) => match lit.base10_parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(error(
                    lit.span(),
                    "`concurrency` is a count of at least 1",
                    "write `concurrency = 4`",
                ));
            }
        },
    };
    if quotas.is_empty() && key.is_some() {
        return Err(error(
            span,
            "`key` chooses who the quotas count for, but this `#[limit]` has no quotas",
            "add the quotas first, e.g. `#[limit(\"30/minute\", key = user)]`",
        ));
    }
    if quotas.is_empty() && body.is_none() && concurrency.is_none() {
        return Err(error(span, "`#[limit]` sets no limit", LIMIT_HELP));
    }
    Ok(LimitSpec {
        quotas,
        key,
        body,
        concurrency,
    })
}

/// Everything declared on one handler. `span`s point at the attribute's name.
#[derive(Default)]
pub(crate) struct Declared {
    pub route: Option<(Span, Route)>,
    pub public: Option<Span>,
    pub authenticated: Option<Span>,
    /// `#[authenticated(fresh)]`.
    pub fresh: bool,
    pub roles: Option<(Span, RoleList)>,
    pub owner: Option<(Span, OwnerSpec)>,
    pub expose: Option<(Span, Vec<Ident>)>,
    pub limit: Option<(Span, LimitSpec)>,
    pub state: Option<(Span, StateSpec)>,
    pub idempotent: Option<Span>,
    /// `#[webhook(secret = "NAME")]`: the span and the secret's name.
    pub webhook: Option<(Span, String)>,
    /// `#[registered(..)]`: the route's inventory entry.
    pub registered: Option<(Span, crate::registered::Registration)>,
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
                Kind::Owner => self.owner.is_some(),
                Kind::Expose => self.expose.is_some(),
                Kind::Limit => self.limit.is_some(),
                Kind::StateRequires => self.state.is_some(),
                Kind::Idempotent => self.idempotent.is_some(),
                Kind::Webhook => self.webhook.is_some(),
                Kind::Registered => self.registered.is_some(),
                _ => self.has_route(),
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
        _ if kind.is_route() => declared.route.as_ref().map(|(_, r)| r.kind),
        Kind::Public => declared.public.map(|_| kind),
        Kind::Authenticated => declared.authenticated.map(|_| kind),
        Kind::Roles => declared.roles.as_ref().map(|_| kind),
        Kind::Expose => declared.expose.as_ref().map(|_| kind),
        Kind::Limit => declared.limit.as_ref().map(|_| kind),
        Kind::StateRequires => declared.state.as_ref().map(|_| kind),
        Kind::Idempotent => declared.idempotent.map(|_| kind),
        Kind::Webhook => declared.webhook.as_ref().map(|_| kind),
        Kind::Registered => declared.registered.as_ref().map(|_| kind),
        _ => declared.owner.as_ref().map(|_| kind),
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
        Kind::Public | Kind::Idempotent => no_options(kind, args).map(|()| match kind {
            Kind::Public => declared.public = Some(span),
            _ => declared.idempotent = Some(span),
        }),
        Kind::Authenticated => parse_authenticated(args).map(|fresh| {
            declared.authenticated = Some(span);
            declared.fresh = fresh;
        }),
        Kind::Roles => (|input: ParseStream<'_>| parse_role_list(input, span, "roles", false))
            .parse2(args)
            .map(|list| declared.roles = Some((span, list))),
        Kind::Limit => parse_limit(args, span).map(|limit| declared.limit = Some((span, limit))),
        Kind::StateRequires => (|input: ParseStream<'_>| parse_state_requires(input, span))
            .parse2(args)
            .map(|state| declared.state = Some((span, state))),
        Kind::Registered => (|input: ParseStream<'_>| crate::registered::parse(input, span))
            .parse2(args)
            .map(|registration| declared.registered = Some((span, registration))),
        Kind::Webhook => (|input: ParseStream<'_>| parse_webhook(input, span))
            .parse2(args)
            .map(|secret| declared.webhook = Some((span, secret))),
        Kind::Expose => (|input: ParseStream<'_>| parse_expose(input, span))
            .parse2(args)
            .map(|fields| declared.expose = Some((span, fields))),
        Kind::Owner => (|input: ParseStream<'_>| parse_owner(input, span))
            .parse2(args)
            .map(|spec| declared.owner = Some((span, spec))),
        _ => (|input: ParseStream<'_>| parse_route(input, kind, span))
            .parse2(args)
            .map(|route| declared.route = Some((span, route))),
    };
    if let Err(e) = parsed {
        declared.invalid.push(kind);
        errors.push_syn(e);
    }
}

/// `#[webhook(secret = "NAME")]`: the name its keys are registered under.
fn parse_webhook(input: ParseStream<'_>, span: Span) -> syn::Result<String> {
    let help = "write `#[webhook(secret = \"PAYMENT_WEBHOOK_SECRET\")]`, naming the secret registered with `SecureApp::webhook`";
    if input.is_empty() {
        return Err(error(
            span,
            "`#[webhook]` needs the name of its secret",
            help,
        ));
    }
    let option: Ident = input.call(Ident::parse_any)?;
    if option != "secret" {
        return Err(error(
            option.span(),
            format!("unknown option `{option}` in `#[webhook]`"),
            help,
        ));
    }
    input.parse::<Token![=]>()?;
    let name: LitStr = input
        .parse()
        .map_err(|e| error(e.span(), "the secret's name is a string literal", help))?;
    if name.value().trim().is_empty() {
        return Err(error(name.span(), "the secret's name is empty", help));
    }
    if !input.is_empty() {
        return Err(error(
            input.span(),
            "`#[webhook]` takes one option, `secret`",
            help,
        ));
    }
    Ok(name.value())
}

/// `#[authenticated]` or `#[authenticated(fresh)]`; true for `fresh`.
fn parse_authenticated(args: TokenStream) -> syn::Result<bool> {
    let mut tokens = args.into_iter();
    let Some(first) = tokens.next() else {
        return Ok(false);
    };
    let fresh = matches!(&first, proc_macro2::TokenTree::Ident(ident) if ident == "fresh");
    if !fresh {
        return Err(error(
            first.span(),
            format!("`{first}` is not an option of `#[authenticated]`"),
            "write `#[authenticated]` for any valid token, or `#[authenticated(fresh)]` for a token from a recent password login",
        ));
    }
    if let Some(extra) = tokens.next() {
        return Err(error(
            extra.span(),
            "`#[authenticated]` takes at most one option, `fresh`",
            "write `#[authenticated(fresh)]`",
        ));
    }
    Ok(true)
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

fn parse_route(input: ParseStream<'_>, kind: Kind, span: Span) -> syn::Result<Route> {
    let example = format!("`#[{}(\"/api/users/{{user_id}}\")]`", kind.name());
    if input.is_empty() {
        return Err(error(
            span,
            format!("`#[{}]` needs the route's path", kind.name()),
            format!("write {example}"),
        ));
    }
    let path: LitStr = input.parse().map_err(|e| {
        error(
            e.span(),
            "expected the route's path as a string literal",
            format!("write {example}"),
        )
    })?;
    if !input.is_empty() {
        return Err(error(
            input.span(),
            format!("`#[{}]` takes only the path", kind.name()),
            format!("write {example}"),
        ));
    }
    let params = path::parameters(&path.value()).map_err(|reason| {
        error(
            path.span(),
            format!("`{}` is not a valid route path: {reason}", path.value()),
            format!("write {example}"),
        )
    })?;
    Ok(Route { kind, path, params })
}

/// `admin`, `"billing-admin"`, `any(a, b)`, `all(a, b)`. A bare list of
/// several roles is accepted only where its meaning is "any" by definition
/// (`or_roles`).
fn parse_role_list(
    input: ParseStream<'_>,
    span: Span,
    attr: &str,
    bare_many_is_any: bool,
) -> syn::Result<RoleList> {
    let example = if attr == "roles" {
        "`#[roles(admin)]`"
    } else {
        "`#[owner(user_id, or_roles(admin))]`"
    };
    if input.is_empty() {
        return Err(error(
            span,
            format!("`{attr}` needs at least one role"),
            format!("write {example}"),
        ));
    }
    let mut mode = RoleMode::Any;
    let bare = !(input.peek(Ident::peek_any) && input.peek2(syn::token::Paren));
    let content;
    let list_input = if input.peek(Ident::peek_any) && input.peek2(syn::token::Paren) {
        let combinator = input.call(Ident::parse_any)?;
        mode = match combinator.to_string().as_str() {
            "any" => RoleMode::Any,
            "all" => RoleMode::All,
            other => {
                return Err(error(
                    combinator.span(),
                    format!("unknown role combinator `{other}`"),
                    format!(
                        "write `{attr}(any(a, b))` for at least one role or `{attr}(all(a, b))` for every role"
                    ),
                ));
            }
        };
        syn::parenthesized!(content in input);
        if !input.is_empty() {
            return Err(error(
                input.span(),
                format!("unexpected tokens after `{combinator}(..)`"),
                format!("write {example}"),
            ));
        }
        if content.is_empty() {
            return Err(error(
                combinator.span(),
                format!("`{combinator}()` needs at least one role"),
                format!("write {example}"),
            ));
        }
        &content
    } else {
        input
    };
    let mut roles: Vec<Role> = Vec::new();
    loop {
        let role = parse_role(list_input)?;
        if roles.iter().any(|r| r.name == role.name) {
            return Err(error(
                role.span,
                format!("the role `{}` is listed twice", role.name),
                "list each role once",
            ));
        }
        roles.push(role);
        if list_input.is_empty() {
            break;
        }
        list_input.parse::<Token![,]>()?;
        if list_input.is_empty() {
            break;
        }
    }
    if bare && roles.len() > 1 && !bare_many_is_any {
        let names = roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(error(
            roles[1].span,
            format!(
                "`#[{attr}({names})]` does not say whether any or all of these roles are needed"
            ),
            format!("write `#[{attr}(any({names}))]` or `#[{attr}(all({names}))]`"),
        ));
    }
    Ok(RoleList { mode, roles })
}

fn parse_role(input: ParseStream<'_>) -> syn::Result<Role> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let name = lit.value();
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(error(
                lit.span(),
                "a role name is not empty and has no spaces",
                "write a name such as `\"billing-admin\"`",
            ));
        }
        return Ok(Role {
            name,
            span: lit.span(),
        });
    }
    let ident = input.call(Ident::parse_any).map_err(|e| {
        error(
            e.span(),
            "expected a role name",
            "write a role such as `admin` or `\"billing-admin\"`",
        )
    })?;
    Ok(Role {
        name: ident.to_string(),
        span: ident.span(),
    })
}

const OWNER_OPTIONS: [&str; 3] = ["or_roles", "reason", "resource"];

/// `id, username, display_name`: the fields a response may carry.
fn parse_expose(input: ParseStream<'_>, span: Span) -> syn::Result<Vec<Ident>> {
    if input.is_empty() {
        return Err(error(
            span,
            "`#[expose]` needs the fields the response may carry",
            "write `#[expose(id, username, display_name)]`",
        ));
    }
    let mut fields: Vec<Ident> = Vec::new();
    loop {
        let field = input.call(Ident::parse_any).map_err(|e| {
            error(
                e.span(),
                "expected a field name",
                "write `#[expose(id, username)]`",
            )
        })?;
        if fields.contains(&field) {
            return Err(error(
                field.span(),
                format!("the field `{field}` is listed twice"),
                "list each field once",
            ));
        }
        fields.push(field);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
    }
    Ok(fields)
}

fn parse_owner(input: ParseStream<'_>, span: Span) -> syn::Result<OwnerSpec> {
    if input.is_empty() {
        return Err(error(
            span,
            "`#[owner]` needs the path parameter that holds the owner's id",
            "write `#[owner(user_id)]`, or `#[owner(none, reason = \"...\")]` when no ownership applies",
        ));
    }
    let first = input.call(Ident::parse_any).map_err(|e| {
        error(
            e.span(),
            "expected the name of a path parameter",
            "write `#[owner(user_id)]`",
        )
    })?;
    let mut or_roles: Option<(Ident, RoleList)> = None;
    let mut reason: Option<(Ident, LitStr)> = None;
    let mut resource: Option<(Ident, syn::Path)> = None;
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let key = input.call(Ident::parse_any)?;
        let name = key.to_string();
        let duplicate = || {
            error(
                key.span(),
                format!("duplicate option `{name}` in `#[owner]`"),
                format!("give `{name}` once"),
            )
        };
        match name.as_str() {
            "or_roles" => {
                if or_roles.is_some() {
                    return Err(duplicate());
                }
                if !input.peek(syn::token::Paren) {
                    return Err(error(
                        key.span(),
                        "`or_roles` lists roles in parentheses",
                        "write `or_roles(admin)`",
                    ));
                }
                let content;
                syn::parenthesized!(content in input);
                let list = parse_role_list(&content, key.span(), "or_roles", true)?;
                or_roles = Some((key, list));
            }
            "resource" => {
                if resource.is_some() {
                    return Err(duplicate());
                }
                input.parse::<Token![=]>()?;
                let path: syn::Path = input.parse().map_err(|e| {
                    error(
                        e.span(),
                        "expected the resource type",
                        "write `resource = Order`, where `Order: Owned`",
                    )
                })?;
                resource = Some((key, path));
            }
            "reason" => {
                if reason.is_some() {
                    return Err(duplicate());
                }
                input.parse::<Token![=]>()?;
                let lit: LitStr = input.parse()?;
                reason = Some((key, lit));
            }
            _ => {
                let hint = did_you_mean(&name, OWNER_OPTIONS)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                return Err(error(
                    key.span(),
                    format!("unknown option `{name}` in `#[owner]`"),
                    format!(
                        "{hint}the options are `or_roles(..)`, `resource = Type` and, with `none`, `reason = \"...\"`"
                    ),
                ));
            }
        }
    }
    if first == "none" {
        if let Some(key) = or_roles.map(|(k, _)| k).or(resource.map(|(k, _)| k)) {
            return Err(error(
                key.span(),
                format!("`{key}` has no meaning with `#[owner(none, ..)]`"),
                format!("remove `{key}`"),
            ));
        }
        let Some((_, reason)) = reason else {
            return Err(error(
                first.span(),
                "`#[owner(none)]` needs a reason a reviewer can read",
                "write `#[owner(none, reason = \"the id names a public catalogue entry\")]`",
            ));
        };
        if reason.value().trim().is_empty() {
            return Err(error(
                reason.span(),
                "the reason is empty",
                "say why this route needs no ownership check",
            ));
        }
        return Ok(OwnerSpec::Waived { reason });
    }
    if let Some((key, _)) = reason {
        return Err(error(
            key.span(),
            "`reason` goes only with `#[owner(none, ..)]`",
            format!(
                "remove `reason`, or write `#[owner(none, reason = \"...\")]` to waive the check on `{first}`"
            ),
        ));
    }
    Ok(OwnerSpec::Param {
        param: first,
        or_roles: or_roles.map(|(_, list)| list),
        resource: resource.map(|(_, path)| path),
    })
}
