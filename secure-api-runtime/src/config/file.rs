//! The TOML settings file named by `SECURE_API_CONFIG`, read through
//! figment into the text each variable would hold.

use super::ConfigError;

/// The settings a file may hold: the variables' names without the prefix.
const FILE_SETTINGS: [&str; 20] = [
    "mode",
    "jwt_secret",
    "jwt_kid",
    "jwt_previous_secrets",
    "jwt_issuer",
    "jwt_audience",
    "jwt_leeway_secs",
    "access_token_ttl_secs",
    "trusted_proxies",
    "trusted_proxy_header",
    "fresh_login_secs",
    "plain_http",
    "docs",
    "redis_unavailable",
    "oidc_issuers",
    "oidc_audience",
    "oidc_refresh_secs",
    "oidc_refetch_cooldown_secs",
    "oidc_roles_claim",
    "oidc_require_at_jwt",
];

/// Reads a TOML settings file into the text each variable would hold.
/// Errors name the file and the key, never a value.
pub(super) fn read_settings_file(
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

#[cfg(test)]
mod tests {
    use crate::config::{Mode, SecurityConfig};
    use std::time::Duration;

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
}
