//! `#[state_requires(order_id, Order: Validated => Executed)]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Ident, Token};

use crate::errors::error;

/// `#[state_requires(order_id, Order: Validated => Executed)]`
pub(crate) struct StateSpec {
    pub param: Ident,
    pub resource: syn::Path,
    pub from: Ident,
    pub to: Ident,
}

pub(crate) fn parse(input: ParseStream<'_>, span: Span) -> syn::Result<StateSpec> {
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
