//! Security configuration: mode, access-token keys and their rules.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::jwt::{Jwt, JwtSettings, random_bytes};
use crate::auth::revocation::Revocations;
use crate::auth::{IssuedToken, JwtKey, Principal, TokenError};
use crate::idempotency::Idempotency;
use crate::limit::Limits;
use crate::limit::client_ip::Cidr;
use crate::shared::{Shared, Unavailable};

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
    /// Generated at random at start (dev mode only); tokens die with the process.
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
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    key_source: KeySource,
    jwt: Jwt,
    trusted_proxies: Vec<Cidr>,
    limits: Limits,
    idempotency: Idempotency,
    revocations: Revocations,
    fresh_login: Duration,
    plain_http: PlainHttp,
    shared: Option<Shared>,
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("mode", &self.inner.mode)
            .field("key_source", &self.inner.key_source)
            .field("jwt", &self.inner.jwt)
            .field("trusted_proxies", &self.inner.trusted_proxies)
            .field("fresh_login", &self.inner.fresh_login)
            .field("plain_http", &self.inner.plain_http)
            .field("shared", &self.inner.shared)
            .finish()
    }
}

impl SecurityConfig {
    /// Starts a configuration in `mode`.
    pub fn builder(mode: Mode) -> SecurityConfigBuilder {
        SecurityConfigBuilder {
            mode,
            keys: Vec::new(),
            issuer: None,
            audience: None,
            leeway: 30,
            access_ttl: Duration::from_secs(15 * 60),
            key_source: KeySource::Configured,
            problems: Vec::new(),
            trusted_proxies: Vec::new(),
            fresh_login: DEFAULT_FRESH_LOGIN,
            plain_http: PlainHttp::Refuse,
            shared: None,
        }
    }

    /// Reads the configuration from the process environment.
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `SECURE_API_MODE` | `dev` (default) or `prod` |
    /// | `SECURE_API_JWT_SECRET` | HS256 secret; generated at random in dev when unset |
    /// | `SECURE_API_JWT_KID` | the `kid` of that secret |
    /// | `SECURE_API_JWT_PREVIOUS_SECRETS` | `kid=secret` pairs, comma separated (so without commas), still accepted |
    /// | `SECURE_API_JWT_ISSUER`, `SECURE_API_JWT_AUDIENCE` | checked only when set |
    /// | `SECURE_API_JWT_LEEWAY_SECS` | clock leeway, 0 to 60 (default 30) |
    /// | `SECURE_API_ACCESS_TOKEN_TTL_SECS` | access-token lifetime (default 900) |
    /// | `SECURE_API_TRUSTED_PROXIES` | addresses or CIDR ranges, comma separated, whose forwarding headers are believed |
    /// | `SECURE_API_FRESH_LOGIN_SECS` | how long a password login counts as fresh for `#[authenticated(fresh)]` (default 300) |
    /// | `SECURE_API_PLAIN_HTTP` | prod mode, request not over TLS: `refuse` (403, default) or `redirect` (308 for `GET`/`HEAD`) |
    /// | `REDIS_URL` | a Redis shared by every instance for limits, revocations and webhook replays (in memory per process when unset) |
    /// | `SECURE_API_REDIS_UNAVAILABLE` | when Redis cannot be reached: `fail_closed` (503, default) or `fail_open` (this instance's own state) |
    ///
    /// `SECURE_API_CONFIG` may name a TOML file holding the same settings,
    /// keyed by their names without the prefix, in lowercase (`mode`,
    /// `jwt_secret`, `trusted_proxies = ["10.0.0.0/8"]`, ...); a variable
    /// overrides the file.
    pub fn from_env() -> Result<Self, ConfigError> {
        let file = std::env::var_os("SECURE_API_CONFIG").map(std::path::PathBuf::from);
        Self::from_file_and_lookup(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// Like [`SecurityConfig::from_lookup`], with the settings of the TOML
    /// `file` (read through `figment`) under the variables.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    ///
    /// let dir = std::env::temp_dir().join(format!("secure-api-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let file = dir.join("security.toml");
    /// std::fs::write(&file, "mode = \"prod\"\njwt_secret = \"short\"\n").unwrap();
    /// let error = SecurityConfig::from_file_and_lookup(Some(&file), |_| None).unwrap_err();
    /// assert!(error.to_string().contains("shorter than 32 bytes"));
    /// // A variable overrides the file.
    /// let config = SecurityConfig::from_file_and_lookup(Some(&file), |name| {
    ///     (name == "SECURE_API_MODE").then(|| "dev".to_owned())
    /// });
    /// assert!(config.is_ok());
    /// ```
    pub fn from_file_and_lookup(
        file: Option<&std::path::Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let from_file = match file {
            Some(path) => read_settings_file(path)?,
            None => std::collections::HashMap::new(),
        };
        Self::from_lookup(|name| {
            lookup(name).or_else(|| {
                name.strip_prefix("SECURE_API_")
                    .and_then(|key| from_file.get(&key.to_ascii_lowercase()).cloned())
            })
        })
    }

    /// Like [`SecurityConfig::from_env`], reading variables through `lookup`.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    ///
    /// let error = SecurityConfig::from_lookup(|name| match name {
    ///     "SECURE_API_MODE" => Some("prod".to_owned()),
    ///     "SECURE_API_JWT_SECRET" => Some("short".to_owned()),
    ///     _ => None,
    /// })
    /// .unwrap_err();
    /// assert!(error.to_string().contains("SECURE_API_JWT_SECRET"));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mode = match lookup("SECURE_API_MODE").as_deref() {
            None | Some("dev") => Mode::Dev,
            Some("prod") => Mode::Prod,
            Some(other) => {
                problems.push(format!("SECURE_API_MODE is `{other}`: use `dev` or `prod`"));
                Mode::Prod
            }
        };
        let mut builder = Self::builder(mode);
        match lookup("SECURE_API_JWT_SECRET") {
            Some(secret) => {
                let mut key = JwtKey::hs256(secret.into_bytes());
                if let Some(kid) = lookup("SECURE_API_JWT_KID") {
                    key = key.with_kid(kid);
                }
                builder = builder.key(key);
            }
            None if mode == Mode::Dev => builder = builder.generated_key(),
            None => problems.push(
                "SECURE_API_JWT_SECRET is not set: production needs a signing secret".to_owned(),
            ),
        }
        if let Some(previous) = lookup("SECURE_API_JWT_PREVIOUS_SECRETS") {
            for pair in previous.split(',').filter(|p| !p.trim().is_empty()) {
                match pair.split_once('=') {
                    Some((kid, secret)) if !kid.trim().is_empty() && !secret.is_empty() => {
                        builder = builder.key(JwtKey::hs256(secret.as_bytes().to_vec()).with_kid(kid.trim()));
                    }
                    _ => problems.push(
                        "SECURE_API_JWT_PREVIOUS_SECRETS must be `kid=secret` pairs separated by commas".to_owned(),
                    ),
                }
            }
        }
        if let Some(issuer) = lookup("SECURE_API_JWT_ISSUER") {
            builder = builder.issuer(issuer);
        }
        if let Some(audience) = lookup("SECURE_API_JWT_AUDIENCE") {
            builder = builder.audience(audience);
        }
        if let Some(leeway) = lookup("SECURE_API_JWT_LEEWAY_SECS") {
            match leeway.parse() {
                Ok(secs) => builder = builder.leeway(Duration::from_secs(secs)),
                Err(_) => problems.push(format!(
                    "SECURE_API_JWT_LEEWAY_SECS is `{leeway}`: expected whole seconds"
                )),
            }
        }
        if let Some(ttl) = lookup("SECURE_API_ACCESS_TOKEN_TTL_SECS") {
            match ttl.parse() {
                Ok(secs) if secs > 0 => {
                    builder = builder.access_token_ttl(Duration::from_secs(secs))
                }
                _ => problems.push(format!(
                    "SECURE_API_ACCESS_TOKEN_TTL_SECS is `{ttl}`: expected whole seconds above 0"
                )),
            }
        }
        if let Some(fresh) = lookup("SECURE_API_FRESH_LOGIN_SECS") {
            match fresh.parse() {
                Ok(secs) if secs > 0 => builder = builder.fresh_login(Duration::from_secs(secs)),
                _ => problems.push(format!(
                    "SECURE_API_FRESH_LOGIN_SECS is `{fresh}`: expected whole seconds above 0"
                )),
            }
        }
        match lookup("SECURE_API_PLAIN_HTTP").as_deref() {
            None | Some("refuse") => {}
            Some("redirect") => builder = builder.plain_http(PlainHttp::Redirect),
            Some(other) => problems.push(format!(
                "SECURE_API_PLAIN_HTTP is `{other}`: use `refuse` or `redirect`"
            )),
        }
        let on_unavailable = match lookup("SECURE_API_REDIS_UNAVAILABLE").as_deref() {
            None | Some("fail_closed") => Unavailable::FailClosed,
            Some("fail_open") => Unavailable::FailOpen,
            Some(other) => {
                problems.push(format!(
                    "SECURE_API_REDIS_UNAVAILABLE is `{other}`: use `fail_closed` or `fail_open`"
                ));
                Unavailable::FailClosed
            }
        };
        if let Some(url) = lookup("REDIS_URL") {
            match Shared::new(&url, on_unavailable) {
                Ok(shared) => builder = builder.shared(shared),
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(proxies) = lookup("SECURE_API_TRUSTED_PROXIES") {
            let mut parsed = Vec::new();
            for proxy in proxies.split(',').filter(|p| !p.trim().is_empty()) {
                match proxy.parse::<Cidr>() {
                    Ok(cidr) => parsed.push(cidr),
                    Err(reason) => problems.push(format!("SECURE_API_TRUSTED_PROXIES: {reason}")),
                }
            }
            builder = builder.trusted_proxies(parsed);
        }
        if builder.keys.is_empty() {
            // The missing secret is already reported in the operator's terms.
            problems.append(&mut builder.problems);
            return Err(ConfigError { problems });
        }
        match builder.build() {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(ConfigError { problems }),
            Err(mut error) => {
                problems.append(&mut error.problems);
                Err(ConfigError { problems })
            }
        }
    }

    /// The mode the application runs in.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Whether the signing key was configured or generated at start.
    pub fn key_source(&self) -> KeySource {
        self.inner.key_source
    }

    /// Signs an access token for `sub` with `roles`, for the configured lifetime.
    pub fn issue_access_token(
        &self,
        sub: &str,
        roles: &[String],
    ) -> Result<IssuedToken, TokenError> {
        self.inner.jwt.issue(sub, roles, None, false)
    }

    /// Signs an access token for a password login: it carries `auth_time`,
    /// so `#[authenticated(fresh)]` routes accept it for
    /// [`SecurityConfig::fresh_login`].
    pub fn issue_login_token(
        &self,
        sub: &str,
        roles: &[String],
    ) -> Result<IssuedToken, TokenError> {
        self.inner.jwt.issue(sub, roles, None, true)
    }

    /// How long after a password login `#[authenticated(fresh)]` routes
    /// accept its token.
    pub fn fresh_login(&self) -> Duration {
        self.inner.fresh_login
    }

    /// What production mode does with plain HTTP.
    pub fn plain_http(&self) -> PlainHttp {
        self.inner.plain_http
    }

    /// The Redis shared by every instance, when configured.
    pub fn shared(&self) -> Option<&Shared> {
        self.inner.shared.as_ref()
    }

    /// The access tokens revoked in this process.
    pub(crate) fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }

    /// Signs an access token that lives `ttl`.
    pub fn issue_access_token_with_ttl(
        &self,
        sub: &str,
        roles: &[String],
        ttl: Duration,
    ) -> Result<IssuedToken, TokenError> {
        self.inner.jwt.issue(sub, roles, Some(ttl), false)
    }

    /// The configured access-token lifetime.
    pub fn access_token_ttl(&self) -> Duration {
        self.inner.jwt.access_ttl()
    }

    /// The proxies whose forwarding headers are believed.
    pub fn trusted_proxies(&self) -> &[Cidr] {
        &self.inner.trusted_proxies
    }

    /// The idempotency keys shared by every worker of this process.
    pub(crate) fn idempotency(&self) -> &Idempotency {
        &self.inner.idempotency
    }

    /// The limiters shared by every worker of this process.
    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Verifies a compact access token.
    pub fn verify_access_token(&self, token: &str) -> Result<Principal, TokenError> {
        self.inner.jwt.verify(token)
    }
}

/// The settings a file may hold: the variables' names without the prefix.
const FILE_SETTINGS: [&str; 12] = [
    "mode",
    "jwt_secret",
    "jwt_kid",
    "jwt_previous_secrets",
    "jwt_issuer",
    "jwt_audience",
    "jwt_leeway_secs",
    "access_token_ttl_secs",
    "trusted_proxies",
    "fresh_login_secs",
    "plain_http",
    "redis_unavailable",
];

/// Reads a TOML settings file into the text each variable would hold.
/// Errors name the file and the key, never a value.
fn read_settings_file(
    path: &std::path::Path,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    use figment::providers::{Format as _, Toml};
    use figment::value::Value;

    let problem = |what: String| ConfigError {
        problems: vec![format!("SECURE_API_CONFIG {}: {what}", path.display())],
    };
    if !path.is_file() {
        return Err(problem("no such file".to_owned()));
    }
    let table: std::collections::BTreeMap<String, Value> = figment::Figment::from(Toml::file(path))
        .extract()
        .map_err(|_| problem("not a TOML table of settings (the file may hold secrets, so the error is not shown)".to_owned()))?;
    let mut settings = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for (key, value) in table {
        if !FILE_SETTINGS.contains(&key.as_str()) {
            problems.push(format!(
                "SECURE_API_CONFIG {}: unknown setting `{key}`; known: {}",
                path.display(),
                FILE_SETTINGS.join(", ")
            ));
            continue;
        }
        let text = match value {
            Value::String(_, text) => Some(text),
            Value::Num(_, number) => number.to_i128().filter(|n| *n >= 0).map(|n| n.to_string()),
            Value::Bool(_, flag) => Some(flag.to_string()),
            Value::Array(_, items) => items
                .into_iter()
                .map(|item| item.into_string())
                .collect::<Option<Vec<_>>>()
                .map(|items| items.join(",")),
            _ => None,
        };
        match text {
            Some(text) => {
                settings.insert(key, text);
            }
            None => problems.push(format!(
                "SECURE_API_CONFIG {}: `{key}` must be text, a whole number, true/false or a list of text",
                path.display()
            )),
        }
    }
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError { problems })
    }
}

/// Builds a [`SecurityConfig`]; see [`SecurityConfig::builder`].
#[derive(Debug)]
pub struct SecurityConfigBuilder {
    mode: Mode,
    keys: Vec<JwtKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    access_ttl: Duration,
    key_source: KeySource,
    problems: Vec<String>,
    trusted_proxies: Vec<Cidr>,
    fresh_login: Duration,
    plain_http: PlainHttp,
    shared: Option<Shared>,
}

impl SecurityConfigBuilder {
    /// Shares limits, revocations and webhook replays with every instance
    /// through Redis.
    #[must_use]
    pub fn shared(mut self, shared: Shared) -> Self {
        self.shared = Some(shared);
        self
    }

    /// How long a password login counts as fresh (default 5 minutes).
    #[must_use]
    pub fn fresh_login(mut self, window: Duration) -> Self {
        self.fresh_login = window;
        self
    }

    /// What production mode does with plain HTTP (default: refuse).
    #[must_use]
    pub fn plain_http(mut self, choice: PlainHttp) -> Self {
        self.plain_http = choice;
        self
    }

    /// Addresses or ranges of proxies whose `Forwarded` / `X-Forwarded-For`
    /// headers are believed for the client address.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = Cidr>) -> Self {
        self.trusted_proxies.extend(proxies);
        self
    }

    /// Adds an access-token key. The first key that can sign signs new tokens;
    /// every key verifies the tokens that name its `kid`.
    #[must_use]
    pub fn key(mut self, key: JwtKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds a random HS256 key (dev mode only; refused in prod by `build`).
    #[must_use]
    pub fn generated_key(mut self) -> Self {
        match random_bytes::<32>() {
            Ok(secret) => self.keys.push(JwtKey::hs256(secret.to_vec())),
            Err(e) => self
                .problems
                .push(format!("no random signing key could be generated: {e}")),
        }
        self.key_source = KeySource::Generated;
        self
    }

    /// Requires `iss` to equal `issuer`; issued tokens carry it.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to contain `audience`; issued tokens carry it.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat`; at most 60 seconds.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// Lifetime of issued access tokens (default 15 minutes).
    #[must_use]
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Checks the settings and builds the configuration.
    pub fn build(self) -> Result<SecurityConfig, ConfigError> {
        let mut problems = self.problems;
        if self.mode == Mode::Prod {
            if self.key_source == KeySource::Generated {
                problems.push(
                    "a generated signing key is for dev mode only: configure SECURE_API_JWT_SECRET"
                        .to_owned(),
                );
            }
            for key in &self.keys {
                if key.hmac_secret_is_known_default() {
                    problems.push(format!(
                        "SECURE_API_JWT_SECRET{} is a well-known default: generate a random secret",
                        key.kid()
                            .map(|kid| format!(" (kid {kid})"))
                            .unwrap_or_default()
                    ));
                } else if key
                    .hmac_secret_len()
                    .is_some_and(|len| len < MIN_PROD_SECRET_BYTES)
                {
                    problems.push(format!(
                        "SECURE_API_JWT_SECRET{} is shorter than {MIN_PROD_SECRET_BYTES} bytes",
                        key.kid()
                            .map(|kid| format!(" (kid {kid})"))
                            .unwrap_or_default()
                    ));
                }
            }
        }
        if self.keys.iter().any(|key| key.hmac_secret_len() == Some(0)) {
            problems.push("SECURE_API_JWT_SECRET is empty".to_owned());
        }
        let jwt = Jwt::new(JwtSettings {
            keys: self.keys,
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway,
            access_ttl: self.access_ttl,
        });
        match jwt {
            Ok(jwt) if problems.is_empty() => Ok(SecurityConfig {
                inner: Arc::new(Inner {
                    mode: self.mode,
                    key_source: self.key_source,
                    jwt,
                    trusted_proxies: self.trusted_proxies,
                    limits: Limits::default(),
                    idempotency: Idempotency::default(),
                    revocations: Revocations::default(),
                    fresh_login: self.fresh_login,
                    plain_http: self.plain_http,
                    shared: self.shared,
                }),
            }),
            Ok(_) => Err(ConfigError { problems }),
            Err(problem) => {
                problems.push(problem);
                Err(ConfigError { problems })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn dev_mode_generates_a_key_when_none_is_set() {
        let config = SecurityConfig::from_lookup(lookup(&[]));
        assert!(
            matches!(&config, Ok(c) if c.key_source() == KeySource::Generated && c.mode() == Mode::Dev)
        );
    }

    #[test]
    fn prod_mode_refuses_missing_or_short_secrets_with_one_line_each() {
        let missing = SecurityConfig::from_lookup(lookup(&[("SECURE_API_MODE", "prod")]));
        assert!(
            matches!(&missing, Err(e) if e.problems.len() == 1 && e.problems[0].contains("not set"))
        );
        let short = SecurityConfig::from_lookup(lookup(&[
            ("SECURE_API_MODE", "prod"),
            ("SECURE_API_JWT_SECRET", "0123456789"),
            ("SECURE_API_JWT_LEEWAY_SECS", "600"),
        ]));
        assert!(
            matches!(&short, Err(e) if e.problems.len() == 2),
            "{short:?}"
        );
    }

    #[test]
    fn unknown_mode_and_bad_numbers_are_reported() {
        let result = SecurityConfig::from_lookup(lookup(&[
            ("SECURE_API_MODE", "staging"),
            (
                "SECURE_API_JWT_SECRET",
                "a secret that is long enough for production",
            ),
            ("SECURE_API_ACCESS_TOKEN_TTL_SECS", "soon"),
        ]));
        assert!(
            matches!(&result, Err(e) if e.problems.len() == 2),
            "{result:?}"
        );
    }

    #[test]
    fn previous_secrets_keep_verifying_by_kid() {
        let old = SecurityConfig::from_lookup(lookup(&[
            (
                "SECURE_API_JWT_SECRET",
                "the old secret which is long enough",
            ),
            ("SECURE_API_JWT_KID", "v1"),
        ]));
        let new = SecurityConfig::from_lookup(lookup(&[
            (
                "SECURE_API_JWT_SECRET",
                "the new secret which is long enough",
            ),
            ("SECURE_API_JWT_KID", "v2"),
            (
                "SECURE_API_JWT_PREVIOUS_SECRETS",
                "v1=the old secret which is long enough",
            ),
        ]));
        let (Ok(old), Ok(new)) = (old, new) else {
            panic!("valid configurations")
        };
        let token = old
            .issue_access_token("5", &[])
            .map(|t| t.token)
            .unwrap_or_default();
        assert!(new.verify_access_token(&token).is_ok());
    }

    fn settings_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("secure-api-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("settings file");
        path
    }

    #[test]
    fn a_settings_file_fills_what_the_environment_leaves_unset() {
        let file = settings_file(
            "good.toml",
            "mode = \"prod\"\njwt_secret = \"a production secret of at least 32 bytes\"\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\nfresh_login_secs = 60\n",
        );
        let config = SecurityConfig::from_file_and_lookup(Some(&file), |_| None).expect("valid");
        assert_eq!(config.mode(), Mode::Prod);
        assert_eq!(config.trusted_proxies().len(), 2);
        assert_eq!(config.fresh_login(), Duration::from_secs(60));
        let overridden = SecurityConfig::from_file_and_lookup(Some(&file), |name| {
            (name == "SECURE_API_FRESH_LOGIN_SECS").then(|| "90".to_owned())
        })
        .expect("valid");
        assert_eq!(overridden.fresh_login(), Duration::from_secs(90));
    }

    #[test]
    fn a_bad_settings_file_names_the_key_never_the_value() {
        let file = settings_file(
            "bad.toml",
            "jwt_secert = \"hunter2hunter2\"\nmode = { a = 1 }\n",
        );
        let error =
            SecurityConfig::from_file_and_lookup(Some(&file), |_| None).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("unknown setting `jwt_secert`"), "{text}");
        assert!(text.contains("`mode` must be text"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let broken = settings_file("broken.toml", "jwt_secret = \"hunter2 unterminated\n");
        let text = SecurityConfig::from_file_and_lookup(Some(&broken), |_| None)
            .expect_err("refused")
            .to_string();
        assert!(
            text.contains("not a TOML table") && !text.contains("hunter2"),
            "{text}"
        );
        let missing = std::path::Path::new("/nonexistent/secure-api.toml");
        assert!(SecurityConfig::from_file_and_lookup(Some(missing), |_| None).is_err());
    }

    #[test]
    fn production_refuses_well_known_secrets() {
        for secret in [
            "a-string-secret-at-least-256-bits-long",
            "your-256-bit-secret",
            &"x".repeat(40),
        ] {
            let config = SecurityConfig::builder(Mode::Prod)
                .key(JwtKey::hs256(secret.as_bytes().to_vec()))
                .build();
            let error = config.expect_err("refused").to_string();
            assert!(error.contains("well-known default"), "{secret}: {error}");
        }
    }

    #[test]
    fn debug_output_has_no_secret() {
        let config = SecurityConfig::from_lookup(lookup(&[(
            "SECURE_API_JWT_SECRET",
            "hunter2-hunter2-hunter2-hunter2!",
        )]));
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
