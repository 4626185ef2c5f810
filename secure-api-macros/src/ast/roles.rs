//! `#[roles(admin)]`, `#[roles(any(a, b))]`, `#[roles(all(a, b))]`, and the
//! same role lists inside `#[owner(.., or_roles(..))]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use crate::errors::error;

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
