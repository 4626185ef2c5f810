//! `#[webhook(secret = "NAME")]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use crate::errors::{did_you_mean, error};

/// `#[webhook(secret = "NAME")]`: the name its keys are registered under.
pub(crate) fn parse(input: ParseStream<'_>, span: Span) -> syn::Result<String> {
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
        let hint = did_you_mean(&option.to_string(), ["secret"])
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(error(
            option.span(),
            format!("unknown option `{option}` in `#[webhook]`{hint}"),
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
