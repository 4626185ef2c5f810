//! `#[owner(user_id)]`, `#[owner(user_id, or_roles(..))]`,
//! `#[owner(order_id, resource = Order)]` and `#[owner(none, reason = "...")]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use super::roles::{self, RoleList};
use crate::errors::{Gathered, did_you_mean, error};
use crate::path::is_user_id;

pub(crate) enum OwnerSpec {
    /// `#[owner(param)]`, `#[owner(param, or_roles(..))]`,
    /// `#[owner(param, resource = Type)]`
    Param {
        param: Ident,
        or_roles: Option<RoleList>,
        resource: Option<syn::Path>,
        /// `reason = ".."` on the plain form: why a parameter that does not
        /// name a user holds the caller's own id.
        vouched: Option<LitStr>,
    },
    /// `#[owner(none, reason = "...")]`
    Waived { reason: LitStr },
}

const OWNER_OPTIONS: [&str; 3] = ["or_roles", "reason", "resource"];

pub(crate) fn parse(input: ParseStream<'_>, span: Span) -> syn::Result<OwnerSpec> {
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
    let mut gathered = Gathered::default();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        gathered.option(input, || {
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
                    let list = roles::parse_list(&content, key.span(), "or_roles", true)?;
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
                            "{hint}the options are `or_roles(..)`, `resource = Type` and `reason = \"...\"`"
                        ),
                    ));
                }
            }
            Ok(())
        });
    }
    gathered.finish()?;
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
    let vouched = match reason {
        // The plain form on a parameter that does not name a user: the
        // reason says why it holds the caller's own id.
        Some((_, lit)) if resource.is_none() && !is_user_id(&first.to_string()) => {
            if lit.value().trim().is_empty() {
                return Err(error(
                    lit.span(),
                    "the reason is empty",
                    format!("say why `{first}` holds the caller's own id"),
                ));
            }
            Some(lit)
        }
        Some((key, _)) => {
            return Err(error(
                key.span(),
                "`reason` goes only with `#[owner(none, ..)]`, or with a parameter that holds the caller's id under another name",
                format!(
                    "remove `reason`, or write `#[owner(none, reason = \"...\")]` to waive the check on `{first}`"
                ),
            ));
        }
        None => None,
    };
    Ok(OwnerSpec::Param {
        param: first,
        or_roles: or_roles.map(|(_, list)| list),
        resource: resource.map(|(_, path)| path),
        vouched,
    })
}
