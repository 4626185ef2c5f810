//! The example's environment: where to listen, which database, and the
//! security configuration (with a dev signing key kept in a file so the
//! `token` command and the server agree).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::{ConfigError, KeySource, Mode, SecurityConfig};

/// The example's settings.
#[derive(Debug)]
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
}

/// The file that keeps the dev-mode signing key between runs.
pub const DEV_KEY_FILE: &str = "example-app.dev-key";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok();
        let mut security = SecurityConfig::from_env()?;
        let mut key_origin = "SECURE_API_JWT_SECRET".to_owned();
        if security.key_source() == KeySource::Generated && security.mode() == Mode::Dev {
            let path = var("EXAMPLE_DEV_KEY_FILE")
                .map_or_else(|| PathBuf::from(DEV_KEY_FILE), PathBuf::from);
            let secret = dev_key(&path).map_err(|e| ConfigError {
                problems: vec![format!("dev signing key file {}: {e}", path.display())],
            })?;
            let mut builder = SecurityConfig::builder(Mode::Dev).key(JwtKey::hs256(secret));
            if let Some(issuer) = var("SECURE_API_JWT_ISSUER") {
                builder = builder.issuer(issuer);
            }
            if let Some(audience) = var("SECURE_API_JWT_AUDIENCE") {
                builder = builder.audience(audience);
            }
            security = builder.build()?;
            key_origin = format!(
                "a random key generated for dev mode, kept in {}",
                path.display()
            );
        }
        Ok(Self {
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://example-app.db".to_owned()),
            admin_password: var("EXAMPLE_ADMIN_PASSWORD"),
            security,
            key_origin,
        })
    }
}

/// Reads the dev key at `path`, or generates 32 random bytes and writes
/// them there (readable by the owner only).
fn dev_key(path: &Path) -> std::io::Result<Vec<u8>> {
    match fs::read(path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(bytes),
        Ok(_) => {
            return Err(std::io::Error::other(
                "holds fewer than 32 bytes; delete it to generate a new key",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(&secret)?;
    Ok(secret)
}
