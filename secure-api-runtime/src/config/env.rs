//! The configuration from the process environment, or from any lookup of
//! variables, with a TOML file's settings under them.

use std::time::Duration;

use super::{ConfigError, Mode, PlainHttp, SecurityConfig};
use crate::auth::jwt::JwtKey;
use crate::net::{Cidr, ProxyHeader};
use crate::shared::{Shared, Unavailable};

/// Where dev mode without `SECURE_API_JWT_SECRET` keeps its generated key
/// unless `SECURE_API_DEV_KEY_FILE` says otherwise: in the working directory.
pub const DEFAULT_DEV_KEY_FILE: &str = "secure-api.dev-key";

impl SecurityConfig {
    /// Reads the configuration from the process environment.
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `SECURE_API_MODE` | `dev` (default, loopback addresses only; see [`SecurityConfig::check_bind`]) or `prod` |
    /// | `SECURE_API_JWT_SECRET` | HS256 secret; generated at random in dev when unset |
    /// | `SECURE_API_DEV_KEY_FILE` | dev mode without a secret: the file the generated key is kept in (mode 0600; default `secure-api.dev-key` in the working directory); empty: in memory only |
    /// | `SECURE_API_JWT_KID` | the `kid` of that secret |
    /// | `SECURE_API_JWT_PREVIOUS_SECRETS` | `kid=secret` pairs, comma separated (so without commas), still accepted |
    /// | `SECURE_API_JWT_ISSUER`, `SECURE_API_JWT_AUDIENCE` | checked only when set |
    /// | `SECURE_API_JWT_LEEWAY_SECS` | clock leeway, 0 to 60 (default 30) |
    /// | `SECURE_API_ACCESS_TOKEN_TTL_SECS` | access-token lifetime (default 900) |
    /// | `SECURE_API_TRUSTED_PROXIES` | addresses or CIDR ranges, comma separated, whose forwarding header is believed |
    /// | `SECURE_API_TRUSTED_PROXY_HEADER` | the header they write: `x-forwarded-for` (default, with `X-Forwarded-Proto`) or `forwarded`; the other is ignored |
    /// | `SECURE_API_FRESH_LOGIN_SECS` | how long a password login counts as fresh for `#[authenticated(fresh)]` (default 300) |
    /// | `SECURE_API_PLAIN_HTTP` | prod mode, request not over TLS: `refuse` (403, default) or `redirect` (308 for `GET`/`HEAD`) |
    /// | `REDIS_URL` | a Redis shared by every instance for limits, revocations and webhook replays (in memory per process when unset) |
    /// | `SECURE_API_OIDC_ISSUERS` | OpenID provider issuer URLs, comma separated, whose access tokens are accepted (keys by discovery) |
    /// | `SECURE_API_OIDC_AUDIENCE` | the audience their tokens must name; required with issuers |
    /// | `SECURE_API_OIDC_REFRESH_SECS` | how often their keys are fetched again (default 300, sooner when `Cache-Control` says) |
    /// | `SECURE_API_OIDC_REFETCH_COOLDOWN_SECS` | least time between two fetches caused by an unknown `kid` (default 30) |
    /// | `SECURE_API_OIDC_ROLES_CLAIM` | the claim holding roles, or a dotted path (default `roles`; Keycloak: `realm_access.roles`) |
    /// | `SECURE_API_OIDC_REQUIRE_AT_JWT` | `true`: provider tokens must carry `typ: at+jwt` (RFC 9068) |
    /// | `SECURE_API_DOCS` | `on`: serve the API explorer page ([`docs`](crate::docs)) in production too; `off` (default): not in production (dev mode always serves it) |
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
            Some(path) => super::file::read_settings_file(path)?,
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
        if lookup("SECURE_API_MODE").is_none() {
            builder = builder.mode_by_default();
        }
        match lookup("SECURE_API_JWT_SECRET") {
            Some(secret) => {
                let mut key = JwtKey::hs256(secret.into_bytes());
                if let Some(kid) = lookup("SECURE_API_JWT_KID") {
                    key = key.with_kid(kid);
                }
                builder = builder.key(key);
            }
            None if mode == Mode::Dev => {
                builder = match lookup("SECURE_API_DEV_KEY_FILE") {
                    Some(path) if path.is_empty() => builder.generated_key(),
                    Some(path) => builder.dev_key_file(path),
                    None => builder.dev_key_file(DEFAULT_DEV_KEY_FILE),
                }
            }
            // Tokens from OpenID providers only: the application signs none.
            None if lookup("SECURE_API_OIDC_ISSUERS").is_some_and(|v| !v.trim().is_empty()) => {}
            None => problems.push(
                "SECURE_API_JWT_SECRET is not set: production needs a signing secret (or SECURE_API_OIDC_ISSUERS, to accept only a provider's tokens)".to_owned(),
            ),
        }
        builder = oidc_from_lookup(builder, &lookup, &mut problems);
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
        match lookup("SECURE_API_DOCS").as_deref() {
            None => {}
            Some("on") => builder = builder.docs(true),
            Some("off") => builder = builder.docs(false),
            Some(other) => {
                problems.push(format!("SECURE_API_DOCS is `{other}`: use `on` or `off`"))
            }
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
        if let Some(header) = lookup("SECURE_API_TRUSTED_PROXY_HEADER") {
            match header.parse::<ProxyHeader>() {
                Ok(header) => builder = builder.proxy_header(header),
                Err(reason) => problems.push(format!("SECURE_API_TRUSTED_PROXY_HEADER: {reason}")),
            }
        }
        if builder.keys.is_empty() && builder.oidc_issuers.is_empty() {
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
}

/// The `SECURE_API_OIDC_*` variables.
fn oidc_from_lookup(
    mut builder: super::SecurityConfigBuilder,
    lookup: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> super::SecurityConfigBuilder {
    if let Some(issuers) = lookup("SECURE_API_OIDC_ISSUERS") {
        for issuer in issuers.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            builder = builder.oidc_issuer(issuer);
        }
    }
    if let Some(audience) = lookup("SECURE_API_OIDC_AUDIENCE") {
        builder = builder.oidc_audience(audience);
    }
    for (name, set) in [
        (
            "SECURE_API_OIDC_REFRESH_SECS",
            super::SecurityConfigBuilder::oidc_refresh as fn(_, _) -> _,
        ),
        (
            "SECURE_API_OIDC_REFETCH_COOLDOWN_SECS",
            super::SecurityConfigBuilder::oidc_refetch_cooldown,
        ),
    ] {
        if let Some(value) = lookup(name) {
            match value.parse() {
                Ok(secs) if secs > 0 => builder = set(builder, Duration::from_secs(secs)),
                _ => problems.push(format!(
                    "{name} is `{value}`: expected whole seconds above 0"
                )),
            }
        }
    }
    if let Some(claim) = lookup("SECURE_API_OIDC_ROLES_CLAIM") {
        builder = builder.oidc_roles_claim(claim);
    }
    match lookup("SECURE_API_OIDC_REQUIRE_AT_JWT").as_deref() {
        None | Some("false") => {}
        Some("true") => builder = builder.oidc_require_at_jwt(true),
        Some(other) => problems.push(format!(
            "SECURE_API_OIDC_REQUIRE_AT_JWT is `{other}`: use `true` or `false`"
        )),
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeySource;

    /// `vars` as the environment; a generated dev key stays in memory
    /// unless `vars` names a file.
    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| (name == "SECURE_API_DEV_KEY_FILE").then(String::new))
        }
    }

    #[test]
    fn dev_mode_generates_a_key_in_memory_when_told_to() {
        let config = SecurityConfig::from_lookup(lookup(&[("SECURE_API_DEV_KEY_FILE", "")]));
        assert!(
            matches!(&config, Ok(c) if c.key_source() == KeySource::Generated
            && c.mode() == Mode::Dev
            && c.dev_key_file().is_none())
        );
    }

    #[test]
    fn dev_mode_keeps_its_generated_key_in_a_file_of_the_owner_across_starts() {
        let dir = std::env::temp_dir().join(format!("secure-api-dev-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let path = dir.join("key");
        let _ = std::fs::remove_file(&path);
        let path_text = path.display().to_string();
        let config = |path: &str| {
            let path = path.to_owned();
            SecurityConfig::from_lookup(move |name| {
                (name == "SECURE_API_DEV_KEY_FILE").then(|| path.clone())
            })
            .expect("a dev configuration")
        };
        let first = config(&path_text);
        assert_eq!(first.dev_key_file(), Some(path.as_path()));
        let token = first
            .issue_access_token("7", &[])
            .expect("a dev key signs")
            .token;
        // The next start reads the same key: the token still verifies.
        let second = config(&path_text);
        assert_eq!(
            second
                .verify_access_token(&token)
                .map(|p| p.sub)
                .ok()
                .as_deref(),
            Some("7")
        );
        assert_eq!(std::fs::read(&path).map(|key| key.len()).ok(), Some(32));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        // A truncated file is a problem naming it, not a new key.
        std::fs::write(&path, b"short").expect("the scratch file");
        let error = SecurityConfig::from_lookup(|name| {
            (name == "SECURE_API_DEV_KEY_FILE").then(|| path_text.clone())
        })
        .expect_err("a short key file is refused");
        assert!(error.to_string().contains("fewer than 32 bytes"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
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
    fn the_proxy_header_is_one_of_two_names() {
        let forwarded = SecurityConfig::from_lookup(lookup(&[(
            "SECURE_API_TRUSTED_PROXY_HEADER",
            "forwarded",
        )]));
        assert!(matches!(&forwarded, Ok(c) if c.proxy_header() == ProxyHeader::Forwarded));
        let default = SecurityConfig::from_lookup(lookup(&[]));
        assert!(matches!(&default, Ok(c) if c.proxy_header() == ProxyHeader::XForwardedFor));
        let wrong = SecurityConfig::from_lookup(lookup(&[(
            "SECURE_API_TRUSTED_PROXY_HEADER",
            "x-real-ip",
        )]));
        assert!(
            matches!(&wrong, Err(e) if e.problems.len() == 1 && e.problems[0].contains("SECURE_API_TRUSTED_PROXY_HEADER")),
            "{wrong:?}"
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
