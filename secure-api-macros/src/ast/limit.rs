//! `#[limit("30/minute; 5/second", key = user, body = "64KiB", concurrency = 4)]`,
//! its keyed options read with darling; the quota and size strings are read
//! by [`crate::limit`].

use proc_macro2::{Span, TokenStream};
use syn::{Ident, LitStr};

use crate::errors::{did_you_mean, error};

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

pub(crate) fn parse(args: TokenStream, span: Span) -> syn::Result<LimitSpec> {
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
