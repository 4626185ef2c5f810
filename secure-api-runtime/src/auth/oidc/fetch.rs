//! The thread that fetches every issuer's discovery document and key set:
//! at start, then every refresh period (sooner when the answer's
//! `Cache-Control: max-age` says so, never sooner than the cooldown), and
//! when a token names a key the set does not hold. A failed fetch keeps the
//! last good keys and logs a warning at most once a minute per issuer.
//!
//! The thread runs its own single-threaded Tokio runtime, so the HTTP
//! client's connections never depend on an actix worker; requests talk to
//! it through a channel and a watch, which work from any runtime.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::keys::{KeySet, parse_key_set};
use super::{Issuer, OidcSettings, check_url};

/// Connect timeout of one fetch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Whole-answer timeout of one fetch.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(4);
/// The largest discovery document or key set read.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The least time between two warnings about one issuer.
const WARNING_EVERY: Duration = Duration::from_secs(60);

pub(super) fn spawn(
    issuers: Vec<Arc<Issuer>>,
    settings: Arc<OidcSettings>,
    woken: mpsc::UnboundedReceiver<usize>,
) {
    let started = std::thread::Builder::new()
        .name("secure-api-oidc".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let client = reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(TOTAL_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("secure-api/", env!("CARGO_PKG_VERSION")))
                .build();
            match (runtime, client) {
                (Ok(runtime), Ok(client)) => {
                    runtime.block_on(run(client, issuers, settings, woken));
                }
                (Err(e), _) => tracing::error!(target: "secure_api", error = %e, "the OpenID key thread could not start its runtime: provider tokens answer 503"),
                (_, Err(e)) => tracing::error!(target: "secure_api", error = %e, "the OpenID key thread could not build its HTTP client: provider tokens answer 503"),
            }
        });
    if let Err(e) = started {
        tracing::error!(target: "secure_api", error = %e, "the OpenID key thread could not start: provider tokens answer 503");
    }
}

async fn run(
    client: reqwest::Client,
    issuers: Vec<Arc<Issuer>>,
    settings: Arc<OidcSettings>,
    mut woken: mpsc::UnboundedReceiver<usize>,
) {
    let mut jwks_uris: Vec<Option<String>> = vec![None; issuers.len()];
    let mut due = vec![Instant::now(); issuers.len()];
    loop {
        for (index, issuer) in issuers.iter().enumerate() {
            if due[index] <= Instant::now() {
                // A scheduled refresh reads the discovery document again.
                jwks_uris[index] = None;
                due[index] = refresh(&client, issuer, &settings, &mut jwks_uris[index]).await;
            }
        }
        let Some(next) = due.iter().min().copied() else {
            return;
        };
        match tokio::time::timeout_at(next.into(), woken.recv()).await {
            // The configuration is gone: so is every request that could ask.
            Ok(None) => return,
            Ok(Some(index)) => {
                if let (Some(issuer), Some(uri)) = (issuers.get(index), jwks_uris.get_mut(index)) {
                    due[index] = refresh(&client, issuer, &settings, uri).await;
                }
            }
            Err(_elapsed) => {}
        }
    }
}

/// Fetches one issuer's keys, publishes them (or keeps the last good ones),
/// wakes the requests waiting, and says when to fetch next.
async fn refresh(
    client: &reqwest::Client,
    issuer: &Issuer,
    settings: &OidcSettings,
    jwks_uri: &mut Option<String>,
) -> Instant {
    issuer.in_flight.store(true, Ordering::Release);
    let outcome = fetch(client, issuer, settings, jwks_uri).await;
    let now = Instant::now();
    let next = match outcome {
        Ok((set, max_age)) => {
            crate::observe::metrics::key_set_fetch(issuer.url.as_str(), "loaded");
            let first = issuer.keys().is_none();
            tracing::info!(
                target: "secure_api",
                issuer = %issuer.url,
                keys = set.keys.len(),
                ignored = set.ignored,
                first,
                "OpenID provider keys loaded"
            );
            *issuer
                .keys
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(set));
            let wait = max_age.map_or(settings.refresh, |age| {
                settings.refresh.min(age.max(settings.refetch_cooldown))
            });
            now + wait
        }
        Err(reason) => {
            crate::observe::metrics::key_set_fetch(issuer.url.as_str(), "failed");
            warn(issuer, &reason, now);
            now + settings.refresh.min(settings.refetch_cooldown)
        }
    };
    issuer.in_flight.store(false, Ordering::Release);
    issuer.fetched.send_modify(|count| *count += 1);
    next
}

fn warn(issuer: &Issuer, reason: &str, now: Instant) {
    let mut last = issuer
        .last_warning
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.is_some_and(|at| now.duration_since(at) < WARNING_EVERY) {
        return;
    }
    *last = Some(now);
    let keeping = if issuer.keys().is_some() {
        "the last good keys stay in use"
    } else {
        "its tokens answer 503 until its keys load"
    };
    tracing::warn!(
        target: "secure_api",
        issuer = %issuer.url,
        reason,
        "OpenID provider keys could not be fetched: {keeping}"
    );
}

/// The discovery document (when the key set's address is not known yet),
/// then the key set, with how long the key set's answer may be kept.
async fn fetch(
    client: &reqwest::Client,
    issuer: &Issuer,
    settings: &OidcSettings,
    jwks_uri: &mut Option<String>,
) -> Result<(KeySet, Option<Duration>), String> {
    let uri = match jwks_uri.clone() {
        Some(uri) => uri,
        None => {
            let uri = discover(client, issuer, settings).await?;
            *jwks_uri = Some(uri.clone());
            uri
        }
    };
    let (body, max_age) = get(client, &uri).await?;
    let set = parse_key_set(&body)?;
    Ok((set, max_age))
}

/// The `jwks_uri` of the issuer's discovery document, whose `issuer` must
/// be the configured URL exactly.
async fn discover(
    client: &reqwest::Client,
    issuer: &Issuer,
    settings: &OidcSettings,
) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let address = format!(
        "{}/.well-known/openid-configuration",
        issuer.url.trim_end_matches('/')
    );
    let (body, _) = get(client, &address).await?;
    let discovery: Discovery = serde_json::from_slice(&body).map_err(|_| {
        format!("{address} is not an OpenID discovery document with `issuer` and `jwks_uri`")
    })?;
    if discovery.issuer != issuer.url {
        return Err(format!(
            "{address} names the issuer `{}`, not the configured `{}`",
            discovery.issuer, issuer.url
        ));
    }
    check_url(&discovery.jwks_uri, settings.loopback_http)
        .map_err(|reason| format!("its jwks_uri {reason}"))?;
    Ok(discovery.jwks_uri)
}

/// A `GET` of a JSON document of at most [`MAX_DOCUMENT_BYTES`], and its
/// `Cache-Control: max-age`.
async fn get(
    client: &reqwest::Client,
    address: &str,
) -> Result<(Vec<u8>, Option<Duration>), String> {
    let mut response = client
        .get(address)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("{address}: {}", describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{address} answered {status}"));
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(format!(
            "{address} is larger than {MAX_DOCUMENT_BYTES} bytes"
        ));
    }
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .and_then(max_age);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{address}: {}", describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "{address} is larger than {MAX_DOCUMENT_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "redirected (not followed)"
    } else {
        "the request failed"
    }
}

/// `max-age` of a `Cache-Control` value; `no-store`/`no-cache` count as 0.
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|directive| {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        lower
            .strip_prefix("max-age=")
            .and_then(|secs| secs.trim_matches('"').parse().ok())
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=120"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
