//! `#[derive(StateMachine)]`: an enum of unit variants and the transitions
//! declared in `#[transitions(A => B, ..)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::ParseStream;
use syn::{Data, DeriveInput, Fields, Ident, Token};

use crate::errors::{Errors, did_you_mean, error};

pub(crate) fn derive(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    let variants = unit_variants(&input, &mut errors);
    let transitions = transitions(&input, &variants, &mut errors);
    if !errors.is_empty() {
        return errors.into_compile_errors();
    }
    let ident = &input.ident;
    let names: Vec<String> = variants
        .iter()
        .map(|v| snake_case(&v.to_string()))
        .collect();
    let written: Vec<String> = variants.iter().map(ToString::to_string).collect();
    let indices = 0..variants.len();
    let indices_again = 0..variants.len();
    let pairs = transitions.iter().map(|(a, b)| quote!((#a, #b)));
    quote! {
        impl ::secure_api_runtime::__private::StateMachine for #ident {
            const VARIANTS: &'static [&'static str] = &[#(#written),*];
            const NAMES: &'static [&'static str] = &[#(#names),*];
            const TRANSITIONS: &'static [(usize, usize)] = &[#(#pairs),*];

            fn index(self) -> usize {
                match self {
                    #(Self::#variants => #indices,)*
                }
            }

            fn from_index(index: usize) -> ::core::option::Option<Self> {
                match index {
                    #(#indices_again => ::core::option::Option::Some(Self::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

/// A state machine is an enum whose variants carry no data.
fn unit_variants(input: &DeriveInput, errors: &mut Errors) -> Vec<Ident> {
    let Data::Enum(data) = &input.data else {
        errors.push(
            input.ident.span(),
            format!(
                "`#[derive(StateMachine)]` goes on an enum of states, and `{}` is not an enum",
                input.ident
            ),
            "declare the states as `enum State { Draft, Validated, .. }`",
        );
        return Vec::new();
    };
    let mut variants = Vec::new();
    for variant in &data.variants {
        // Every variant is a known name, so a transition naming one is not
        // reported again.
        variants.push(variant.ident.clone());
        if !matches!(variant.fields, Fields::Unit) {
            errors.push(
                variant.ident.span(),
                format!("the state `{}` carries data", variant.ident),
                "a state is a plain variant such as `Draft`; keep data on the object",
            );
        }
    }
    variants
}

/// Every transition names two variants, once each: `#[transitions(A => B)]`.
fn transitions(
    input: &DeriveInput,
    variants: &[Ident],
    errors: &mut Errors,
) -> Vec<(usize, usize)> {
    let attrs: Vec<_> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("transitions"))
        .collect();
    let Some(attr) = attrs.first() else {
        errors.push(
            input.ident.span(),
            format!(
                "the state machine `{}` declares no transitions",
                input.ident
            ),
            "add `#[transitions(Draft => Validated, Validated => Executed)]` under the derive",
        );
        return Vec::new();
    };
    if let Some(second) = attrs.get(1) {
        errors.push(
            second
                .path()
                .get_ident()
                .map_or(input.ident.span(), Ident::span),
            "duplicate `#[transitions]` attribute",
            "list every transition in one `#[transitions(..)]`",
        );
    }
    let parser = |stream: ParseStream<'_>| {
        let mut pairs: Vec<(Ident, Ident)> = Vec::new();
        while !stream.is_empty() {
            let from: Ident = stream.parse()?;
            stream.parse::<Token![=>]>()?;
            let to: Ident = stream.parse()?;
            pairs.push((from, to));
            if stream.is_empty() {
                break;
            }
            stream.parse::<Token![,]>()?;
        }
        Ok(pairs)
    };
    let pairs = match attr.parse_args_with(parser) {
        Ok(pairs) => pairs,
        Err(e) => {
            errors.push_syn(error(
                e.span(),
                "expected transitions such as `Draft => Validated`",
                "write `#[transitions(Draft => Validated, Validated => Executed)]`",
            ));
            return Vec::new();
        }
    };
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (from, to) in pairs {
        let index = |state: &Ident, errors: &mut Errors| {
            let position = variants.iter().position(|v| v == state);
            if position.is_none() {
                let hint = did_you_mean(
                    &state.to_string(),
                    variants
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str),
                )
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
                let list = variants
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.push(
                    state.span(),
                    format!("`{state}` is not a state of `{}`", input.ident),
                    format!("{hint}the states are {list}"),
                );
            }
            position
        };
        let (Some(a), Some(b)) = (index(&from, errors), index(&to, errors)) else {
            continue;
        };
        if a == b {
            errors.push(
                to.span(),
                format!("`{from} => {to}` goes nowhere"),
                "remove it: staying in a state is not a transition",
            );
        } else if out.contains(&(a, b)) {
            errors.push(
                to.span(),
                format!("the transition `{from} => {to}` is listed twice"),
                "list each transition once",
            );
        } else {
            out.push((a, b));
        }
    }
    out
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn names_are_snake_case() {
        assert_eq!(snake_case("Draft"), "draft");
        assert_eq!(snake_case("PaymentPending"), "payment_pending");
    }
}
