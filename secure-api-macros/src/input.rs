//! `#[derive(Input)]`: marks a request body type after checking that it
//! refuses unknown fields, and describes it as a JSON Schema: its fields as
//! serde reads them, with the garde rules that have a schema form.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, Expr, ExprLit, Lit, Meta, Token};

use crate::ast::outer_type;
use crate::errors::Errors;

pub(crate) fn derive(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    check_is_struct(&input, &mut errors);
    check_denies_unknown_fields(&input, &mut errors);
    check_no_container_options(&input, &mut errors);
    let fields = schema_fields(&input, &mut errors);
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

            fn input_schema() -> ::secure_api_runtime::__private::Schema {
                ::secure_api_runtime::__private::input_object(&[#(#fields),*])
            }
        }
    }
}

/// The `Field` of each field serde reads, named as serde names it.
fn schema_fields(input: &DeriveInput, errors: &mut Errors) -> Vec<TokenStream> {
    let private = quote!(::secure_api_runtime::__private);
    let Data::Struct(data) = &input.data else {
        return Vec::new();
    };
    let container = serde_options(&input.attrs);
    let mut out = Vec::new();
    for field in &data.fields {
        let Some(ident) = &field.ident else { continue };
        let options = serde_options(&field.attrs);
        if options.skip {
            continue;
        }
        let name = options.rename.clone().unwrap_or_else(|| {
            let name = ident.to_string();
            let name = name.trim_start_matches("r#");
            container
                .rename_all
                .as_deref()
                .map_or_else(|| name.to_owned(), |rule| rename(name, rule))
        });
        let (optional, ty) = match option_inner(&field.ty) {
            Some(inner) => (true, inner),
            None => (false, &field.ty),
        };
        let required = !(optional || options.default || container.default);
        let rules = garde_rules(&field.attrs);
        let example = match example(&field.attrs, errors) {
            Some(value) => {
                quote!(::core::option::Option::Some(|| #private::example_value(&#value)))
            }
            None => quote!(::core::option::Option::None),
        };
        let span = field.ty.span();
        out.push(quote_spanned! {span=>
            #private::Field {
                name: #name,
                required: #required,
                schema: || {
                    #[allow(unused_imports)]
                    use #private::{ViaAny as _, ViaInput as _, ViaUtoipa as _};
                    // The borrows choose the impl (autoref specialization).
                    #[allow(clippy::needless_borrow)]
                    let schema = (&&&#private::Probe::<#ty>::new()).schema();
                    schema
                },
                rules: &[#(#rules),*],
                example: #example,
            }
        });
    }
    out
}

/// How `#[input(..)]` is written.
const INPUT_HELP: &str = "write `#[input(example = \"..\")]` on a field: a value it accepts, which the API document shows";

/// The value of a field's `#[input(example = ..)]`, if it has one: any
/// expression of a type that serializes.
fn example(attrs: &[syn::Attribute], errors: &mut Errors) -> Option<Expr> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("input")) {
        if let Meta::Path(path) = &attr.meta {
            errors.push(path.span(), "`#[input]` needs an option", INPUT_HELP);
            continue;
        }
        let metas = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(metas) if !metas.is_empty() => metas,
            Ok(_) => {
                errors.push(attr.path().span(), "`#[input]` needs an option", INPUT_HELP);
                continue;
            }
            Err(e) => {
                errors.push(
                    e.span(),
                    format!("`#[input(..)]` does not parse: {e}"),
                    INPUT_HELP,
                );
                continue;
            }
        };
        for meta in metas {
            let path = meta.path();
            let name = path
                .get_ident()
                .map_or_else(|| quote!(#path).to_string(), ToString::to_string);
            match meta {
                Meta::NameValue(nv) if nv.path.is_ident("example") => {
                    if found.is_some() {
                        errors.push(
                            nv.path.span(),
                            "`example` is given twice in `#[input]`",
                            "keep one `example = ..`",
                        );
                    } else {
                        found = Some(nv.value);
                    }
                }
                _ if path.is_ident("example") => {
                    errors.push(path.span(), "`example` needs a value", INPUT_HELP);
                }
                _ => {
                    let hint = crate::errors::did_you_mean(&name, ["example"])
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    errors.push(
                        path.span(),
                        format!("unknown option `{name}` in `#[input]`{hint}"),
                        INPUT_HELP,
                    );
                }
            }
        }
    }
    found
}

/// `#[input(..)]` describes a field; on the struct it would say nothing.
fn check_no_container_options(input: &DeriveInput, errors: &mut Errors) {
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("input")) {
        errors.push(
            attr.path().span(),
            "`#[input(..)]` goes on a field of the body, not on the body itself",
            "move it to the field it describes: `#[input(example = \"..\")]`",
        );
    }
}

/// The serde options that change which names are read.
#[derive(Default)]
struct SerdeOptions {
    rename: Option<String>,
    rename_all: Option<String>,
    skip: bool,
    default: bool,
}

fn serde_options(attrs: &[syn::Attribute]) -> SerdeOptions {
    let mut options = SerdeOptions::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let Ok(metas) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for meta in metas {
            let path = meta.path();
            let value = match &meta {
                Meta::NameValue(nv) => string(&nv.value),
                Meta::List(list) => list
                    .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                    .ok()
                    .and_then(|inner| {
                        inner.into_iter().find_map(|m| match m {
                            Meta::NameValue(nv) if nv.path.is_ident("deserialize") => {
                                string(&nv.value)
                            }
                            _ => None,
                        })
                    }),
                Meta::Path(_) => None,
            };
            if path.is_ident("rename") {
                options.rename = value;
            } else if path.is_ident("rename_all") {
                options.rename_all = value;
            } else if path.is_ident("skip") || path.is_ident("skip_deserializing") {
                options.skip = true;
            } else if path.is_ident("default") {
                options.default = true;
            }
        }
    }
    options
}

fn string(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// serde's `rename_all` rules, for a field written in snake case.
fn rename(name: &str, rule: &str) -> String {
    let words = || name.split('_').filter(|w| !w.is_empty());
    let capitalized = |w: &str| {
        let mut chars = w.chars();
        chars.next().map_or_else(String::new, |c| {
            c.to_uppercase().collect::<String>() + chars.as_str()
        })
    };
    match rule {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "PascalCase" => words().map(capitalized).collect(),
        "camelCase" => {
            let pascal: String = words().map(capitalized).collect();
            let mut chars = pascal.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_lowercase().collect::<String>() + chars.as_str()
            })
        }
        "SCREAMING_SNAKE_CASE" => name.to_uppercase(),
        "kebab-case" => name.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => name.replace('_', "-").to_uppercase(),
        _ => name.to_owned(),
    }
}

/// `T` of a field typed `Option<T>`: serde reads a missing one as `None`
/// (serde decides this by the same name).
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    match outer_type(ty)? {
        (name, inner) if name == "Option" => inner,
        _ => None,
    }
}

/// The garde rules of a field that have a JSON Schema form, with literal
/// bounds, or for a length a named constant (`min = MIN_PASSWORD_CHARS`),
/// which the schema reads where the check does. A rule with computed bounds
/// is left out: the schema is then looser than the check, never stricter.
fn garde_rules(attrs: &[syn::Attribute]) -> Vec<TokenStream> {
    let rule = quote!(::secure_api_runtime::__private::Rule);
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("garde")) {
        let Ok(metas) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for meta in metas {
            let path = meta.path();
            if path.is_ident("email") {
                out.push(quote!(#rule::Email));
            } else if path.is_ident("url") {
                out.push(quote!(#rule::Url));
            } else if let (true, Meta::List(list)) = (path.is_ident("pattern"), &meta) {
                if let Ok(Lit::Str(pattern)) = list.parse_args::<Lit>() {
                    out.push(quote!(#rule::Pattern(#pattern)));
                }
            } else if let (true, Meta::List(list)) = (path.is_ident("length"), &meta) {
                let bounds = bounds(list, |bound| match bound {
                    Bound::Literal(Lit::Int(i), false) => {
                        i.base10_parse::<usize>().ok().map(|n| quote!(#n))
                    }
                    Bound::Constant(path) => Some(quote!(#path)),
                    Bound::Literal(..) => None,
                });
                if let Some((min, max)) = bounds {
                    out.push(quote!(#rule::Length { min: #min, max: #max }));
                }
            } else if let (true, Meta::List(list)) = (path.is_ident("range"), &meta) {
                let bounds = bounds(list, |bound| {
                    let Bound::Literal(lit, negated) = bound else {
                        return None;
                    };
                    let n = match lit {
                        Lit::Int(i) => i.base10_parse::<f64>().ok(),
                        Lit::Float(f) => f.base10_parse::<f64>().ok(),
                        _ => None,
                    }?;
                    let n = if negated { -n } else { n };
                    Some(quote!(#n))
                });
                if let Some((min, max)) = bounds {
                    out.push(quote!(#rule::Range { min: #min, max: #max }));
                }
            }
        }
    }
    out
}

/// A bound of a `length(..)` or `range(..)` as written.
enum Bound<'a> {
    /// A literal, and whether it is negated.
    Literal(&'a Lit, bool),
    /// A path: a constant.
    Constant(&'a syn::Path),
}

/// `min`, `max` (or `equal`) of a `length(..)` or `range(..)`, as
/// `Option`s; `None` when a bound is neither a literal nor a constant, or
/// `value` has no schema form for it.
fn bounds(
    list: &syn::MetaList,
    value: impl Fn(Bound<'_>) -> Option<TokenStream>,
) -> Option<(TokenStream, TokenStream)> {
    let metas = list
        .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        .ok()?;
    let none = quote!(::core::option::Option::None);
    let (mut min, mut max) = (none.clone(), none);
    for meta in metas {
        let Meta::NameValue(nv) = &meta else { continue };
        let bound = match &nv.value {
            Expr::Lit(ExprLit { lit, .. }) => Bound::Literal(lit, false),
            Expr::Path(syn::ExprPath {
                qself: None, path, ..
            }) => Bound::Constant(path),
            Expr::Unary(syn::ExprUnary {
                op: syn::UnOp::Neg(_),
                expr,
                ..
            }) => match expr.as_ref() {
                Expr::Lit(ExprLit { lit, .. }) => Bound::Literal(lit, true),
                _ => return None,
            },
            _ => return None,
        };
        let value = value(bound)?;
        let some = quote!(::core::option::Option::Some(#value));
        if nv.path.is_ident("min") {
            min = some;
        } else if nv.path.is_ident("max") {
            max = some;
        } else if nv.path.is_ident("equal") {
            min = some.clone();
            max = some;
        }
    }
    Some((min, max))
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
