//! `#[get("/path")]`, `#[post]`, `#[put]`, `#[patch]`, `#[delete]`: the route
//! and its path parameters.

use proc_macro2::Span;
use syn::LitStr;
use syn::parse::ParseStream;

use super::Kind;
use crate::errors::error;
use crate::path;

/// `#[get("/path")]` and its siblings.
pub(crate) struct Route {
    pub kind: Kind,
    pub path: LitStr,
    pub params: Vec<String>,
}

pub(crate) fn parse(input: ParseStream<'_>, kind: Kind, span: Span) -> syn::Result<Route> {
    let example = format!("`#[{}(\"/api/users/{{user_id}}\")]`", kind.name());
    if input.is_empty() {
        return Err(error(
            span,
            format!("`#[{}]` needs the route's path", kind.name()),
            format!("write {example}"),
        ));
    }
    let path: LitStr = input.parse().map_err(|e| {
        error(
            e.span(),
            "expected the route's path as a string literal",
            format!("write {example}"),
        )
    })?;
    if !input.is_empty() {
        return Err(error(
            input.span(),
            format!("`#[{}]` takes only the path", kind.name()),
            format!("write {example}"),
        ));
    }
    let params = path::parameters(&path.value()).map_err(|reason| {
        error(
            path.span(),
            format!("`{}` is not a valid route path: {reason}", path.value()),
            format!("write {example}"),
        )
    })?;
    Ok(Route { kind, path, params })
}
