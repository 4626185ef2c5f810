//! CORS from an explicit allowlist (OWASP API8). Preflight requests are
//! answered by `SecureApp` itself for the methods its routes serve; actual
//! requests from an allowed origin get `Access-Control-Allow-Origin` with
//! that origin (never `*` when credentials are allowed). A request from
//! another origin gets no CORS headers, so a browser will not expose the
//! answer to the page.

use actix_web::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, HeaderMap,
    HeaderValue, ORIGIN, VARY,
};

/// A CORS policy. Build it with [`Cors::allow_origins`] and
/// [`CorsBuilder::build`], which refuses a wildcard origin with credentials.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::cors::Cors;
///
/// let cors = Cors::allow_origins(["https://app.example.com"]).allow_credentials(true).build();
/// assert!(cors.is_ok());
/// let wildcard = Cors::allow_origins(["*"]).allow_credentials(true).build();
/// assert!(wildcard.is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Vec<String>,
    any_origin: bool,
    credentials: bool,
    headers: HeaderValue,
    max_age: HeaderValue,
}

/// Builds a [`Cors`] policy.
#[derive(Debug)]
pub struct CorsBuilder {
    origins: Vec<String>,
    credentials: bool,
    headers: Vec<String>,
    max_age_secs: u32,
}

/// Why a CORS policy cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CorsError {
    /// `*` would let every site read answers sent with the user's credentials.
    #[error("CORS allows any origin (`*`) together with credentials")]
    WildcardWithCredentials,
    /// An origin is not `scheme://host[:port]`.
    #[error("CORS origin `{0}` is not of the form `https://host[:port]`")]
    MalformedOrigin(String),
}

impl Cors {
    /// Starts a policy that allows `origins` (exact `scheme://host[:port]`,
    /// or `*` for any origin without credentials).
    pub fn allow_origins<I, S>(origins: I) -> CorsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CorsBuilder {
            origins: origins.into_iter().map(Into::into).collect(),
            credentials: false,
            headers: vec![
                "authorization".to_owned(),
                "content-type".to_owned(),
                "idempotency-key".to_owned(),
            ],
            max_age_secs: 600,
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o == origin)
    }

    /// The request's origin, when it is allowed.
    pub(crate) fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        self.allows(origin.to_str().ok()?).then_some(origin)
    }

    /// Whether the request is a CORS preflight.
    pub(crate) fn is_preflight(method: &actix_web::http::Method, headers: &HeaderMap) -> bool {
        method == actix_web::http::Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Adds the headers of an answer to an allowed origin.
    pub(crate) fn apply(&self, origin: &HeaderValue, headers: &mut HeaderMap) {
        let value = if self.any_origin {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        };
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(VARY, HeaderValue::from_static("Origin"));
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Adds the headers of a preflight answer allowing `methods`.
    pub(crate) fn apply_preflight(
        &self,
        origin: &HeaderValue,
        methods: &str,
        headers: &mut HeaderMap,
    ) {
        self.apply(origin, headers);
        if let Ok(methods) = HeaderValue::from_str(methods) {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, self.headers.clone());
        headers.insert(ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
    }
}

impl CorsBuilder {
    /// Lets browsers send cookies and `Authorization` cross-origin.
    #[must_use]
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Request headers a page may send (default `authorization`,
    /// `content-type`, `idempotency-key`).
    #[must_use]
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// How long a browser may cache a preflight answer (default 600 s).
    #[must_use]
    pub fn max_age(mut self, secs: u32) -> Self {
        self.max_age_secs = secs;
        self
    }

    /// Checks the policy.
    pub fn build(self) -> Result<Cors, CorsError> {
        let any_origin = self.origins.iter().any(|o| o == "*");
        if any_origin && self.credentials {
            return Err(CorsError::WildcardWithCredentials);
        }
        for origin in self.origins.iter().filter(|o| *o != "*") {
            let well_formed = origin.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
            });
            if !well_formed {
                return Err(CorsError::MalformedOrigin(origin.clone()));
            }
        }
        let headers = HeaderValue::from_str(&self.headers.join(", "))
            .map_err(|_| CorsError::MalformedOrigin(self.headers.join(", ")))?;
        Ok(Cors {
            origins: self.origins,
            any_origin,
            credentials: self.credentials,
            headers,
            max_age: HeaderValue::from(self.max_age_secs),
        })
    }
}
