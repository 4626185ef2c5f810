//! Builds a [`SecurityConfig`] in code, and checks every setting, whichever
//! source it came from.

use std::sync::Arc;
use std::time::Duration;

use super::{
    ConfigError, DEFAULT_FRESH_LOGIN, KeySource, MIN_PROD_SECRET_BYTES, Mode, PlainHttp,
    SecurityConfig, Settings,
};
use crate::auth::jwt::{Jwt, JwtKey, JwtSettings};
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
    pub(super) problems: Vec<String>,
    trusted_proxies: Vec<Cidr>,
    proxy_header: ProxyHeader,
    fresh_login: Duration,
    plain_http: PlainHttp,
    shared: Option<Shared>,
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
            problems: Vec::new(),
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::default(),
            fresh_login: DEFAULT_FRESH_LOGIN,
            plain_http: PlainHttp::Refuse,
            shared: None,
        }
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
                settings: Arc::new(Settings {
                    mode: self.mode,
                    mode_chosen: self.mode_chosen,
                    key_source: self.key_source,
                    jwt,
                    trusted_proxies: self.trusted_proxies,
                    proxy_header: self.proxy_header,
                    fresh_login: self.fresh_login,
                    plain_http: self.plain_http,
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
}
