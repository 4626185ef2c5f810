//! `#[derive(Input)]`: marks a request body type after checking that it
//! refuses unknown fields.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Meta};

use crate::errors::Errors;

pub(crate) fn derive(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    check_is_struct(&input, &mut errors);
    check_denies_unknown_fields(&input, &mut errors);
    if !errors.is_empty() {
        return errors.into_compile_errors();
    }
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::secure_api_runtime::__private::Input for #ident #ty_generics #where_clause {
            fn validate_input(&self) -> ::core::result::Result<(), ::secure_api_runtime::__private::Problem> {
                ::secure_api_runtime::__private::validate_with_garde(self)
            }
        }
    }
}

/// A request body is a struct with named fields.
fn check_is_struct(input: &DeriveInput, errors: &mut Errors) {
    let named = matches!(&input.data, Data::Struct(s) if matches!(s.fields, syn::Fields::Named(_)));
    if !named {
        errors.push(
            input.ident.span(),
            format!(
                "`#[derive(Input)]` goes on a struct with named fields, and `{}` is not one",
                input.ident
            ),
            "declare the body as `struct Name { field: Type, .. }`",
        );
    }
}

/// Unknown fields are refused: the struct carries
/// `#[serde(deny_unknown_fields)]`, so `{"is_admin": true}` is a 422, not
/// silently dropped.
fn check_denies_unknown_fields(input: &DeriveInput, errors: &mut Errors) {
    let denies = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .any(|attr| match &attr.meta {
            Meta::List(list) => list
                .tokens
                .clone()
                .into_iter()
                .any(|t| t.to_string() == "deny_unknown_fields"),
            _ => false,
        });
    if !denies {
        errors.push(
            input.ident.span(),
            format!("the request body `{}` would silently accept fields it does not declare", input.ident),
            "add `#[serde(deny_unknown_fields)]` to the struct, so a client sending `role` or `is_admin` gets 422",
        );
    }
}
