//! Code generation: a function named like the handler that returns a unit
//! struct implementing `SecureRoute`, with the route's policy as a `static`,
//! the handler kept verbatim inside, and a wrapper that validates JSON bodies and writes the
//! response (projected by `#[expose]`, or checked safe to send whole).
//! Validity is decided before this runs.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{FnArg, Ident, ItemFn, LitStr, ReturnType, Type};

use crate::ast::{self, Declared, Kind, LimitKey, OwnerSpec, RoleList, RoleMode, outer_type};
use crate::check;
use crate::errors::Errors;

/// Expands any of the route or policy attributes.
pub(crate) fn route(trigger: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Some((declared, handler)) = ast::parse(trigger, args, item.clone(), &mut errors) else {
        let errors = errors.into_compile_errors();
        return quote! { #errors #item };
    };
    check::all(&declared, &handler, &mut errors);
    if !declared.has_route() {
        // Most often another crate's route attribute (`actix_web::get`,
        // imported over the prelude's) has already taken the handler: it is
        // left to that macro as written, so the build reports this error
        // alone.
        let errors = errors.into_compile_errors();
        return quote! { #errors #handler };
    }
    if !errors.is_empty() {
        return fallback(&handler, errors);
    }
    let policy = policy(&declared, &handler);
    let wrapper = wrapper(&declared, &handler);
    let state_checks = state_checks(&declared);
    let route = route_type(&handler, &policy, Some(&wrapper));
    quote! { #state_checks #route }
}

/// On error: the compile errors, and a route type that keeps the handler's
/// body checked and lets the code that mounts it type-check, so the user
/// sees only our messages. The build fails on the `compile_error!`s.
fn fallback(handler: &ItemFn, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    let unchecked = quote! {
        ::secure_api_runtime::__private::RoutePolicy::new(
            "",
            ::secure_api_runtime::__private::Method::Get,
            "/",
            "",
        )
    };
    let route = route_type(handler, &unchecked, None);
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
    let access = access(declared);
    let [roles, scopes] = [&declared.roles, &declared.scopes].map(|list| match list {
        None => quote!(#private::RoleRule::None),
        Some((_, list)) => role_rule(list),
    });
    let mut check_owned = quote!(::core::option::Option::None);
    let mut check_state = quote!(::core::option::Option::None);
    let owner = match &declared.owner {
        None => quote!(#private::OwnerRule::None),
        Some((
            _,
            OwnerSpec::Param {
                param,
                or_roles,
                resource,
                ..
            },
        )) => {
            let param = LitStr::new(&param.to_string(), param.span());
            let or_roles = or_roles.as_ref().map(role_names).unwrap_or_default();
            match resource {
                None => {
                    quote!(#private::OwnerRule::Subject { param: #param, or_roles: &[#(#or_roles),*] })
                }
                Some(resource) => {
                    let written = LitStr::new(
                        &quote!(#resource).to_string().replace(' ', ""),
                        resource.span(),
                    );
                    check_owned = quote_spanned! {resource.span()=>
                        ::core::option::Option::Some(#private::check_owned::<#resource>)
                    };
                    if declared.state.is_some() {
                        check_state = quote_spanned! {resource.span()=>
                            ::core::option::Option::Some(#private::check_state::<#resource>)
                        };
                    }
                    quote!(#private::OwnerRule::Resource { param: #param, resource: #written, or_roles: &[#(#or_roles),*] })
                }
            }
        }
        Some((_, OwnerSpec::Waived { reason })) => {
            quote!(#private::OwnerRule::Waived { reason: #reason })
        }
    };
    let limit = limit_rule(declared);
    let idempotent = declared.idempotent.is_some();
    let state = match &declared.state {
        None => quote!(::core::option::Option::None),
        Some((_, state)) => {
            let param = LitStr::new(&state.param.to_string(), state.param.span());
            let resource = &state.resource;
            let written = LitStr::new(
                &quote!(#resource).to_string().replace(' ', ""),
                resource.span(),
            );
            let from = LitStr::new(&state.from.to_string(), state.from.span());
            let to = LitStr::new(&state.to.to_string(), state.to.span());
            quote!(::core::option::Option::Some(#private::StateRule { param: #param, resource: #written, from: #from, to: #to }))
        }
    };
    let registration = registration(declared);
    let doc = route_doc(declared, handler);
    let answer = match &declared.expose {
        None => quote!(#private::Answer::Unspecified),
        Some((_, fields)) => {
            let names = fields
                .iter()
                .map(|field| LitStr::new(field.to_string().trim_start_matches("r#"), field.span()));
            let shape = match answer_shape(handler) {
                Some(name) if name == "Vec" => quote!(List),
                Some(name) if name == "Page" => quote!(Page),
                _ => quote!(One),
            };
            quote!(#private::Answer::#shape(&[#(#names),*]))
        }
    };
    quote! {
        #private::RoutePolicy {
            handler: #name,
            method: #private::Method::#method,
            path: #path,
            access: #private::Access::#access,
            roles: #roles,
            scopes: #scopes,
            owner: #owner,
            check_owned: #check_owned,
            check_state: #check_state,
            limit: #limit,
            state: #state,
            idempotent: #idempotent,
            registration: #registration,
            answer: #answer,
            doc: #doc,
        }
    }
}

/// The route's `Access` variant.
fn access(declared: &Declared) -> TokenStream {
    if let Some((_, secret)) = &declared.webhook {
        quote!(Webhook { secret: #secret })
    } else if declared.public.is_some() {
        quote!(Public)
    } else if declared.fresh {
        quote!(FreshLogin)
    } else if declared.optional {
        quote!(OptionalToken)
    } else {
        quote!(Authenticated)
    }
}

/// The inventory entry, with a deprecated route's header values computed.
fn registration(declared: &Declared) -> TokenStream {
    use crate::ast::Lifecycle;
    let private = quote!(::secure_api_runtime::__private);
    let Some((_, registration)) = &declared.registered else {
        return quote!(#private::Registration { owner: "", lifecycle: #private::Lifecycle::Production });
    };
    let owner = &registration.owner;
    let lifecycle = match &registration.lifecycle {
        Lifecycle::Production => quote!(#private::Lifecycle::Production),
        Lifecycle::Retired => quote!(#private::Lifecycle::Retired),
        Lifecycle::Deprecated {
            since,
            sunset,
            successor,
        } => {
            let deprecation = format!("@{}", since.as_ref().map_or(0, |(_, d)| d.timestamp()));
            let since = match since {
                Some((lit, _)) => quote!(::core::option::Option::Some(#lit)),
                None => quote!(::core::option::Option::None),
            };
            let (sunset_lit, sunset_date) = sunset;
            let sunset_header = sunset_date.http_date();
            let successor = match successor {
                Some(lit) => quote!(::core::option::Option::Some(#lit)),
                None => quote!(::core::option::Option::None),
            };
            quote!(#private::Lifecycle::Deprecated {
                since: #since,
                sunset: #sunset_lit,
                successor: #successor,
                deprecation_header: #deprecation,
                sunset_header: #sunset_header,
            })
        }
    };
    quote!(#private::Registration { owner: #owner, lifecycle: #lifecycle })
}

fn limit_rule(declared: &Declared) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let Some((_, limit)) = &declared.limit else {
        return quote!(#private::LimitRule::NONE);
    };
    let quotas = limit.quotas.iter().map(|q| {
        let (count, period) = (q.count, q.period_secs);
        quote!(#private::Quota { count: #count, period_secs: #period })
    });
    // Unless told, the runtime's rule for the route's access decides.
    let key = match limit.key.as_ref().map(|(_, k)| *k) {
        Some(LimitKey::Ip) => quote!(#private::LimitKey::Ip),
        Some(LimitKey::IpAndUser) => quote!(#private::LimitKey::IpAndUser),
        Some(LimitKey::User) => quote!(#private::LimitKey::User),
        None => {
            let access = access(declared);
            quote!(#private::Access::#access.quota_key())
        }
    };
    let body = match limit.body {
        Some(bytes) => quote!(::core::option::Option::Some(#bytes)),
        None => quote!(::core::option::Option::None),
    };
    let concurrency = match limit.concurrency {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #private::LimitRule {
            quotas: &[#(#quotas),*],
            key: #key,
            body: #body,
            concurrency: #concurrency,
        }
    }
}

/// Compile-time checks of `#[state_requires]`: both states exist on the
/// resource's state machine, and the transition is declared. Evaluated as
/// constants, each failing at the name the user wrote.
fn state_checks(declared: &Declared) -> TokenStream {
    let Some((_, state)) = &declared.state else {
        return TokenStream::new();
    };
    let private = quote!(::secure_api_runtime::__private);
    let resource = &state.resource;
    let written = quote!(#resource).to_string().replace(' ', "");
    let machine = quote_spanned! {resource.span()=>
        <<#resource as #private::Stateful>::State as #private::StateMachine>
    };
    let index = |name: &Ident| {
        let text = LitStr::new(&name.to_string(), name.span());
        let message = LitStr::new(
            &format!(
                "`{name}` is not a state of `{written}`'s state machine; help: use one of the variants of its `#[derive(StateMachine)]` enum"
            ),
            name.span(),
        );
        quote_spanned! {name.span()=>
            match #private::state_index(#machine::VARIANTS, #text) {
                ::core::option::Option::Some(index) => index,
                ::core::option::Option::None => ::core::panic!(#message),
            }
        }
    };
    let (from, to) = (index(&state.from), index(&state.to));
    let undeclared = LitStr::new(
        &format!(
            "`{} => {}` is not a declared transition of `{written}`'s state machine; help: add it to its `#[transitions(..)]`, or require another state",
            state.from, state.to
        ),
        state.to.span(),
    );
    let to_span = state.to.span();
    quote_spanned! {to_span=>
        const _: () = {
            const FROM: usize = #from;
            const TO: usize = #to;
            if !#private::transition_declared(#machine::TRANSITIONS, FROM, TO) {
                ::core::panic!(#undeclared);
            }
        };
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

/// The answer types that are `Exposable` themselves; any other type is
/// projected as one object.
const SHAPES: [&str; 5] = ["Vec", "Option", "Page", "Created", "Accepted"];

/// The trait every argument must implement: `RawArgument` where a signed
/// webhook body, or one the route caps, may be read raw, else `Argument`.
fn argument_trait(declared: &Declared) -> TokenStream {
    let raw = declared.webhook.is_some()
        || declared
            .limit
            .as_ref()
            .is_some_and(|(_, limit)| limit.body.is_some());
    if raw {
        quote!(RawArgument)
    } else {
        quote!(Argument)
    }
}

/// What the OpenAPI document shows of the handler's signature: what each
/// argument reads, and the answer's status and schema. The argument bound
/// is written as the wrapper writes it, at the same span, so a type that
/// is not an argument is one error, not two.
fn route_doc(declared: &Declared, handler: &ItemFn) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let check = argument_trait(declared);
    let probes = quote! {
        #[allow(unused_imports)]
        use #private::{ViaAny as _, ViaInput as _, ViaUtoipa as _};
    };
    let arguments = handler.sig.inputs.iter().filter_map(|input| {
        let FnArg::Typed(typed) = input else {
            return None;
        };
        let ty = &typed.ty;
        // A path's parameters have the schemas of their types: one for
        // `Path<i64>`, one per element for `Path<(i64, String)>`.
        if let Some((name, Some(inner))) = outer_type(ty)
            && name == "Path"
        {
            let elements: Vec<&Type> = match inner {
                Type::Tuple(tuple) => tuple.elems.iter().collect(),
                other => vec![other],
            };
            return Some(quote! {
                || {
                    #probes
                    #[allow(clippy::needless_borrow)]
                    #private::ArgumentDoc::Path(::std::vec![
                        #((&&&#private::Probe::<#elements>::new()).schema()),*
                    ])
                }
            });
        }
        Some(quote_spanned!(ty.span()=> <#ty as #private::#check>::describe))
    });
    let (_, value_ty) = answered_type(handler);
    let outer = value_ty.and_then(outer_type);
    let outer_name = outer.as_ref().map(|(name, _)| name.as_str());
    let mut item_name = None;
    let (status, answer) = match (&declared.expose, value_ty) {
        (Some((_, fields)), Some(value_ty)) => {
            let direct = outer_name.is_some_and(|name| SHAPES.contains(&name));
            let item_ty = if direct {
                quote!(<#value_ty as #private::Exposable>::Item)
            } else {
                quote!(#value_ty)
            };
            let written = if direct {
                outer.as_ref().and_then(|(_, inner)| *inner)
            } else {
                Some(value_ty)
            };
            item_name = written
                .and_then(outer_type)
                .map(|(name, _)| name)
                .map(|name| quote!(::core::option::Option::Some(#name)));
            let item = Ident::new("__secure_api_item", Span::mixed_site());
            let schemas = fields.iter().map(|field| {
                let access = quote_spanned!(field.span()=> &#item.#field);
                quote! {{
                    #probes
                    // The borrows choose the impl (autoref specialization).
                    #[allow(clippy::needless_borrow)]
                    let schema = (&&&#private::Probe::of(|#item: &#item_ty| #access)).schema();
                    schema
                }}
            });
            let status: u16 = match outer_name {
                Some("Created") => 201,
                Some("Accepted") => 202,
                _ => 200,
            };
            (
                quote!(::core::option::Option::Some(#status)),
                quote!(|| #private::AnswerDoc::Fields(::std::vec![#(#schemas),*])),
            )
        }
        _ => match &outer {
            Some((name, Some(inner))) if name == "Json" => (
                quote!(::core::option::Option::Some(200u16)),
                quote!(|| {
                    #probes
                    #[allow(clippy::needless_borrow)]
                    let schema = (&&&#private::Probe::<#inner>::new()).schema();
                    #private::AnswerDoc::Whole(::std::boxed::Box::new(schema))
                }),
            ),
            Some((name, None)) if name == "NoContent" => (
                quote!(::core::option::Option::Some(204u16)),
                quote!(|| #private::AnswerDoc::Empty),
            ),
            _ => (
                quote!(::core::option::Option::None),
                quote!(|| #private::AnswerDoc::Unknown),
            ),
        },
    };
    let option = outer_name == Some("Option");
    let item = item_name.unwrap_or_else(|| quote!(::core::option::Option::None));
    quote! {
        #private::RouteDoc {
            arguments: &[#(#arguments),*],
            status: #status,
            option: #option,
            item: #item,
            answer: #answer,
        }
    }
}

/// The handler actix calls: it requires every argument to be an
/// `Argument` (by type, so no alias hides a body), checks each (validating
/// bodies), calls the user's handler, and turns its value into the
/// response.
fn wrapper(declared: &Declared, handler: &ItemFn) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let name = &handler.sig.ident;
    let wrapper = format_ident!("__secure_api_{}_handler", name);
    let check = argument_trait(declared);
    let mut params = Vec::new();
    let mut args = Vec::new();
    let mut checks = Vec::new();
    for (i, input) in handler.sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else { continue };
        let arg = Ident::new(&format!("__secure_api_arg{i}"), Span::mixed_site());
        let ty = &typed.ty;
        // The bound is on the type as the user wrote it, so "not an
        // argument" and "not a declared request body" point at it.
        let span = ty.span();
        let written = quote!(#ty).to_string().replace(' ', "");
        if declared.public.is_some() {
            let message = format!(
                "`{written}` reads the caller's identity, and a `#[public]` route reads no token\n\nhelp: declare `#[authenticated]`, or `#[authenticated(optional)]` for a route that serves everyone and shows more to a caller with a token"
            );
            checks.push(quote_spanned! {span=>
                const _: () = ::core::assert!(!<#ty as #private::#check>::READS_TOKEN, #message);
            });
        }
        if declared.optional {
            let message = format!(
                "`{written}` needs a caller with a token, and `#[authenticated(optional)]` lets callers without one through\n\nhelp: take `Option<{written}>`: `Some` with a valid token, `None` without one"
            );
            checks.push(quote_spanned! {span=>
                const _: () = ::core::assert!(!<#ty as #private::#check>::NEEDS_TOKEN, #message);
            });
        }
        if declared.state.is_none() {
            let message = format!(
                "`{written}` is the transition `#[state_requires]` checks, and this route declares none\n\nhelp: declare `#[state_requires(order_id, Order: Draft => Validated)]` beside `#[owner(order_id, resource = Order)]`, or remove the argument"
            );
            checks.push(quote_spanned! {span=>
                const _: () = ::core::assert!(!<#ty as #private::#check>::NEEDS_STATE, #message);
            });
        }
        checks.push(quote_spanned! {span=>
            if let ::core::result::Result::Err(problem) = <#ty as #private::#check>::check(&#arg) {
                #private::refused_input();
                return ::core::result::Result::Err(problem);
            }
        });
        params.push(quote!(#arg: #ty));
        args.push(arg);
    }
    let out = Ident::new("__secure_api_out", Span::mixed_site());
    // The request, which an answer that is not projected is given.
    let request = Ident::new("__secure_api_request", Span::mixed_site());
    let respond = match &declared.expose {
        Some((_, fields)) => expose(handler, fields, &out),
        None => {
            let span = match &handler.sig.output {
                ReturnType::Default => handler.sig.ident.span(),
                ReturnType::Type(_, ty) => ty.span(),
            };
            let out_here = Ident::new(&out.to_string(), Span::mixed_site().located_at(span));
            let request_here =
                Ident::new(&request.to_string(), Span::mixed_site().located_at(span));
            quote_spanned!(span=> #private::safe_response(#out_here, &#request_here))
        }
    };
    quote! {
        async fn #wrapper(#request: #private::HttpRequest, #(#params),*) -> impl #private::Responder {
            #(#checks)*
            let #out = #name(#(#args),*).await;
            ::core::result::Result::Ok::<_, #private::Problem>(#respond)
        }
    }
}

/// Writes exactly `fields` of the returned value. The field accesses carry
/// the spans of the names in `#[expose(..)]`, so a name that is not a field
/// is a compile error at that name.
fn expose(handler: &ItemFn, fields: &[Ident], out: &Ident) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let item = Ident::new("__secure_api_item", Span::mixed_site());
    let writer = Ident::new("__secure_api_writer", Span::mixed_site());
    let writes = fields.iter().map(|field| {
        let key = LitStr::new(field.to_string().trim_start_matches("r#"), field.span());
        let access = quote_spanned!(field.span()=> &#item.#field);
        quote!(#writer.field(#key, #access)?;)
    });
    let project = quote! {
        |#item: &_, #writer: &mut #private::FieldWriter<'_>| -> ::core::result::Result<(), _> {
            #(#writes)*
            ::core::result::Result::Ok(())
        }
    };
    let (is_result, value_ty) = answered_type(handler);
    let shaped = |value: TokenStream| {
        let direct = value_ty
            .and_then(outer_type)
            .is_some_and(|(name, _)| SHAPES.contains(&name.as_str()));
        if direct {
            quote!(#private::Exposable::respond(#value, #project))
        } else {
            quote!(#private::Exposable::respond(#private::One(#value), #project))
        }
    };
    if is_result {
        let value = Ident::new("__secure_api_value", Span::mixed_site());
        let respond = shaped(quote!(#value));
        quote! {
            match #out {
                ::core::result::Result::Ok(#value) => ::core::result::Result::Ok(#respond),
                ::core::result::Result::Err(error) => ::core::result::Result::Err(error),
            }
        }
    } else {
        shaped(quote!(#out))
    }
}

/// Whether the handler returns a `Result`, and the type of its successful
/// value.
fn answered_type(handler: &ItemFn) -> (bool, Option<&Type>) {
    let ty = match &handler.sig.output {
        ReturnType::Type(_, ty) => Some(ty.as_ref()),
        ReturnType::Default => None,
    };
    match ty.and_then(|t| outer_type(t).map(|(n, inner)| (n, inner, t))) {
        Some((name, Some(inner), _)) if name == "Result" => (true, Some(inner)),
        Some((_, _, t)) => (false, Some(t)),
        None => (false, ty),
    }
}

/// The outer type name of the successful value (`Vec`, `Page`, ...).
fn answer_shape(handler: &ItemFn) -> Option<String> {
    answered_type(handler)
        .1
        .and_then(outer_type)
        .map(|(name, _)| name)
}

fn route_type(
    handler: &ItemFn,
    policy: &TokenStream,
    wrapper: Option<&TokenStream>,
) -> TokenStream {
    let private = quote!(::secure_api_runtime::__private);
    let name = &handler.sig.ident;
    let vis = &handler.vis;
    let docs = handler.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let policy_static = format_ident!("__secure_api_{}_policy", name);
    let mount_arg = format_ident!("__secure_api_mount", span = Span::mixed_site());
    let wrapper_name = format_ident!("__secure_api_{}_handler", name);
    let (allow_unused, register) = match wrapper {
        Some(wrapper) => (
            TokenStream::new(),
            quote!(#wrapper #mount_arg.route(&#policy_static, #wrapper_name);),
        ),
        None => (
            quote!(#[allow(dead_code, unused)]),
            quote!(let _ = #mount_arg;),
        ),
    };
    // The handler's name is a function, not a unit struct as actix-web's
    // macros make it: a pattern never resolves to a function, so a
    // parameter `me: Principal` elsewhere in the module stays a binding
    // when a handler is called `me`.
    let route = format_ident!("__secure_api_{}_route", name);
    quote! {
        #(#docs)*
        #[allow(missing_docs)]
        #[must_use]
        #vis fn #name() -> #route {
            #route
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #route;

        const _: () = {
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            static #policy_static: #private::RoutePolicy = #policy;

            impl #private::Sealed for #route {}
            impl #private::Generated for #route {}

            impl #private::SecureRoute for #route {
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
