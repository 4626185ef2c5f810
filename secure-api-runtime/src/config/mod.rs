//! Security configuration: mode, access-token keys and their rules, the
//! trusted proxies, and where shared state lives.
//!
//! The settings come from the environment ([`SecurityConfig::from_env`],
//! in `env`), a TOML file under it (`file`), or the builder (`builder`);
//! each is checked once, in the builder, and every problem names its
//! setting. The live state built from them (the stores) is its own type in
//! [`crate::store`]: a `SecurityConfig` holds it so that every worker's
//! clone shares the same stores.

mod builder;
mod env;
mod file;

pub use builder::SecurityConfigBuilder;
pub use env::DEFAULT_DEV_KEY_FILE;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::jwt::{IssuedToken, Jwt, MAX_TOKEN_BYTES, TokenError};
use crate::auth::oidc::{Providers, Unverified};
use crate::auth::principal::Principal;
use crate::net::{Cidr, ProxyHeader};
use crate::shared::Shared;
use crate::store::Stores;

/// The smallest HMAC secret accepted in production mode, in bytes.
pub const MIN_PROD_SECRET_BYTES: usize = 32;

/// How strictly the application runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Local development: a signing key is generated when none is set.
    Dev,
    /// Production: every secret must be configured and strong.
    Prod,
}

/// Where the access-token signing key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Set by the operator (environment or builder).
    Configured,
    /// Generated at random (dev mode only): kept in the dev key file
    /// ([`SecurityConfig::dev_key_file`]) when there is one, otherwise
    /// tokens die with the process.
    Generated,
}

/// What production mode does with a request that did not arrive over TLS
/// (directly, or per a trusted proxy's `X-Forwarded-Proto`/`Forwarded`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlainHttp {
    /// Answer 403 with a problem+json body (the default).
    #[default]
    Refuse,
    /// Answer 308 to the same URL over `https` (only for `GET` and `HEAD`;
    /// other methods are refused, since their body was already sent in clear).
    Redirect,
}

/// The default window in which a login counts as fresh.
pub const DEFAULT_FRESH_LOGIN: Duration = Duration::from_secs(5 * 60);

/// A configuration that cannot run, with one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct ConfigError {
    /// Each problem, one sentence naming the setting.
    pub problems: Vec<String>,
}

/// `url` fit to print: the user and password of its authority, and the
/// values of query parameters that name a secret (`password`, `*pass*`,
/// `*secret*`, `*token*`, `*key*`), replaced by `[redacted]`. Text that is
/// not a URL comes back unchanged. For `DATABASE_URL`, `REDIS_URL` and any
/// URL setting printed at start-up or in an error.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::config::redact_url;
///
/// assert_eq!(
///     redact_url("postgres://app:hunter2@db.internal:5432/orders?sslmode=require&password=x"),
///     "postgres://[redacted]@db.internal:5432/orders?sslmode=require&password=[redacted]"
/// );
/// assert_eq!(redact_url("redis://:s3cret@127.0.0.1:6379/"), "redis://[redacted]@127.0.0.1:6379/");
/// assert_eq!(redact_url("sqlite://example-app.db"), "sqlite://example-app.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = match authority.rfind('@') {
        Some(at) => format!("[redacted]@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let Some(query) = query else {
        return format!("{scheme}://{host}{path}");
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if names_a_secret(name) => format!("{name}=[redacted]"),
            _ => pair.to_owned(),
        })
        .collect();
    let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
    format!("{scheme}://{host}{path}?{}{fragment}", query.join("&"))
}

fn names_a_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|word| name.contains(word))
}

/// The security settings shared by every route. Cheap to clone.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
/// use secure_api_runtime::auth::JwtKey;
///
/// let config = SecurityConfig::builder(Mode::Dev)
///     .key(JwtKey::hs256(b"a development secret of 32+ bytes!".to_vec()))
///     .build()
///     .expect("valid configuration");
/// let token = config.issue_access_token("1", &["user".to_owned()]).expect("signing key");
/// let me = config.verify_access_token(&token.token).expect("fresh token");
/// assert_eq!(me.sub, "1");
/// ```
#[derive(Clone)]
pub struct SecurityConfig {
    settings: Arc<Settings>,
    stores: Arc<Stores>,
    /// Start-up warnings already given, so that each worker's app does not
    /// repeat them.
    warned: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// The checked settings.
struct Settings {
    mode: Mode,
    mode_chosen: bool,
    key_source: KeySource,
    dev_key_file: Option<std::path::PathBuf>,
    jwt: Jwt,
    trusted_proxies: Vec<Cidr>,
    proxy_header: ProxyHeader,
    fresh_login: Duration,
    plain_http: PlainHttp,
    /// Whether the API explorer page is served.
    docs: bool,
    /// The OpenID providers whose tokens are accepted, when configured.
    providers: Option<Providers>,
}

/// Where a token's verification goes.
enum Target {
    /// The application's own keys.
    Own,
    /// The keys of the configured issuer at this index.
    Provider(usize, Box<jsonwebtoken::Header>),
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("mode", &self.settings.mode)
            .field("mode_chosen", &self.settings.mode_chosen)
            .field("key_source", &self.settings.key_source)
            .field("jwt", &self.settings.jwt)
            .field("trusted_proxies", &self.settings.trusted_proxies)
            .field("proxy_header", &self.settings.proxy_header)
            .field("fresh_login", &self.settings.fresh_login)
            .field("plain_http", &self.settings.plain_http)
            .field("docs", &self.settings.docs)
            .field("providers", &self.settings.providers)
            .field("stores", &self.stores)
            .finish()
    }
}

impl SecurityConfig {
    /// Starts a configuration in `mode`.
    pub fn builder(mode: Mode) -> SecurityConfigBuilder {
        SecurityConfigBuilder::new(mode)
    }

    /// The mode the application runs in.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// Whether serving on `addrs` is allowed. Without a chosen mode (no
    /// `SECURE_API_MODE`, so dev by default) only loopback addresses are:
    /// dev mode accepts weak keys and generated secrets, which must not face
    /// a network by accident. A chosen `dev` may listen anywhere, with a
    /// warning logged; `prod` anywhere. Call it with the listener's
    /// addresses before serving.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    ///
    /// // Nothing set but an in-memory dev key (no `./secure-api.dev-key`).
    /// let by_default =
    ///     SecurityConfig::from_lookup(|name| (name == "SECURE_API_DEV_KEY_FILE").then(String::new))
    ///         .unwrap();
    /// assert!(by_default.check_bind(&["127.0.0.1:8080".parse().unwrap()]).is_ok());
    /// let refused = by_default.check_bind(&["0.0.0.0:8080".parse().unwrap()]).unwrap_err();
    /// assert!(refused.to_string().contains("SECURE_API_MODE"));
    /// ```
    pub fn check_bind(&self, addrs: &[std::net::SocketAddr]) -> Result<(), ConfigError> {
        let Some(open) = addrs.iter().find(|addr| !addr.ip().is_loopback()) else {
            return Ok(());
        };
        match (self.settings.mode, self.settings.mode_chosen) {
            (Mode::Prod, _) => Ok(()),
            (Mode::Dev, true) => {
                tracing::warn!(
                    target: "secure_api",
                    address = %open,
                    "dev mode on an address other than loopback: generated keys and weak secrets are accepted; use SECURE_API_MODE=prod for anything others reach"
                );
                Ok(())
            }
            (Mode::Dev, false) => Err(ConfigError {
                problems: vec![format!(
                    "{open} is not a loopback address and SECURE_API_MODE is not set (dev mode by default, loopback only): set SECURE_API_MODE=prod to serve a network, or SECURE_API_MODE=dev to develop on one"
                )],
            }),
        }
    }

    /// Whether the signing key was configured or generated at start.
    pub fn key_source(&self) -> KeySource {
        self.settings.key_source
    }

    /// The file a generated dev-mode key is kept in, if any
    /// (`SECURE_API_DEV_KEY_FILE`, [`SecurityConfigBuilder::dev_key_file`]).
    pub fn dev_key_file(&self) -> Option<&std::path::Path> {
        self.settings.dev_key_file.as_deref()
    }

    /// Says once in the log where a generated dev-mode key lives, so a
    /// restart that ends every session is not a surprise.
    pub(crate) fn announce_generated_key(&self) {
        if self.settings.key_source != KeySource::Generated || !self.first_notice("generated key") {
            return;
        }
        match &self.settings.dev_key_file {
            Some(path) => tracing::info!(
                target: "secure_api",
                file = %path.display(),
                "dev mode without SECURE_API_JWT_SECRET: access tokens are signed with a generated key kept in this file"
            ),
            None => tracing::warn!(
                target: "secure_api",
                "dev mode without SECURE_API_JWT_SECRET: access tokens are signed with a key held in memory only, and every one is refused after a restart; set SECURE_API_DEV_KEY_FILE to keep it"
            ),
        }
    }

    /// Signs an access token for `sub` with `roles`, for the configured lifetime.
    pub fn issue_access_token(
        &self,
        sub: &str,
        roles: &[String],
    ) -> Result<IssuedToken, TokenError> {
        self.settings.jwt.issue(sub, roles, None, false)
    }

    /// Signs an access token for a password login: it carries `auth_time`,
    /// so `#[authenticated(fresh)]` routes accept it for
    /// [`SecurityConfig::fresh_login`].
    pub fn issue_login_token(
        &self,
        sub: &str,
        roles: &[String],
    ) -> Result<IssuedToken, TokenError> {
        self.settings.jwt.issue(sub, roles, None, true)
    }

    /// How long after a password login `#[authenticated(fresh)]` routes
    /// accept its token.
    pub fn fresh_login(&self) -> Duration {
        self.settings.fresh_login
    }

    /// What production mode does with plain HTTP.
    pub fn plain_http(&self) -> PlainHttp {
        self.settings.plain_http
    }

    /// Whether the application serves its API explorer page: always in dev
    /// mode, in production only when enabled (`SECURE_API_DOCS=on`).
    pub fn serves_docs(&self) -> bool {
        self.settings.docs
    }

    /// The Redis shared by every instance, when configured.
    pub fn shared(&self) -> Option<&Shared> {
        self.stores.redis()
    }

    /// Whether `notice` is given for the first time by this configuration
    /// or any clone (every worker builds its own app from one).
    pub(crate) fn first_notice(&self, notice: &str) -> bool {
        let mut warned = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        warned.insert(notice.to_owned())
    }

    /// The live state built from this configuration, shared by every clone.
    pub(crate) fn stores(&self) -> &Stores {
        &self.stores
    }

    /// Signs an access token that lives `ttl`.
    pub fn issue_access_token_with_ttl(
        &self,
        sub: &str,
        roles: &[String],
        ttl: Duration,
    ) -> Result<IssuedToken, TokenError> {
        self.settings.jwt.issue(sub, roles, Some(ttl), false)
    }

    /// The configured access-token lifetime.
    pub fn access_token_ttl(&self) -> Duration {
        self.settings.jwt.access_ttl()
    }

    /// The proxies whose forwarding headers are believed.
    pub fn trusted_proxies(&self) -> &[Cidr] {
        &self.settings.trusted_proxies
    }

    /// The forwarding header the trusted proxies write; the other family is
    /// ignored.
    pub fn proxy_header(&self) -> ProxyHeader {
        self.settings.proxy_header
    }

    /// The client's address for `req`: the peer, or the nearest untrusted
    /// address a trusted proxy reports in its header. The address the
    /// quotas count.
    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        crate::net::client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            &self.settings.trusted_proxies,
            self.settings.proxy_header,
        )
    }

    /// Verifies a compact access token: one of the application's own, or
    /// one of a configured OpenID provider (with the keys loaded now; the
    /// route guard also waits for a fetch when a token names a key not
    /// loaded yet).
    pub fn verify_access_token(&self, token: &str) -> Result<Principal, TokenError> {
        let principal = match self.verified_before(token.as_bytes()) {
            Some(principal) => principal,
            None => match self.target(token)? {
                Target::Own => self.settings.jwt.verify_unseen(token)?,
                Target::Provider(index, header) => {
                    let providers = self.providers().ok_or(TokenError::UnknownKey)?;
                    let principal = Arc::new(providers.verify_loaded(index, token, &header)?);
                    self.settings.jwt.remember(token, &principal);
                    principal
                }
            },
        };
        Ok(Arc::unwrap_or_clone(principal))
    }

    /// The principal of a token that verified before (of the application
    /// or of a provider) and has not expired.
    pub(crate) fn verified_before(&self, token: &[u8]) -> Option<Arc<Principal>> {
        self.settings.jwt.cached(token)
    }

    /// Like [`SecurityConfig::verify_access_token`] for a token
    /// [`SecurityConfig::verified_before`] does not hold (its caller
    /// looked), waiting (a few seconds at most) for the one key fetch a
    /// provider token naming an unknown `kid` may cause. The principal is
    /// shared with the cache of verified tokens.
    pub(crate) async fn verify_bearer(&self, token: &str) -> Result<Arc<Principal>, TokenError> {
        match self.target(token)? {
            Target::Own => self.settings.jwt.verify_unseen(token),
            Target::Provider(index, header) => {
                let providers = self.providers().ok_or(TokenError::UnknownKey)?;
                // Boxed: a key-set fetch makes a large future, and most
                // tokens are known ones, answered without it.
                let principal = Arc::new(Box::pin(providers.verify(index, token, &header)).await?);
                self.settings.jwt.remember(token, &principal);
                Ok(principal)
            }
        }
    }

    /// Whose keys verify a token the cache of verified tokens does not hold.
    fn target(&self, token: &str) -> Result<Target, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let Some(providers) = self.providers() else {
            return Ok(Target::Own);
        };
        let unverified = Unverified::read(token)?;
        Ok(
            match unverified
                .iss
                .as_deref()
                .and_then(|iss| providers.find(iss))
            {
                Some(index) => Target::Provider(index, Box::new(unverified.header)),
                None => Target::Own,
            },
        )
    }

    pub(crate) fn providers(&self) -> Option<&Providers> {
        self.settings.providers.as_ref()
    }

    /// The OpenID issuers whose access tokens are accepted.
    pub fn oidc_issuers(&self) -> &[String] {
        self.providers().map_or(&[], Providers::issuers)
    }

    /// The audience provider tokens must name, when issuers are configured.
    pub fn oidc_audience(&self) -> Option<&str> {
        self.providers().map(Providers::audience)
    }
}
