//! Outbound calls to URLs a client supplied (OWASP API7 server-side request
//! forgery, API10 unsafe consumption of APIs): [`SafeClient`].
//!
//! A URL is checked before anything is sent: `https` only unless allowed,
//! no user name or password, no backslash, no port but the scheme's own
//! unless allowed, and a host on the allowlist. Every address the host
//! resolves to is checked against the ranges that lead back into the
//! server's network ([`refused_range`]), and the connection goes to exactly
//! the addresses that were checked: there is no second lookup for DNS
//! rebinding to exploit. Redirects are off by default, or followed up to a
//! hop limit with every hop checked again. Timeouts, a response size cap and
//! a content-type allowlist bound what an upstream can do; JSON answers are
//! decoded into strict, validated types; failures are retried with backoff
//! (the calls are `GET`s, so idempotent) and a circuit breaker per host
//! stops hammering one that keeps failing.

mod address;
mod breaker;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use address::refused_range;
use breaker::Breakers;

use crate::input::Input;
use crate::net::Cidr;
use crate::problem::Problem;

/// Why an outbound call was refused or failed. The message names the rule;
/// it speaks of the URL and the upstream only, never of the server's own
/// network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// Not a URL.
    #[error("the URL is not valid: {0}")]
    Malformed(String),
    /// A backslash, which parsers disagree about.
    #[error("the URL contains a backslash")]
    Backslash,
    /// Not `https` (or `http` when allowed).
    #[error("the scheme `{0}` is not allowed: use https")]
    Scheme(String),
    /// `user:password@` in the URL.
    #[error("the URL carries a user name or password")]
    UserInfo,
    /// A port other than the scheme's own, not allowed.
    #[error("port {0} is not allowed")]
    Port(u16),
    /// The host is not on the allowlist.
    #[error("the host `{0}` is not on the allowlist")]
    HostNotAllowed(String),
    /// The host is, or resolves to, an address in a refused range.
    #[error("`{host}` leads to a {range} address, which outbound calls may not reach")]
    AddressRefused {
        /// The host as written.
        host: String,
        /// The name of the range.
        range: &'static str,
    },
    /// The host could not be resolved.
    #[error("`{0}` could not be resolved")]
    Resolve(String),
    /// The upstream redirected, and redirects are off or over the hop limit.
    #[error("the upstream redirected {0}")]
    Redirect(String),
    /// No answer within the timeout.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("the upstream could not be reached")]
    Connect,
    /// A status that is not a success.
    #[error("the upstream answered {0}")]
    UpstreamStatus(u16),
    /// A content type not on the allowlist.
    #[error("the upstream answered with content type `{0}`, which is not accepted")]
    ContentType(String),
    /// The answer is over the size cap.
    #[error("the upstream's answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The JSON does not fit the expected type (unknown fields included).
    #[error("the upstream's answer does not have the expected shape: {0}")]
    Decode(String),
    /// The JSON fits but breaks a validation rule.
    #[error("the upstream's answer is not valid: {0}")]
    Invalid(String),
    /// The host failed repeatedly; calls are paused.
    #[error("calls to `{0}` are paused after repeated failures")]
    CircuitOpen(String),
}

impl OutboundError {
    /// Whether the URL itself was refused (the caller's fault: 400), rather
    /// than the upstream failing (502).
    pub fn is_refused_url(&self) -> bool {
        matches!(
            self,
            Self::Malformed(_)
                | Self::Backslash
                | Self::Scheme(_)
                | Self::UserInfo
                | Self::Port(_)
                | Self::HostNotAllowed(_)
                | Self::AddressRefused { .. }
        )
    }

    /// Failures worth another try: the network, a timeout, an overloaded
    /// upstream.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout | Self::Connect => true,
            Self::UpstreamStatus(status) => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Failures that count against the host's circuit breaker.
    fn is_upstream_failure(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Connect | Self::UpstreamStatus(500..)
        )
    }
}

impl From<OutboundError> for Problem {
    fn from(error: OutboundError) -> Self {
        let status = if error.is_refused_url() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::BAD_GATEWAY
        };
        tracing::info!(target: "secure_api::outbound", %error, "outbound call refused or failed");
        Problem::new(status).with_detail(error.to_string())
    }
}

/// Resolves host names. The default asks the operating system; tests and
/// special set-ups plug in their own.
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>>;
}

/// The operating system's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// What a URL must be, shared by the first request and every redirect hop.
#[derive(Debug)]
struct Rules {
    allow_http: bool,
    allow_userinfo: bool,
    hosts: HashSet<String>,
    ports: HashSet<u16>,
    addresses: Vec<Cidr>,
    max_hops: usize,
}

impl Rules {
    fn address_allowed(&self, ip: IpAddr) -> Result<(), &'static str> {
        match refused_range(ip) {
            Some(range) if !self.addresses.iter().any(|c| c.contains(ip)) => Err(range),
            _ => Ok(()),
        }
    }

    fn check(&self, raw: &str) -> Result<Url, OutboundError> {
        if raw.contains('\\') {
            return Err(OutboundError::Backslash);
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(OutboundError::Malformed(
                "it contains spaces or control characters".to_owned(),
            ));
        }
        let url = Url::parse(raw).map_err(|e| OutboundError::Malformed(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => return Err(OutboundError::Scheme(other.to_owned())),
        }
        if !self.allow_userinfo && (!url.username().is_empty() || url.password().is_some()) {
            return Err(OutboundError::UserInfo);
        }
        if let Some(port) = url.port()
            && !self.ports.contains(&port)
        {
            return Err(OutboundError::Port(port));
        }
        let host = match url.host() {
            None => return Err(OutboundError::Malformed("it has no host".to_owned())),
            Some(url::Host::Domain(name)) => {
                // One trailing dot names the root; more, or an empty label
                // anywhere, is not a host name.
                let name = name.strip_suffix('.').unwrap_or(name);
                if name.split('.').any(str::is_empty) {
                    return Err(OutboundError::Malformed(
                        "its host is not a valid name".to_owned(),
                    ));
                }
                name.to_owned()
            }
            Some(url::Host::Ipv4(ip)) => {
                self.address_allowed(IpAddr::V4(ip)).map_err(|range| {
                    OutboundError::AddressRefused {
                        host: ip.to_string(),
                        range,
                    }
                })?;
                ip.to_string()
            }
            Some(url::Host::Ipv6(ip)) => {
                self.address_allowed(IpAddr::V6(ip)).map_err(|range| {
                    OutboundError::AddressRefused {
                        host: format!("[{ip}]"),
                        range,
                    }
                })?;
                ip.to_string()
            }
        };
        if !self.hosts.contains(&host) {
            return Err(OutboundError::HostNotAllowed(host));
        }
        Ok(url)
    }
}

/// The resolver the HTTP client connects through: it checks every address
/// and hands over exactly the checked ones.
struct CheckedResolver {
    lookup: Arc<dyn Lookup>,
    rules: Arc<Rules>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = Arc::clone(&self.lookup);
        let rules = Arc::clone(&self.rules);
        Box::pin(async move {
            let host = name.as_str().trim_end_matches('.').to_owned();
            let addresses = lookup
                .lookup(&host)
                .await
                .map_err(|_| OutboundError::Resolve(host.clone()))?;
            if addresses.is_empty() {
                return Err(OutboundError::Resolve(host).into());
            }
            // One refused address refuses the host: no partial answers.
            for ip in &addresses {
                rules
                    .address_allowed(*ip)
                    .map_err(|range| OutboundError::AddressRefused {
                        host: host.clone(),
                        range,
                    })?;
            }
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// A fetched answer that passed every check.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The status (a success).
    pub status: u16,
    /// The content type, as sent.
    pub content_type: String,
    /// The body, at most the size cap.
    pub body: Vec<u8>,
    /// The URL that answered (after redirects).
    pub url: Url,
}

/// An HTTP client for URLs a client supplied. See the [module](self) docs.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::outbound::{OutboundError, SafeClient};
///
/// # actix_web::rt::System::new().block_on(async {
/// let client = SafeClient::builder().allow_hosts(["api.example.com"]).build().unwrap();
/// let refused = client.get("http://169.254.169.254/latest/meta-data/").await.unwrap_err();
/// assert_eq!(refused, OutboundError::Scheme("http".to_owned()));
/// let refused = client.get("https://0xa9.0xfe.0xa9.0xfe/").await.unwrap_err();
/// assert!(refused.to_string().contains("link-local"));
/// let refused = client.get("https://intranet.example.com/").await.unwrap_err();
/// assert!(refused.to_string().contains("not on the allowlist"));
/// # });
/// ```
#[derive(Clone)]
pub struct SafeClient {
    http: reqwest::Client,
    rules: Arc<Rules>,
    max_bytes: usize,
    content_types: Arc<Vec<String>>,
    retries: u32,
    breakers: Arc<Breakers>,
}

impl fmt::Debug for SafeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeClient")
            .field("rules", &self.rules)
            .field("max_bytes", &self.max_bytes)
            .field("content_types", &self.content_types)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SafeClient`]; see [`SafeClient::builder`].
pub struct SafeClientBuilder {
    allow_http: bool,
    allow_userinfo: bool,
    hosts: HashSet<String>,
    ports: HashSet<u16>,
    addresses: Vec<Cidr>,
    max_hops: usize,
    connect_timeout: Duration,
    timeout: Duration,
    max_bytes: usize,
    content_types: Vec<String>,
    retries: u32,
    breaker: (u32, Duration),
    lookup: Arc<dyn Lookup>,
}

impl fmt::Debug for SafeClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeClientBuilder")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl SafeClient {
    /// Starts a client: `https` only, no host allowed yet, no redirects,
    /// 2 s to connect, 10 s in all, 1 MiB at most, JSON only, two retries,
    /// and a breaker that pauses a host for 30 s after 5 failures in a row.
    pub fn builder() -> SafeClientBuilder {
        SafeClientBuilder {
            allow_http: false,
            allow_userinfo: false,
            hosts: HashSet::new(),
            ports: HashSet::new(),
            addresses: Vec::new(),
            max_hops: 0,
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            max_bytes: 1024 * 1024,
            content_types: vec!["application/json".to_owned()],
            retries: 2,
            breaker: (5, Duration::from_secs(30)),
            lookup: Arc::new(SystemLookup),
        }
    }

    /// Checks `url` against the rules without sending anything.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        self.rules.check(url)
    }

    /// `GET url`, every rule applied, retried on network failures and 502,
    /// 503 and 504.
    pub async fn get(&self, url: &str) -> Result<Fetched, OutboundError> {
        let url = self.rules.check(url)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        self.breakers.admit(&host)?;
        let mut attempt = 0;
        loop {
            match self.fetch_once(url.clone()).await {
                Ok(fetched) => {
                    self.breakers.succeeded(&host);
                    return Ok(fetched);
                }
                Err(error) if error.is_retryable() && attempt < self.retries => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(error) => {
                    if error.is_upstream_failure() {
                        self.breakers.failed(&host);
                    }
                    return Err(error);
                }
            }
        }
    }

    /// `GET url` and decode the JSON answer into `T`, a declared
    /// [`Input`] type: unknown fields are refused and every field is
    /// validated.
    pub async fn get_json<T: Input>(&self, url: &str) -> Result<T, OutboundError> {
        let fetched = self.get(url).await?;
        let value: T = serde_json::from_slice(&fetched.body)
            .map_err(|e| OutboundError::Decode(e.to_string()))?;
        value.validate_input().map_err(|problem| {
            OutboundError::Invalid(problem.detail().unwrap_or("a field is invalid").to_owned())
        })?;
        Ok(value)
    }

    async fn fetch_once(&self, url: Url) -> Result<Fetched, OutboundError> {
        let mut response = self.http.get(url).send().await.map_err(|e| classify(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(OutboundError::Redirect(
                "and redirects are not followed".to_owned(),
            ));
        }
        if !status.is_success() {
            return Err(OutboundError::UpstreamStatus(status.as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !self.content_types.contains(&essence) {
            return Err(OutboundError::ContentType(content_type));
        }
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(OutboundError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(OutboundError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status: status.as_u16(),
            content_type,
            body,
            url: response.url().clone(),
        })
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(100).saturating_mul(1 << attempt.min(6));
    let jitter = crate::util::random_bytes::<1>().map_or(0, |b| u64::from(b[0]) % 50);
    base + Duration::from_millis(jitter)
}

/// Finds our own refusal in a client error's causes (a resolver or
/// redirect refusal), or names the failure.
fn classify(error: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(ours) = cause.downcast_ref::<OutboundError>() {
            return ours.clone();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        OutboundError::Timeout
    } else if error.is_redirect() {
        OutboundError::Redirect("too many times".to_owned())
    } else {
        OutboundError::Connect
    }
}

impl SafeClientBuilder {
    /// Hosts that may be called, compared after normalisation (lowercase,
    /// IDNA, no trailing dot). An address literal is a host too.
    #[must_use]
    pub fn allow_hosts<S: AsRef<str>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        for host in hosts {
            let host = host.as_ref().trim().trim_end_matches('.');
            let normalised = Url::parse(&format!("https://{host}/"))
                .ok()
                .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
                .unwrap_or_else(|| host.to_ascii_lowercase());
            self.hosts.insert(normalised);
        }
        self
    }

    /// Allows plain `http` as well as `https`.
    #[must_use]
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Allows `user:password@` in URLs (credentials for an upstream you
    /// trust; the host rules still apply). A backslash is always refused.
    #[must_use]
    pub fn allow_userinfo(mut self) -> Self {
        self.allow_userinfo = true;
        self
    }

    /// Allows an explicit port other than the scheme's own.
    #[must_use]
    pub fn allow_port(mut self, port: u16) -> Self {
        self.ports.insert(port);
        self
    }

    /// Addresses that may be reached although they are in a refused range
    /// (an internal service you mean to call).
    #[must_use]
    pub fn allow_addresses(mut self, ranges: impl IntoIterator<Item = Cidr>) -> Self {
        self.addresses.extend(ranges);
        self
    }

    /// Follows up to `hops` redirects, checking each target like the first
    /// URL (default: no redirects).
    #[must_use]
    pub fn follow_redirects(mut self, hops: usize) -> Self {
        self.max_hops = hops;
        self
    }

    /// The time to connect (default 2 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time for the whole call (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer accepted (default 1 MiB).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The content types accepted (default `application/json`).
    #[must_use]
    pub fn allow_content_types<S: AsRef<str>>(
        mut self,
        types: impl IntoIterator<Item = S>,
    ) -> Self {
        self.content_types = types
            .into_iter()
            .map(|t| t.as_ref().trim().to_ascii_lowercase())
            .collect();
        self
    }

    /// How many times a failed call is retried (default 2).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Pause a host for `cooldown` after `failures` failures in a row.
    #[must_use]
    pub fn circuit_breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.breaker = (failures.max(1), cooldown);
        self
    }

    /// Resolves names with `lookup` instead of the operating system.
    #[must_use]
    pub fn lookup(mut self, lookup: impl Lookup) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<SafeClient, OutboundError> {
        let rules = Arc::new(Rules {
            allow_http: self.allow_http,
            allow_userinfo: self.allow_userinfo,
            hosts: self.hosts,
            ports: self.ports,
            addresses: self.addresses,
            max_hops: self.max_hops,
        });
        let redirects = if rules.max_hops == 0 {
            reqwest::redirect::Policy::none()
        } else {
            let rules = Arc::clone(&rules);
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > rules.max_hops {
                    return attempt.error(OutboundError::Redirect(format!(
                        "more than {} times",
                        rules.max_hops
                    )));
                }
                match rules.check(attempt.url().as_str()) {
                    Ok(_) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            })
        };
        let http = reqwest::Client::builder()
            // A proxy from the environment would bypass every check.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                lookup: self.lookup,
                rules: Arc::clone(&rules),
            }))
            .redirect(redirects)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .build()
            .map_err(|e| OutboundError::Malformed(format!("client set-up: {e}")))?;
        Ok(SafeClient {
            http,
            rules,
            max_bytes: self.max_bytes,
            content_types: Arc::new(self.content_types),
            retries: self.retries,
            breakers: Arc::new(Breakers::new(self.breaker.0, self.breaker.1)),
        })
    }
}
