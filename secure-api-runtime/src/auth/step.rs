//! The pipeline's authentication step: a single `Authorization: Bearer`
//! header, a token that verifies, is not revoked, and (for
//! `#[authenticated(fresh)]`) comes from a recent password login.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};

use super::jwt::TokenError;
use crate::guard::exchange::{Exchange, Step};
use crate::policy::Access;
use crate::problem::{Problem, Refusal, TOKEN_REQUIRED};

/// Step: the bearer token becomes the request's [`Principal`](super::Principal)
/// (401 otherwise), and the caller's roles are expanded through the role
/// hierarchy once, for every later rule. Routes without a token pass, and
/// so does a request without one on an `#[authenticated(optional)]` route
/// (a token it does send must be valid).
pub(crate) async fn authenticate(x: &mut Exchange) -> Step {
    let policy = x.policy();
    if !policy.access.reads_token() {
        return Ok(());
    }
    if policy.access == Access::OptionalToken && !x.req.headers().contains_key(AUTHORIZATION) {
        return Ok(());
    }
    let refuse = |reason| {
        Refusal::new(
            Problem::unauthorized(TOKEN_REQUIRED),
            "authentication",
            reason,
        )
    };
    let token = bearer_token(x.req.headers()).map_err(refuse)?;
    let security = &x.route.security;
    // A token that verified before is taken as it is: only a well-formed
    // one can have been remembered.
    let verified = match security.verified_before(token) {
        Some(principal) => Ok(principal),
        None => {
            security
                .verify_bearer(token_text(token).map_err(refuse)?)
                .await
        }
    };
    let principal = match verified {
        Ok(principal) => principal,
        Err(TokenError::KeysUnavailable) => {
            let retry = security
                .providers()
                .map_or(30, |p| p.refetch_cooldown().as_secs().max(1));
            return Err(Refusal::new(
                Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("the token's issuer cannot be checked yet: try again later")
                    .with_header(RETRY_AFTER, HeaderValue::from(retry)),
                "authentication",
                TokenError::KeysUnavailable.reason(),
            )
            .into());
        }
        Err(e) => return Err(refuse(e.reason()).into()),
    };
    // Checked after verification, never cached with it: a logout takes
    // effect on the next request. A provider token without `jti` is
    // revoked by its provider.
    if !principal.jti.is_empty() {
        security
            .stores()
            .check_token(&mut x.decisions, &principal.jti)?;
    }
    let fresh_needed = policy.access == Access::FreshLogin;
    if let std::borrow::Cow::Owned(all) = x.route.hierarchy.expand(&principal.roles) {
        x.expanded = Some(all);
    }
    let auth_time = principal.auth_time;
    x.principal = Some(principal);
    if fresh_needed {
        let window = security.fresh_login().as_secs();
        let now = crate::util::now_secs();
        if auth_time.is_none_or(|at| now.saturating_sub(at) > window) {
            return Err(Refusal::new(
                Problem::unauthorized("this route needs a recent password login: sign in again"),
                "authentication",
                "login_not_fresh",
            )
            .into());
        }
    }
    Ok(())
}

/// Step: the token grants the OAuth2 scopes `#[scopes(..)]` asks for
/// (403 with `WWW-Authenticate: Bearer error="insufficient_scope"` naming
/// them, RFC 6750 section 3.1).
pub(crate) async fn require_scopes(x: &mut Exchange) -> Step {
    let rule = x.policy().scopes;
    let Some(principal) = &x.principal else {
        return Ok(());
    };
    if rule.allows(&principal.scopes) {
        return Ok(());
    }
    // Scope names were checked at compile time: no quote, no backslash.
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\"",
        rule.names().join(" ")
    );
    let challenge = HeaderValue::from_str(&challenge)
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_scope\""));
    Err(Refusal::new(
        Problem::forbidden("the token does not grant the scope this route needs")
            .with_header(WWW_AUTHENTICATE, challenge),
        "scopes",
        "missing_scope",
    )
    .into())
}

/// The token of a single `Authorization: Bearer <token>` header, as it
/// came; the scheme is matched without regard to case. [`token_text`]
/// checks what it holds.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&[u8], &'static str> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next().ok_or("missing_token")?;
    if values.next().is_some() {
        return Err("several_authorization_headers");
    }
    let bytes = value.as_bytes();
    let space = bytes
        .iter()
        .position(|b| *b == b' ')
        .ok_or("malformed_authorization")?;
    let (scheme, rest) = bytes.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err("not_bearer");
    }
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    let end = rest
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    let token = &rest[start..end];
    if token.is_empty() {
        return Err("malformed_authorization");
    }
    Ok(token)
}

/// A bearer token as text: visible ASCII without spaces (RFC 6750's
/// b64token and more).
pub(crate) fn token_text(token: &[u8]) -> Result<&str, &'static str> {
    if !crate::util::is_visible_ascii(token) {
        return Err("malformed_authorization");
    }
    std::str::from_utf8(token).map_err(|_| "malformed_authorization")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn authorization_header_forms() {
        let token = "a.b.c";
        let parse = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.insert(AUTHORIZATION, value);
            }
            bearer_token(&headers)
                .and_then(token_text)
                .map(str::to_owned)
        };
        assert_eq!(parse("Bearer a.b.c"), Ok(token.to_owned()));
        assert_eq!(parse("BEARER a.b.c"), Ok(token.to_owned()));
        assert_eq!(parse("Basic a.b.c"), Err("not_bearer"));
        assert_eq!(parse("Bearer"), Err("malformed_authorization"));
        assert_eq!(parse("Bearer a b"), Err("malformed_authorization"));
        assert_eq!(parse(""), Err("malformed_authorization"));
        assert_eq!(parse("Bearer a.b\tc"), Err("malformed_authorization"));
        // Text outside ASCII, which a header value may carry.
        assert_eq!(parse("Bearer a.b.\u{e9}"), Err("malformed_authorization"));
        let mut twice = HeaderMap::new();
        twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer a.b.c"));
        twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer d.e.f"));
        assert_eq!(bearer_token(&twice), Err("several_authorization_headers"));
    }
}
