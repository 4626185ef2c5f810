//! Access tokens from OpenID providers (Keycloak, Auth0, Okta, Entra ID,
//! ...): each configured issuer's keys come from its discovery document and
//! key set, fetched at start and kept fresh by a background thread, never
//! on a request's path except for the one wait an unknown `kid` may cause.
//!
//! A token is matched to its issuer by its `iss` claim and verified with
//! that issuer's keys only. The key is chosen by the header's `kid` and
//! `alg`; the `jku`, `x5u`, `jwk` and `x5c` headers are never read, and no
//! URL from a token is ever fetched.

mod fetch;
mod keys;
pub(crate) mod metadata;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Header, Validation};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};

use keys::KeySet;
pub use keys::PROVIDER_ALGORITHMS;
pub use metadata::PATH as RESOURCE_METADATA_PATH;

use super::Principal;
use super::jwt::TokenError;
use crate::util::now_secs;

/// How often each issuer's keys are fetched again (unless its answer's
/// `Cache-Control: max-age` is shorter).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);

/// The least time between two fetches caused by tokens naming a key the
/// issuer's set does not hold.
pub const DEFAULT_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

/// How long a request waits for a key fetch its token caused or joined.
pub const KEY_WAIT: Duration = Duration::from_secs(5);

/// The claim roles are read from unless configured.
pub const DEFAULT_ROLES_CLAIM: &str = "roles";

/// The checked settings of the OpenID providers.
#[derive(Clone, Debug)]
pub(crate) struct OidcSettings {
    /// Issuer URLs, exactly as the providers write them in `iss`.
    pub(crate) issuers: Vec<String>,
    /// The audience every provider token must name (this API).
    pub(crate) audience: String,
    pub(crate) refresh: Duration,
    pub(crate) refetch_cooldown: Duration,
    /// A claim name, or a dotted path into nested objects
    /// (`realm_access.roles`).
    pub(crate) roles_claim: String,
    /// Whether the header must say `typ: at+jwt` (RFC 9068).
    pub(crate) require_at_jwt: bool,
    pub(crate) leeway: u64,
    /// Dev mode: plain HTTP is allowed to loopback addresses.
    pub(crate) loopback_http: bool,
}

/// Whether `url` may be fetched for keys: `https`, or (in dev mode) `http`
/// to a loopback address; no user, query or fragment.
pub(crate) fn check_url(url: &str, loopback_http: bool) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|_| format!("`{url}` is not a URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{url}` carries credentials"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("`{url}` has a query or fragment"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("`{url}` has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback_http && loopback => Ok(parsed),
        "http" if loopback_http => Err(format!(
            "`{url}` is plain HTTP: only loopback addresses may be, in dev mode; use https"
        )),
        "http" => Err(format!("`{url}` is plain HTTP: production needs https")),
        _ => Err(format!("`{url}` is not an http(s) URL")),
    }
}

/// One issuer's live state, shared by the requests and the thread that
/// fetches its keys.
pub(crate) struct Issuer {
    pub(crate) url: String,
    /// `None` until the first fetch succeeds; then the last good set.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Counts finished fetches, good or bad, for the requests that wait.
    fetched: watch::Sender<u64>,
    /// Whether a fetch is running now.
    in_flight: AtomicBool,
    /// When a token last caused a fetch.
    last_refetch: Mutex<Option<Instant>>,
    /// When the last warning about this issuer was logged.
    last_warning: Mutex<Option<Instant>>,
}

impl Issuer {
    fn new(url: String) -> Self {
        Self {
            url,
            keys: RwLock::new(None),
            fetched: watch::Sender::new(0),
            // The first fetch starts with the thread.
            in_flight: AtomicBool::new(true),
            last_refetch: Mutex::new(None),
            last_warning: Mutex::new(None),
        }
    }

    fn keys(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The configured providers and the sender that wakes their key thread.
/// Dropping it (with the last clone of the configuration) ends the thread.
pub(crate) struct Providers {
    issuers: Vec<Arc<Issuer>>,
    settings: Arc<OidcSettings>,
    wake: mpsc::UnboundedSender<usize>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("issuers", &self.settings.issuers)
            .field("audience", &self.settings.audience)
            .field("roles_claim", &self.settings.roles_claim)
            .field("require_at_jwt", &self.settings.require_at_jwt)
            .finish_non_exhaustive()
    }
}

/// The parts of a token read before it is verified, to find its issuer.
pub(crate) struct Unverified {
    pub(crate) header: Header,
    pub(crate) iss: Option<String>,
}

impl Unverified {
    /// Reads the header and the `iss` claim, verifying nothing.
    pub(crate) fn read(token: &str) -> Result<Self, TokenError> {
        #[derive(serde::Deserialize)]
        struct Iss {
            #[serde(default)]
            iss: Option<Value>,
        }
        let data = jsonwebtoken::dangerous::insecure_decode::<Iss>(token)
            .map_err(|_| TokenError::Malformed)?;
        let iss = match data.claims.iss {
            Some(Value::String(iss)) => Some(iss),
            _ => None,
        };
        Ok(Self {
            header: data.header,
            iss,
        })
    }
}

impl Providers {
    /// Starts the thread that fetches every issuer's keys.
    pub(crate) fn start(settings: OidcSettings) -> Self {
        let issuers: Vec<Arc<Issuer>> = settings
            .issuers
            .iter()
            .map(|url| Arc::new(Issuer::new(url.clone())))
            .collect();
        let settings = Arc::new(settings);
        let (wake, woken) = mpsc::unbounded_channel();
        fetch::spawn(issuers.clone(), Arc::clone(&settings), woken);
        Self {
            issuers,
            settings,
            wake,
        }
    }

    /// The configured issuer URLs.
    pub(crate) fn issuers(&self) -> &[String] {
        &self.settings.issuers
    }

    /// The audience provider tokens must name.
    pub(crate) fn audience(&self) -> &str {
        &self.settings.audience
    }

    /// The least time between two fetches a token may cause.
    pub(crate) fn refetch_cooldown(&self) -> Duration {
        self.settings.refetch_cooldown
    }

    /// The index of the issuer named `iss`, if it is configured.
    pub(crate) fn find(&self, iss: &str) -> Option<usize> {
        self.issuers.iter().position(|issuer| issuer.url == iss)
    }

    /// Verifies a token of issuer `index` with its keys, waiting (at most
    /// [`KEY_WAIT`]) for one fetch when the token names a key the set does
    /// not hold, or the keys are not loaded yet.
    pub(crate) async fn verify(
        &self,
        index: usize,
        token: &str,
        header: &Header,
    ) -> Result<Principal, TokenError> {
        let first = self.verify_loaded(index, token, header);
        if !matches!(
            first,
            Err(TokenError::UnknownKey | TokenError::KeysUnavailable)
        ) {
            return first;
        }
        let Some(mut fetched) = self.refetch(index) else {
            return first;
        };
        // Either the fetch finishes and the keys are tried again, or the
        // wait ends and the keys as they are decide.
        let _ = tokio::time::timeout(KEY_WAIT, fetched.changed()).await;
        self.verify_loaded(index, token, header)
    }

    /// Verifies with the keys loaded now, without waiting.
    pub(crate) fn verify_loaded(
        &self,
        index: usize,
        token: &str,
        header: &Header,
    ) -> Result<Principal, TokenError> {
        let issuer = self.issuers.get(index).ok_or(TokenError::UnknownKey)?;
        let settings = &self.settings;
        if settings.require_at_jwt
            && !header.typ.as_deref().is_some_and(|typ| {
                typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
            })
        {
            return Err(TokenError::NotAnAccessToken);
        }
        if !PROVIDER_ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let keys = issuer.keys().ok_or(TokenError::KeysUnavailable)?;
        let mut candidates = keys
            .candidates(header.kid.as_deref(), header.alg)
            .peekable();
        if candidates.peek().is_none() {
            return Err(match header.kid.as_deref() {
                Some(kid) if keys.has_kid(kid) => TokenError::AlgorithmNotAllowed,
                _ => TokenError::UnknownKey,
            });
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = settings.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&issuer.url]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let mut outcome = Err(TokenError::BadSignature);
        // A token without `kid` may match several keys of its algorithm; a
        // set holds a handful at most.
        for key in candidates.take(4) {
            outcome = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
                .map_err(super::jwt::classify);
            if !matches!(outcome, Err(TokenError::BadSignature)) {
                break;
            }
        }
        let claims = outcome?.claims;
        principal(claims, issuer, settings)
    }

    /// Asks for a fetch of issuer `index`'s keys, or joins the one running;
    /// `None` when one ran less than the cooldown ago.
    fn refetch(&self, index: usize) -> Option<watch::Receiver<u64>> {
        let issuer = self.issuers.get(index)?;
        let fetched = issuer.fetched.subscribe();
        if issuer.in_flight.load(Ordering::Acquire) {
            return Some(fetched);
        }
        {
            let mut last = issuer
                .last_refetch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            if last.is_some_and(|at| now.duration_since(at) < self.settings.refetch_cooldown) {
                return None;
            }
            *last = Some(now);
        }
        if issuer.in_flight.swap(true, Ordering::AcqRel) {
            return Some(fetched);
        }
        self.wake.send(index).ok()?;
        Some(fetched)
    }
}

/// For the fuzz targets: what [`keys::parse_key_set`] keeps of `body`.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_key_set(body: &[u8]) -> Result<crate::__fuzzing::KeySet, String> {
    keys::parse_key_set(body).map(|set| {
        set.keys
            .into_iter()
            .map(|key| (key.kid, key.algorithms))
            .collect()
    })
}

/// The principal a provider token's verified claims prove.
fn principal(
    mut claims: Map<String, Value>,
    issuer: &Issuer,
    settings: &OidcSettings,
) -> Result<Principal, TokenError> {
    let now = now_secs();
    let sub = match claims.remove("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub,
        _ => return Err(TokenError::BadClaims),
    };
    let exp = seconds(claims.get("exp"))?.ok_or(TokenError::BadClaims)?;
    if seconds(claims.get("iat"))?.is_some_and(|iat| iat > now.saturating_add(settings.leeway)) {
        return Err(TokenError::NotYetValid);
    }
    let auth_time = seconds(claims.get("auth_time"))?;
    let jti = match claims.remove("jti") {
        None => String::new(),
        Some(Value::String(jti)) => jti,
        Some(_) => return Err(TokenError::BadClaims),
    };
    let roles = match claim_at(&claims, &settings.roles_claim) {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => names(value)?,
    };
    let mut scopes = match claims.get("scope") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(scope)) => scope.split_whitespace().map(str::to_owned).collect(),
        Some(_) => return Err(TokenError::BadClaims),
    };
    if let Some(scp) = claims.get("scp").filter(|v| !v.is_null()) {
        scopes.extend(names(scp)?);
    }
    scopes.dedup();
    Ok(Principal {
        sub,
        roles,
        jti,
        exp,
        auth_time,
        issuer: Some(issuer.url.clone()),
        scopes,
    })
}

/// A NumericDate claim in whole seconds, if present.
fn seconds(value: Option<&Value>) -> Result<Option<u64>, TokenError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)
                    // In range and not negative: the cast keeps the whole seconds.
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(TokenError::BadClaims),
        Some(_) => Err(TokenError::BadClaims),
    }
}

/// The claim named `path`: a top-level claim of that exact name first (an
/// Auth0 namespaced claim such as `https://example.com/roles` has dots),
/// else the dotted path through nested objects.
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// A list of names: an array of strings, or one string of names separated
/// by spaces.
fn names(value: &Value) -> Result<Vec<String>, TokenError> {
    match value {
        Value::String(text) => Ok(text.split_whitespace().map(str::to_owned).collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or(TokenError::BadClaims)
            })
            .collect(),
        _ => Err(TokenError::BadClaims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_are_found_by_name_first_then_by_dotted_path() {
        let claims = json!({
            "realm_access": {"roles": ["auditor", "user"]},
            "https://example.com/roles": ["admin"],
        });
        let Value::Object(claims) = claims else {
            panic!("an object")
        };
        assert_eq!(
            claim_at(&claims, "realm_access.roles"),
            Some(&json!(["auditor", "user"]))
        );
        assert_eq!(
            claim_at(&claims, "https://example.com/roles"),
            Some(&json!(["admin"]))
        );
        assert_eq!(claim_at(&claims, "resource_access.api.roles"), None);
        assert_eq!(
            names(&json!("a b")).ok(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(names(&json!([1])), Err(TokenError::BadClaims));
    }

    #[test]
    fn only_https_or_dev_loopback_http_may_be_fetched() {
        assert!(check_url("https://login.example.com/realms/a", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080", true).is_ok());
        assert!(check_url("http://localhost:8080", true).is_ok());
        let prod = check_url("http://127.0.0.1:8080", false).expect_err("refused");
        assert!(prod.contains("production needs https"), "{prod}");
        assert!(check_url("http://idp.example.com", true).is_err());
        assert!(check_url("https://user:pw@idp.example.com", false).is_err());
        assert!(check_url("https://idp.example.com/?a=b", false).is_err());
        assert!(check_url("ftp://idp.example.com", false).is_err());
    }

    #[test]
    fn numeric_dates_are_whole_seconds() {
        assert_eq!(seconds(Some(&json!(10))), Ok(Some(10)));
        assert_eq!(seconds(Some(&json!(10.7))), Ok(Some(10)));
        assert_eq!(seconds(Some(&json!(-1))), Err(TokenError::BadClaims));
        assert_eq!(seconds(Some(&json!("10"))), Err(TokenError::BadClaims));
        assert_eq!(seconds(None), Ok(None));
    }
}
