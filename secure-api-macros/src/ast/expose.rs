//! `#[expose(id, username, display_name)]`: the fields a response carries.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Ident, Token};

use crate::errors::error;

/// `id, username, display_name`: the fields a response may carry.
pub(crate) fn parse(input: ParseStream<'_>, span: Span) -> syn::Result<Vec<Ident>> {
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
