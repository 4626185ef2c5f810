//! `#[roles(admin)]`, `#[roles(any(a, b))]`, `#[roles(all(a, b))]`, the
//! same role lists inside `#[owner(.., or_roles(..))]`, and scope lists of
//! the same form: `#[scopes("reports:read")]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::{Ident, LitStr, Token};

use crate::errors::{did_you_mean, error};

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

/// `admin`, `"billing-admin"`, `any(a, b)`, `all(a, b)`. A bare list of
/// several roles is accepted only where its meaning is "any" by definition
/// (`or_roles`).
pub(crate) fn parse_list(
    input: ParseStream<'_>,
    span: Span,
    attr: &str,
    bare_many_is_any: bool,
) -> syn::Result<RoleList> {
    let (example, noun) = match attr {
        "roles" => ("`#[roles(admin)]`", "role"),
        "scopes" => ("`#[scopes(\"reports:read\")]`", "scope"),
        _ => ("`#[owner(user_id, or_roles(admin))]`", "role"),
    };
    if input.is_empty() {
        return Err(error(
            span,
            format!("`{attr}` needs at least one {noun}"),
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
                let hint = did_you_mean(other, ["any", "all"])
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(error(
                    combinator.span(),
                    format!("unknown {noun} combinator `{other}`{hint}"),
                    format!(
                        "write `{attr}(any(a, b))` for at least one {noun} or `{attr}(all(a, b))` for every {noun}"
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
                format!("`{combinator}()` needs at least one {noun}"),
                format!("write {example}"),
            ));
        }
        &content
    } else {
        input
    };
    let mut roles: Vec<Role> = Vec::new();
    loop {
        let role = if noun == "scope" {
            parse_scope(list_input)?
        } else {
            parse_role(list_input)?
        };
        if roles.iter().any(|r| r.name == role.name) {
            return Err(error(
                role.span,
                format!("the {noun} `{}` is listed twice", role.name),
                format!("list each {noun} once"),
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
        // Scopes are written as strings (most hold a `:`); roles as names.
        let names = roles
            .iter()
            .map(|r| {
                if noun == "scope" {
                    format!("{:?}", r.name)
                } else {
                    r.name.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(error(
            roles[1].span,
            format!(
                "`#[{attr}({names})]` does not say whether any or all of these {noun}s are needed"
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
        // A role that is a Rust name is written bare; a string is only for
        // one that is not (`"billing-admin"`).
        if Ident::parse_any.parse_str(&name).is_ok() {
            return Err(error(
                lit.span(),
                format!("the role `{name}` is written as a string"),
                format!(
                    "write it as a name, `{name}`, without quotes: quotes are only for a role that is not a Rust name, such as `\"billing-admin\"`"
                ),
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

/// An OAuth2 scope: a string such as `"reports:read"` or a plain name, made
/// of the characters RFC 6749 (section 3.3) allows: visible ASCII but `"`
/// and `\`, no spaces.
fn parse_scope(input: ParseStream<'_>) -> syn::Result<Role> {
    let help = "write one scope per entry, such as `\"reports:read\"`; list several with `any(..)` or `all(..)`";
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let name = lit.value();
        if let Some(bad) = name
            .chars()
            .find(|c| !c.is_ascii_graphic() || *c == '"' || *c == '\\')
        {
            let what = if bad.is_whitespace() {
                "a space".to_owned()
            } else {
                format!("`{}`", bad.escape_default())
            };
            return Err(error(
                lit.span(),
                format!(
                    "the scope `{}` has {what}, which an OAuth2 scope cannot hold",
                    name.escape_default()
                ),
                help,
            ));
        }
        if name.is_empty() {
            return Err(error(lit.span(), "a scope is not empty", help));
        }
        return Ok(Role {
            name,
            span: lit.span(),
        });
    }
    let ident = input
        .call(Ident::parse_any)
        .map_err(|e| error(e.span(), "expected a scope", help))?;
    Ok(Role {
        name: ident.to_string(),
        span: ident.span(),
    })
}
