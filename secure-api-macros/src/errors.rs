//! Collects every error of an expansion so the user sees all of them in one
//! build.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::Token;
use syn::parse::ParseStream;

#[derive(Default)]
pub(crate) struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    /// Records `message`, with a `help:` line showing the fix.
    pub(crate) fn push(
        &mut self,
        span: Span,
        message: impl std::fmt::Display,
        help: impl std::fmt::Display,
    ) {
        self.errors
            .push(syn::Error::new(span, format!("{message}\n\nhelp: {help}")));
    }

    /// Records an error that already carries its message and help.
    pub(crate) fn push_syn(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.errors
            .into_iter()
            .map(|e| e.to_compile_error())
            .collect()
    }
}

/// `syn::Error` with a `help:` line, for parsers.
pub(crate) fn error(
    span: Span,
    message: impl std::fmt::Display,
    help: impl std::fmt::Display,
) -> syn::Error {
    syn::Error::new(span, format!("{message}\n\nhelp: {help}"))
}

/// The errors of one attribute's options, gathered so that a build reports
/// all of them together (as darling's accumulator does for `FromMeta`).
#[derive(Default)]
pub(crate) struct Gathered(Option<syn::Error>);

impl Gathered {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Reads one option with `read`; on an error, gathers it and skips the
    /// rest of that option, so the next one is read too.
    pub(crate) fn option(
        &mut self,
        input: ParseStream<'_>,
        read: impl FnOnce() -> syn::Result<()>,
    ) {
        if let Err(error) = read() {
            self.push(error);
            while !input.is_empty() && !input.peek(Token![,]) {
                if input.parse::<TokenTree>().is_err() {
                    break;
                }
            }
        }
    }

    /// Reads the comma between options; `false` when there is none to read
    /// (the error is gathered).
    pub(crate) fn comma(&mut self, input: ParseStream<'_>) -> bool {
        if input.is_empty() {
            return true;
        }
        match input.parse::<Token![,]>() {
            Ok(_) => true,
            Err(error) => {
                self.push(error);
                false
            }
        }
    }

    /// Every gathered error, if there is one.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(
            did_you_mean("or_role", ["or_roles", "reason"]),
            Some("or_roles")
        );
        assert_eq!(did_you_mean("user", ["user_id", "order_id"]), None);
        assert_eq!(
            did_you_mean("usr_id", ["user_id", "order_id"]),
            Some("user_id")
        );
        assert_eq!(did_you_mean("x", ["order_id"]), None);
    }
}
