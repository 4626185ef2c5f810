//! The example's environment: where to listen, which database, and the
//! security configuration (with a dev signing key kept in a file so the
//! `token` command and the server agree).

use std::path::PathBuf;

use secure_api_runtime::auth::{Argon2Params, PasswordPolicy, SymbolRule};
use secure_api_runtime::config::redact_url;
use secure_api_runtime::observe::Telemetry;
use secure_api_runtime::{ConfigError, KeySource, Mode, SecurityConfig};

use secure_api_runtime::webhook::WebhookKeys;

use crate::auth::AuthOptions;

/// The example's settings. `Debug` shows no secret: the admin password only
/// as set or not, URLs without their credentials.
pub struct Settings {
    /// `BIND`, default `127.0.0.1:8080`.
    pub bind: String,
    /// `DATABASE_URL`, default `sqlite://example-app.db`.
    pub database_url: String,
    /// `EXAMPLE_ADMIN_PASSWORD`: creates `admin` at start when set.
    pub admin_password: Option<String>,
    /// The security configuration.
    pub security: SecurityConfig,
    /// Where the dev signing key came from, for the start-up line.
    pub key_origin: String,
    /// Password hashing and policy.
    pub auth: AuthOptions,
    /// `TLS_CERT` and `TLS_KEY`: PEM files; the app then serves HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `FETCH_ALLOWED_HOSTS`: the hosts `/api/fetch-metadata` may call.
    pub fetch_allowed_hosts: Vec<String>,
    /// `PAYMENT_WEBHOOK_SECRET`: Standard Webhooks `whsec_` secrets, comma
    /// separated, current first.
    pub payment_webhook: Option<WebhookKeys>,
    /// `RUST_LOG`, checked in production.
    pub log_filter: Option<String>,
    /// `SECURE_API_LOG_FORMAT` and `SECURE_API_METRICS_BIND`.
    pub telemetry: Telemetry,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "[redacted]"),
            )
            .field("security", &self.security)
            .field("key_origin", &self.key_origin)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("fetch_allowed_hosts", &self.fetch_allowed_hosts)
            .field("payment_webhook", &self.payment_webhook)
            .field("log_filter", &self.log_filter)
            .field("telemetry", &self.telemetry)
            .finish()
    }
}

/// The file that keeps the dev-mode signing key between runs.
pub const DEV_KEY_FILE: &str = "example-app.dev-key";

impl Settings {
    /// Reads the process environment (and the `SECURE_API_CONFIG` file),
    /// reporting every problem at once.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok();
        let mut problems = Vec::new();
        let auth_and_tls = auth_and_tls(&var)
            .map_err(|e| problems.extend(e.problems))
            .ok();
        let payment_webhook = var("PAYMENT_WEBHOOK_SECRET").and_then(|secrets| {
            WebhookKeys::standard(&secrets)
                .map_err(|e| problems.push(format!("PAYMENT_WEBHOOK_SECRET: {e}")))
                .ok()
        });
        let security = security(&var).map_err(|e| problems.extend(e.problems)).ok();
        let telemetry = Telemetry::from_lookup(var)
            .map_err(|e| problems.extend(e.problems))
            .unwrap_or_default();
        let (Some((auth, tls)), Some((security, key_origin))) = (auth_and_tls, security) else {
            return Err(ConfigError { problems });
        };
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let fetch_allowed_hosts = var("FETCH_ALLOWED_HOSTS")
            .map(|hosts| {
                hosts
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://example-app.db".to_owned()),
            admin_password: var("EXAMPLE_ADMIN_PASSWORD"),
            security,
            key_origin,
            auth,
            tls,
            fetch_allowed_hosts,
            payment_webhook,
            log_filter: var("RUST_LOG"),
            telemetry,
        })
    }

    /// What production mode refuses beyond the security configuration's own
    /// checks, one line each: a missing payment webhook secret, HTTPS
    /// neither served nor behind a trusted proxy, debug logging. Empty in
    /// dev mode.
    pub fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.security.mode() != Mode::Prod {
            return problems;
        }
        if self.payment_webhook.is_none() {
            problems.push(
                "PAYMENT_WEBHOOK_SECRET is not set: production needs the payment webhook's secret"
                    .to_owned(),
            );
        }
        if self.tls.is_none() && self.security.trusted_proxies().is_empty() {
            problems.push(
                "neither TLS_CERT and TLS_KEY nor SECURE_API_TRUSTED_PROXIES is set: production is served over HTTPS, here or by a trusted proxy"
                    .to_owned(),
            );
        }
        if let Some(filter) = &self.log_filter {
            let lower = filter.to_ascii_lowercase();
            if lower.contains("debug") || lower.contains("trace") {
                problems.push(
                    "RUST_LOG turns on debug logging: production logs at info or above".to_owned(),
                );
            }
        }
        problems
    }

    /// What the security configuration says of serving on `BIND`: without
    /// `SECURE_API_MODE`, loopback only. An address that does not resolve is
    /// left to the listener to report.
    pub fn bind_problems(&self) -> Vec<String> {
        use std::net::ToSocketAddrs as _;
        let Ok(addrs) = self.bind.to_socket_addrs() else {
            return Vec::new();
        };
        let addrs: Vec<_> = addrs.collect();
        self.security
            .check_bind(&addrs)
            .err()
            .map(|e| e.problems)
            .unwrap_or_default()
    }
}

/// The security configuration; in dev mode without a secret, the generated
/// key is kept in [`DEV_KEY_FILE`] (or `EXAMPLE_DEV_KEY_FILE`) so the server
/// and the `token` command agree.
fn security(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<(SecurityConfig, String), ConfigError> {
    let file = var("SECURE_API_CONFIG").map(PathBuf::from);
    let security = SecurityConfig::from_file_and_lookup(file.as_deref(), |name| match name {
        "SECURE_API_DEV_KEY_FILE" => var("SECURE_API_DEV_KEY_FILE")
            .or_else(|| var("EXAMPLE_DEV_KEY_FILE"))
            .or_else(|| Some(DEV_KEY_FILE.to_owned())),
        _ => var(name),
    })?;
    let source = match security.dev_key_file() {
        Some(path) if security.key_source() == KeySource::Generated => format!(
            "a random key generated for dev mode, kept in {}",
            path.display()
        ),
        _ if security.key_source() == KeySource::Generated => {
            "a random key generated for dev mode, in memory only".to_owned()
        }
        _ => "SECURE_API_JWT_SECRET".to_owned(),
    };
    Ok((security, source))
}

/// `SECURE_API_ARGON2_{MEMORY_KIB,ITERATIONS,PARALLELISM}` (OWASP's values by
/// default, never below them), `SECURE_API_PASSWORD_REQUIRE_SYMBOL`
/// (`true`/`false`), `TLS_CERT` and `TLS_KEY`; one line per problem.
fn auth_and_tls(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<(AuthOptions, Option<(PathBuf, PathBuf)>), ConfigError> {
    let mut problems = Vec::new();
    let mut number = |name: &str, default: u32| match var(name) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            problems.push(format!("{name} is `{text}`: expected a whole number"));
            default
        }),
    };
    let argon2 = Argon2Params {
        memory_kib: number(
            "SECURE_API_ARGON2_MEMORY_KIB",
            Argon2Params::OWASP.memory_kib,
        ),
        iterations: number(
            "SECURE_API_ARGON2_ITERATIONS",
            Argon2Params::OWASP.iterations,
        ),
        parallelism: number(
            "SECURE_API_ARGON2_PARALLELISM",
            Argon2Params::OWASP.parallelism,
        ),
    };
    if let Err(problem) = argon2.validate() {
        problems.push(problem);
    }
    let symbols = match var("SECURE_API_PASSWORD_REQUIRE_SYMBOL").as_deref() {
        None | Some("false") => SymbolRule::NotRequired,
        Some("true") => SymbolRule::Required,
        Some(other) => {
            problems.push(format!(
                "SECURE_API_PASSWORD_REQUIRE_SYMBOL is `{other}`: use `true` or `false`"
            ));
            SymbolRule::NotRequired
        }
    };
    let tls = match (var("TLS_CERT"), var("TLS_KEY")) {
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (None, None) => None,
        _ => {
            problems.push("TLS_CERT and TLS_KEY are set together or not at all".to_owned());
            None
        }
    };
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    let policy = PasswordPolicy::default().symbols(symbols);
    Ok((
        AuthOptions {
            argon2,
            policy,
            hash_slots: None,
        },
        tls,
    ))
}
