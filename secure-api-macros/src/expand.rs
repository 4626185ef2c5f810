//! Code generation: a unit struct named like the handler, implementing
//! `SecureRoute`, with the route's policy as a `static` and the handler kept
//! verbatim inside. Validity is decided before this runs.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{ItemFn, LitStr};

use crate::ast::{self, Declared, Kind, OwnerSpec, RoleList, RoleMode};
use crate::check;
use crate::errors::Errors;

/// Expands any of the route or policy attributes.
pub(crate) fn route(trigger: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Some((declared, handler)) = ast::parse(trigger, args, item.clone(), &mut errors) else {
        return with_errors(item, errors);
    };
    check::all(&declared, &handler, &mut errors);
    if !errors.is_empty() {
        return fallback(&handler, errors);
    }
    let policy = policy(&declared, &handler);
    secured_route(&handler, &policy)
}

fn with_errors(item: TokenStream, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote! { #errors #item }
}

/// On error: the compile errors, and a route type that keeps the handler's
/// body checked and lets the code that mounts it type-check, so the user
/// sees only our messages. The build fails on the `compile_error!`s.
fn fallback(handler: &ItemFn, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    let unchecked = quote! {
        ::secure_api_runtime::__private::RoutePolicy {
            handler: "",
            method: ::secure_api_runtime::__private::Method::Get,
            path: "/",
            access: ::secure_api_runtime::__private::Access::Authenticated,
            roles: ::secure_api_runtime::__private::RoleRule::None,
            owner: ::secure_api_runtime::__private::OwnerRule::None,
        }
    };
    let route = route_type(handler, &unchecked, false);
    quote! { #errors #route }
}

fn policy(declared: &Declared, handler: &ItemFn) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let name = handler.sig.ident.to_string();
    let Some((_, route)) = &declared.route else {
        return TokenStream::new();
    };
    let method = format_ident!("{}", capitalized(route.kind.name()));
    let path = &route.path;
    let access = if declared.public.is_some() {
        quote!(Public)
    } else {
        quote!(Authenticated)
    };
    let roles = match &declared.roles {
        None => quote!(#private::RoleRule::None),
        Some((_, list)) => role_rule(list),
    };
    let owner = match &declared.owner {
        None => quote!(#private::OwnerRule::None),
        Some((_, OwnerSpec::Param { param, or_roles })) => {
            let param = LitStr::new(&param.to_string(), param.span());
            let or_roles = or_roles.as_ref().map(role_names).unwrap_or_default();
            quote!(#private::OwnerRule::Subject { param: #param, or_roles: &[#(#or_roles),*] })
        }
        Some((_, OwnerSpec::Waived { reason })) => {
            quote!(#private::OwnerRule::Waived { reason: #reason })
        }
    };
    quote! {
        #private::RoutePolicy {
            handler: #name,
            method: #private::Method::#method,
            path: #path,
            access: #private::Access::#access,
            roles: #roles,
            owner: #owner,
        }
    }
}

fn role_rule(list: &RoleList) -> TokenStream {
    let names = role_names(list);
    match list.mode {
        RoleMode::Any => quote!(::secure_api_runtime::__private::RoleRule::Any(&[#(#names),*])),
        RoleMode::All => quote!(::secure_api_runtime::__private::RoleRule::All(&[#(#names),*])),
    }
}

fn role_names(list: &RoleList) -> Vec<LitStr> {
    list.roles
        .iter()
        .map(|r| LitStr::new(&r.name, r.span))
        .collect()
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn secured_route(handler: &ItemFn, policy: &TokenStream) -> TokenStream {
    route_type(handler, policy, true)
}

fn route_type(handler: &ItemFn, policy: &TokenStream, mount: bool) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let name = &handler.sig.ident;
    let vis = &handler.vis;
    let docs = handler.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let policy_static = format_ident!("__secure_api_{}_policy", name);
    let mount_arg = format_ident!("__secure_api_mount", span = Span::mixed_site());
    let register = if mount {
        quote!(#mount_arg.route(&#policy_static, #name);)
    } else {
        quote!(let _ = #mount_arg;)
    };
    let allow_unused = if mount {
        TokenStream::new()
    } else {
        quote!(#[allow(dead_code, unused)])
    };
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #name;

        const _: () = {
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            static #policy_static: #private::RoutePolicy = #policy;

            impl #private::Sealed for #name {}

            impl #private::SecureRoute for #name {
                fn policy(&self) -> &'static #private::RoutePolicy {
                    &#policy_static
                }

                fn register(self, #mount_arg: &mut #private::Mount<'_>) {
                    #allow_unused
                    #handler
                    #register
                }
            }
        };
    }
}
