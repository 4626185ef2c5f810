//! `#[authenticated]` and `#[authenticated(fresh)]`.

use proc_macro2::TokenStream;

use crate::errors::error;

/// `#[authenticated]` or `#[authenticated(fresh)]`; true for `fresh`.
pub(crate) fn parse(args: TokenStream) -> syn::Result<bool> {
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
