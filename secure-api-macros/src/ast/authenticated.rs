//! `#[authenticated]`, `#[authenticated(fresh)]` and
//! `#[authenticated(optional)]`.

use proc_macro2::TokenStream;

use crate::errors::{did_you_mean, error};

/// The option of `#[authenticated(..)]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Option {
    /// Any valid token.
    Plain,
    /// `fresh`: a token from a recent password login.
    Fresh,
    /// `optional`: a valid token when one is sent, none otherwise.
    Optional,
}

const HELP: &str = "write `#[authenticated]` for any valid token, `#[authenticated(fresh)]` for a token from a recent password login, or `#[authenticated(optional)]` for a route that serves everyone and reads a token when one is sent";

/// `#[authenticated]`, `#[authenticated(fresh)]` or
/// `#[authenticated(optional)]`.
pub(crate) fn parse(args: TokenStream) -> syn::Result<Option> {
    let mut tokens = args.into_iter();
    let Some(first) = tokens.next() else {
        return Ok(Option::Plain);
    };
    let option = match &first {
        proc_macro2::TokenTree::Ident(ident) if ident == "fresh" => Option::Fresh,
        proc_macro2::TokenTree::Ident(ident) if ident == "optional" => Option::Optional,
        _ => {
            let hint = did_you_mean(&first.to_string(), ["fresh", "optional"])
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(error(
                first.span(),
                format!("`{first}` is not an option of `#[authenticated]`{hint}"),
                HELP,
            ));
        }
    };
    if let Some(extra) = tokens.next() {
        return Err(error(
            extra.span(),
            "`#[authenticated]` takes at most one option, `fresh` or `optional`",
            HELP,
        ));
    }
    Ok(option)
}
