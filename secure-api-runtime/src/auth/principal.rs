use std::future::{Ready, ready};
use std::str::FromStr;
use std::sync::Arc;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

use crate::problem::Problem;

/// The authenticated caller, proven by a verified access token.
///
/// The route guard puts it into the request before any handler argument is
/// extracted; a handler takes it as an argument. A route declared
/// `#[public]` has no principal, and asking for one there answers 401.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[get("/api/me")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[authenticated]
/// async fn me(me: Principal) -> String {
///     format!("hello {}", me.sub)
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's subject: the user's id, as a string.
    pub sub: String,
    /// The roles the token grants.
    pub roles: Vec<String>,
    /// The token's unique id, used for revocation; empty for a provider
    /// token without `jti` (which the provider revokes, not this API).
    pub jti: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// When the caller proved their password, for tokens issued by a
    /// login (`auth_time`); `None` for tokens issued by a refresh.
    pub auth_time: Option<u64>,
    /// The token's issuer (`iss`): an OpenID provider's URL for its tokens,
    /// the configured issuer (if any) for the application's own.
    pub issuer: Option<String>,
    /// The OAuth2 scopes the token grants (`scope`, or `scp`), checked by
    /// `#[scopes(..)]`.
    pub scopes: Vec<String>,
}

impl Principal {
    /// The subject parsed as the application's user id type.
    ///
    /// A subject that does not parse is a token this application did not
    /// mean to accept (another issuer's numbering, a forged test token): it
    /// answers 401, like any other unusable token, rather than a 500.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    ///
    /// #[get("/api/me")]
    /// #[registered(owner = "platform", lifecycle = production)]
    /// #[authenticated]
    /// async fn me(me: Principal) -> Result<String, Problem> {
    ///     let id: i64 = me.sub_as()?;
    ///     Ok(format!("user {id}"))
    /// }
    /// ```
    pub fn sub_as<T: FromStr>(&self) -> Result<T, Problem> {
        self.sub.parse().map_err(|_| {
            crate::observe::context::refused("authentication", "subject_not_an_id");
            Problem::unauthorized(crate::problem::TOKEN_REQUIRED)
        })
    }
}

impl FromRequest for Principal {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Arc<Principal>>()
                .map(|principal| Principal::clone(principal))
                .ok_or_else(|| Problem::unauthorized("this route needs a bearer access token")),
        )
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::Principal;

    fn principal(sub: &str) -> Principal {
        Principal {
            sub: sub.to_owned(),
            roles: Vec::new(),
            jti: String::new(),
            exp: 0,
            auth_time: None,
            issuer: None,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn sub_as_parses_the_subject_or_answers_401() {
        assert_eq!(principal("42").sub_as::<i64>().ok(), Some(42));
        for bad in ["", "4x2", "auth0|abc", "99999999999999999999"] {
            let refused = principal(bad).sub_as::<i64>().err().map(|p| p.status());
            assert_eq!(refused, Some(StatusCode::UNAUTHORIZED), "{bad:?}");
        }
    }
}
