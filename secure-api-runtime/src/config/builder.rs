//! Builds a [`SecurityConfig`] in code, and checks every setting, whichever
//! source it came from.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{
    ConfigError, DEFAULT_FRESH_LOGIN, KeySource, MIN_PROD_SECRET_BYTES, Mode, PlainHttp,
    SecurityConfig, Settings,
};
use crate::auth::jwt::{Jwt, JwtKey, JwtSettings};
use crate::auth::oidc::{self, OidcSettings, Providers};
use crate::net::{Cidr, ProxyHeader};
use crate::shared::Shared;
use crate::store::Stores;
use crate::util::random_bytes;

/// Builds a [`SecurityConfig`]; see [`SecurityConfig::builder`].
#[derive(Debug)]
pub struct SecurityConfigBuilder {
    mode: Mode,
    mode_chosen: bool,
    pub(super) keys: Vec<JwtKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    access_ttl: Duration,
    key_source: KeySource,
    dev_key_file: Option<PathBuf>,
    pub(super) problems: Vec<String>,
    trusted_proxies: Vec<Cidr>,
    proxy_header: ProxyHeader,
    fresh_login: Duration,
    plain_http: PlainHttp,
    docs: Option<bool>,
    shared: Option<Shared>,
    pub(super) oidc_issuers: Vec<String>,
    oidc_audience: Option<String>,
    oidc_refresh: Duration,
    oidc_refetch_cooldown: Duration,
    oidc_roles_claim: String,
    oidc_require_at_jwt: bool,
}

impl SecurityConfigBuilder {
    pub(super) fn new(mode: Mode) -> Self {
        Self {
            mode,
            mode_chosen: true,
            keys: Vec::new(),
            issuer: None,
            audience: None,
            leeway: 30,
            access_ttl: Duration::from_secs(15 * 60),
            key_source: KeySource::Configured,
            dev_key_file: None,
            problems: Vec::new(),
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::default(),
            fresh_login: DEFAULT_FRESH_LOGIN,
            plain_http: PlainHttp::Refuse,
            docs: None,
            shared: None,
            oidc_issuers: Vec::new(),
            oidc_audience: None,
            oidc_refresh: oidc::DEFAULT_REFRESH,
            oidc_refetch_cooldown: oidc::DEFAULT_REFETCH_COOLDOWN,
            oidc_roles_claim: oidc::DEFAULT_ROLES_CLAIM.to_owned(),
            oidc_require_at_jwt: false,
        }
    }

    /// Accepts access tokens of the OpenID provider at `issuer` (its `iss`,
    /// exactly): its keys come from `<issuer>/.well-known/openid-configuration`
    /// and its `jwks_uri`. Needs [`SecurityConfigBuilder::oidc_audience`].
    /// Production needs `https`; dev mode also allows `http` to loopback.
    #[must_use]
    pub fn oidc_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.oidc_issuers.push(issuer.into());
        self
    }

    /// The audience (`aud`) every provider token must name: this API's
    /// identifier at the providers.
    #[must_use]
    pub fn oidc_audience(mut self, audience: impl Into<String>) -> Self {
        self.oidc_audience = Some(audience.into());
        self
    }

    /// How often the providers' keys are fetched again (default 300 s;
    /// sooner when their answer's `Cache-Control: max-age` is shorter).
    #[must_use]
    pub fn oidc_refresh(mut self, every: Duration) -> Self {
        self.oidc_refresh = every;
        self
    }

    /// The least time between two fetches caused by tokens naming an
    /// unknown `kid` (default 30 s).
    #[must_use]
    pub fn oidc_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.oidc_refetch_cooldown = cooldown;
        self
    }

    /// The claim holding a provider token's roles: a name, or a dotted path
    /// such as Keycloak's `realm_access.roles` (default `roles`).
    #[must_use]
    pub fn oidc_roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.oidc_roles_claim = claim.into();
        self
    }

    /// Requires provider tokens to be RFC 9068 access tokens
    /// (`typ: at+jwt`), refusing ID tokens and other JWTs outright.
    #[must_use]
    pub fn oidc_require_at_jwt(mut self, required: bool) -> Self {
        self.oidc_require_at_jwt = required;
        self
    }

    /// The mode is the default, not the operator's choice (no
    /// `SECURE_API_MODE`): only loopback addresses are served.
    pub(super) fn mode_by_default(mut self) -> Self {
        self.mode_chosen = false;
        self
    }

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

    /// Whether a production application serves its API explorer page
    /// ([`docs`](crate::docs)); dev mode always serves it.
    #[must_use]
    pub fn docs(mut self, serve: bool) -> Self {
        self.docs = Some(serve);
        self
    }

    /// Addresses or ranges of proxies whose forwarding header (see
    /// [`SecurityConfigBuilder::proxy_header`]) is believed for the client
    /// address and protocol.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = Cidr>) -> Self {
        self.trusted_proxies.extend(proxies);
        self
    }

    /// The forwarding header the trusted proxies write (default
    /// `X-Forwarded-For` with `X-Forwarded-Proto`); the other family is
    /// ignored, whoever sent it.
    #[must_use]
    pub fn proxy_header(mut self, header: ProxyHeader) -> Self {
        self.proxy_header = header;
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

    /// Adds the HS256 key kept in the file at `path` (dev mode only; refused
    /// in prod by `build`): 32 random bytes written there, readable by the
    /// owner only, when the file does not exist yet; read back at every
    /// later start, so tokens survive a restart and every process of the
    /// same directory signs alike. Keep the file out of version control.
    #[must_use]
    pub fn dev_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        if self.mode == Mode::Prod {
            // `build` refuses a generated key in prod; no file is written.
            self.key_source = KeySource::Generated;
            return self;
        }
        match read_or_create_key(&path) {
            Ok(secret) => self.keys.push(JwtKey::hs256(secret)),
            Err(e) => self
                .problems
                .push(format!("the dev signing key file {}: {e}", path.display())),
        }
        self.key_source = KeySource::Generated;
        self.dev_key_file = Some(path);
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
    pub fn build(mut self) -> Result<SecurityConfig, ConfigError> {
        let mut problems = std::mem::take(&mut self.problems);
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
        if self.keys.is_empty() && self.oidc_issuers.is_empty() {
            problems.push(
                "no JWT key and no OpenID issuer is configured: set SECURE_API_JWT_SECRET or SECURE_API_OIDC_ISSUERS"
                    .to_owned(),
            );
        }
        let oidc = self.oidc_settings(&mut problems);
        let jwt = Jwt::new(JwtSettings {
            keys: self.keys,
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway,
            access_ttl: self.access_ttl,
        });
        match jwt {
            Ok(jwt) if problems.is_empty() => Ok(SecurityConfig {
                settings: Arc::new(Settings {
                    mode: self.mode,
                    mode_chosen: self.mode_chosen,
                    key_source: self.key_source,
                    dev_key_file: self.dev_key_file,
                    jwt,
                    trusted_proxies: self.trusted_proxies,
                    proxy_header: self.proxy_header,
                    fresh_login: self.fresh_login,
                    plain_http: self.plain_http,
                    docs: self.mode == Mode::Dev || self.docs.unwrap_or(false),
                    providers: oidc.map(Providers::start),
                }),
                stores: Arc::new(Stores::new(self.shared)),
                warned: Arc::default(),
            }),
            Ok(_) => Err(ConfigError { problems }),
            Err(problem) => {
                problems.push(problem);
                Err(ConfigError { problems })
            }
        }
    }
}

impl SecurityConfigBuilder {
    /// The checked OpenID settings, when issuers are configured.
    fn oidc_settings(&self, problems: &mut Vec<String>) -> Option<OidcSettings> {
        if self.oidc_issuers.is_empty() {
            if self.oidc_audience.is_some() {
                problems.push(
                    "SECURE_API_OIDC_AUDIENCE is set but SECURE_API_OIDC_ISSUERS is not: name the issuers whose tokens are accepted"
                        .to_owned(),
                );
            }
            return None;
        }
        let before = problems.len();
        let loopback_http = self.mode == Mode::Dev;
        for (i, issuer) in self.oidc_issuers.iter().enumerate() {
            if let Err(reason) = oidc::check_url(issuer, loopback_http) {
                problems.push(format!("SECURE_API_OIDC_ISSUERS: {reason}"));
            }
            if self.oidc_issuers[..i].contains(issuer) {
                problems.push(format!("SECURE_API_OIDC_ISSUERS names `{issuer}` twice"));
            }
            if self.issuer.as_ref() == Some(issuer) {
                problems.push(format!(
                    "SECURE_API_JWT_ISSUER is `{issuer}`, an OpenID issuer too: the application's own tokens need an issuer of their own"
                ));
            }
        }
        let audience = match self.oidc_audience.as_deref().map(str::trim) {
            Some(audience) if !audience.is_empty() => audience.to_owned(),
            _ => {
                problems.push(
                    "SECURE_API_OIDC_AUDIENCE is not set: provider tokens must name this API as their audience (an ID token's audience is a client id, and is refused)"
                        .to_owned(),
                );
                String::new()
            }
        };
        if self.oidc_refresh.is_zero() {
            problems.push("SECURE_API_OIDC_REFRESH_SECS must be above 0".to_owned());
        }
        if self.oidc_refetch_cooldown.is_zero() {
            problems.push("SECURE_API_OIDC_REFETCH_COOLDOWN_SECS must be above 0".to_owned());
        }
        let claim = self.oidc_roles_claim.trim();
        if claim.is_empty() || claim.split('.').any(str::is_empty) {
            problems.push(format!(
                "SECURE_API_OIDC_ROLES_CLAIM is `{claim}`: write a claim name or a dotted path such as `realm_access.roles`"
            ));
        }
        (problems.len() == before).then(|| OidcSettings {
            issuers: self.oidc_issuers.clone(),
            audience,
            refresh: self.oidc_refresh,
            refetch_cooldown: self.oidc_refetch_cooldown,
            roles_claim: claim.to_owned(),
            require_at_jwt: self.oidc_require_at_jwt,
            leeway: self.leeway,
            loopback_http,
        })
    }
}

/// Reads the key at `path`, or writes 32 random bytes there (mode 0600 on
/// Unix). The new key is written to a file of its own and linked into
/// place, so two processes starting at once agree on one key and neither
/// reads a half-written file.
fn read_or_create_key(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;

    let read = |path: &Path| match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 32 => Ok(Some(bytes)),
        Ok(_) => Err(std::io::Error::other(
            "holds fewer than 32 bytes; delete it to generate a new key",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    if let Some(bytes) = read(path)? {
        return Ok(bytes);
    }
    let secret = random_bytes::<32>().map_err(|e| std::io::Error::other(e.to_string()))?;
    let suffix = crate::util::random_id().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".{suffix}.new"));
    let staged = PathBuf::from(staged);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&staged)
        .and_then(|mut file| file.write_all(&secret).and_then(|()| file.sync_all()));
    let linked = written.and_then(|()| std::fs::hard_link(&staged, path));
    // The staged name goes either way; the key lives on under `path`.
    let _ = std::fs::remove_file(&staged);
    match linked {
        Ok(()) => Ok(secret.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path)?
            .ok_or_else(|| std::io::Error::other("was removed while it was being created")),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn production_refuses_a_dev_key_file_without_writing_it() {
        let path = std::env::temp_dir().join(format!("secure-api-prod-{}.key", std::process::id()));
        let error = SecurityConfig::builder(Mode::Prod)
            .dev_key_file(&path)
            .build()
            .expect_err("refused")
            .to_string();
        assert!(error.contains("dev mode only"), "{error}");
        assert!(!path.exists());
    }

    #[test]
    fn the_apps_own_issuer_is_not_a_providers_and_something_verifies() {
        let error = SecurityConfig::builder(Mode::Dev)
            .generated_key()
            .issuer("https://idp.example.com")
            .oidc_issuer("https://idp.example.com")
            .oidc_audience("orders-api")
            .build()
            .expect_err("refused")
            .to_string();
        assert!(error.contains("SECURE_API_JWT_ISSUER"), "{error}");
        let nothing = SecurityConfig::builder(Mode::Prod)
            .build()
            .expect_err("refused")
            .to_string();
        assert!(
            nothing.contains("SECURE_API_JWT_SECRET")
                && nothing.contains("SECURE_API_OIDC_ISSUERS"),
            "{nothing}"
        );
        let claim = SecurityConfig::builder(Mode::Dev)
            .generated_key()
            .oidc_issuer("https://idp.example.com")
            .oidc_audience("orders-api")
            .oidc_roles_claim("realm_access..roles")
            .build()
            .expect_err("refused")
            .to_string();
        assert!(claim.contains("SECURE_API_OIDC_ROLES_CLAIM"), "{claim}");
    }
}
