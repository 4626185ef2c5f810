//! Prometheus metrics, through the `metrics` facade and
//! `metrics-exporter-prometheus`, served on a listener of their own.
//!
//! Nothing is recorded until [`Metrics::install`] runs: without it, every
//! recording point costs one atomic load.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `route`, `method` and `status`.
pub const REQUESTS_TOTAL: &str = "secure_api_requests_total";
/// Requests refused, by `route` and `rule`.
pub const REFUSALS_TOTAL: &str = "secure_api_refusals_total";
/// Seconds until the answer's head was ready, by `route` (a histogram).
pub const REQUEST_DURATION: &str = "secure_api_request_duration_seconds";
/// Clients each quota tracks, by `limiter` (the route, or `default ..`) and
/// `quota`.
pub const LIMITER_KEYS: &str = "secure_api_limiter_keys";
/// Password hashes running or waiting for a hashing thread.
pub const PASSWORD_HASHES_ADMITTED: &str = "secure_api_password_hashes_admitted";
/// Password hashes refused because every place was taken (answered 503).
pub const PASSWORD_HASH_REJECTIONS: &str = "secure_api_password_hash_rejections_total";
/// Redis commands that failed or could not connect.
pub const REDIS_ERRORS: &str = "secure_api_redis_errors_total";
/// Decisions an instance took alone because Redis was unreachable, by `what`.
pub const FAIL_OPEN_DECISIONS: &str = "secure_api_fail_open_decisions_total";
/// Key-set fetches from OpenID providers, by `issuer` and `outcome`
/// (`loaded` or `failed`).
pub const KEY_SET_FETCHES: &str = "secure_api_oidc_key_set_fetches_total";

/// The histogram buckets of [`REQUEST_DURATION`], in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether [`Metrics::install`] ran.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Why metrics could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Another `metrics` recorder is installed in this process.
    #[error("another metrics recorder is installed in this process: {0}")]
    Recorder(String),
}

/// The process's Prometheus recorder.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::observe::Metrics;
///
/// let metrics = Metrics::install().unwrap();
/// metrics::counter!("my_app_signups_total").increment(1);
/// assert!(metrics.render().contains("my_app_signups_total 1"));
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the Prometheus recorder for this process (once: later calls
    /// return the same recorder), and starts recording the runtime's
    /// metrics.
    pub fn install() -> Result<Self, MetricsError> {
        if let Some(handle) = HANDLE.get() {
            return Ok(Self {
                handle: handle.clone(),
            });
        }
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), DURATION_BUCKETS)
            .map_err(|e| MetricsError::Recorder(e.to_string()))?;
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Two threads racing here: the loser's recorder is refused by
        // `set_global_recorder` and it takes the winner's handle.
        match metrics::set_global_recorder(recorder) {
            Ok(()) => {
                let handle = HANDLE.get_or_init(|| handle).clone();
                ENABLED.store(true, Ordering::Relaxed);
                Ok(Self { handle })
            }
            Err(error) => match HANDLE.get() {
                Some(handle) => Ok(Self {
                    handle: handle.clone(),
                }),
                None => Err(MetricsError::Recorder(error.to_string())),
            },
        }
    }

    /// Everything recorded, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// A server on `listener` that answers `GET /metrics` (and `HEAD`)
    /// with [`render`](Self::render), and 404 to anything else. Bind it to
    /// an address of its own, never the API's port. One worker: scrapes are
    /// rare.
    pub fn serve(&self, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
        let metrics = self.clone();
        let server = actix_web::HttpServer::new(move || {
            let metrics = metrics.clone();
            actix_web::App::new()
                .route(
                    "/metrics",
                    web::route()
                        .guard(
                            actix_web::guard::Any(actix_web::guard::Get())
                                .or(actix_web::guard::Head()),
                        )
                        .to(move || {
                            let body = metrics.render();
                            async move {
                                HttpResponse::Ok()
                                    .content_type("text/plain; version=0.0.4; charset=utf-8")
                                    .body(body)
                            }
                        }),
                )
                .default_service(web::to(|| async {
                    crate::problem::Problem::not_found().to_response()
                }))
        })
        .workers(1);
        Ok(crate::server::harden(server).listen(listener)?.run())
    }
}

/// A method as a label without allocating (`OTHER` for extension methods).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The per-request series' handles this thread has used, by their labels.
/// The labels of these series are all `'static` names and a status code,
/// so a handle is looked up in the recorder once per thread, and each
/// request after that costs one hash of a few words and atomic additions:
/// a route, method and status's entry holds the request counter and the
/// route's duration histogram (the same histogram for all its entries).
#[derive(Default)]
struct Handles {
    requests: FoldMap<(&'static str, &'static str, u16), (metrics::Counter, metrics::Histogram)>,
    refusals: FoldMap<(&'static str, &'static str), metrics::Counter>,
}

/// A map with a fast hash: its keys are the application's own route
/// patterns and rule names, not a client's.
type FoldMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::new(Handles::default());
}

/// Counts one answered request, and its refusal when `refused_by` names the
/// rule.
pub(crate) fn request(
    route: &'static str,
    method: &Method,
    status: StatusCode,
    seconds: f64,
    refused_by: Option<&'static str>,
) {
    if !enabled() {
        return;
    }
    let method = method_label(method);
    let status = status.as_u16();
    HANDLES.with_borrow_mut(|handles| {
        let (requests, duration) = handles
            .requests
            .entry((route, method, status))
            .or_insert_with(|| {
                (
                    metrics::counter!(REQUESTS_TOTAL, "route" => route, "method" => method, "status" => status.to_string()),
                    metrics::histogram!(REQUEST_DURATION, "route" => route),
                )
            });
        requests.increment(1);
        duration.record(seconds);
        if let Some(rule) = refused_by {
            handles
                .refusals
                .entry((route, rule))
                .or_insert_with(|| metrics::counter!(REFUSALS_TOTAL, "route" => route, "rule" => rule))
                .increment(1);
        }
    });
}

/// How many clients a quota tracks now.
pub(crate) fn limiter_keys(limiter: &str, quota: &crate::policy::Quota, keys: usize) {
    if !enabled() {
        return;
    }
    let quota = format!("{}/{}s", quota.count, quota.period_secs);
    #[allow(clippy::cast_precision_loss)] // a key count is far below 2^52
    metrics::gauge!(LIMITER_KEYS, "limiter" => limiter.to_owned(), "quota" => quota)
        .set(keys as f64);
}

/// How many password hashes are running or waiting now.
pub(crate) fn password_hashes_admitted(admitted: usize) {
    if enabled() {
        #[allow(clippy::cast_precision_loss)] // bounded by the hashing queue
        metrics::gauge!(PASSWORD_HASHES_ADMITTED).set(admitted as f64);
    }
}

/// A password hash refused for want of a place.
pub(crate) fn password_hash_rejected() {
    if enabled() {
        metrics::counter!(PASSWORD_HASH_REJECTIONS).increment(1);
    }
}

/// A failed Redis command or connection.
pub(crate) fn redis_error() {
    if enabled() {
        metrics::counter!(REDIS_ERRORS).increment(1);
    }
}

/// A decision taken without Redis.
pub(crate) fn fail_open(what: &str) {
    if enabled() {
        metrics::counter!(FAIL_OPEN_DECISIONS, "what" => what.to_owned()).increment(1);
    }
}

/// A provider key-set fetch, `loaded` or `failed`.
pub(crate) fn key_set_fetch(issuer: &str, outcome: &'static str) {
    if enabled() {
        metrics::counter!(KEY_SET_FETCHES, "issuer" => issuer.to_owned(), "outcome" => outcome)
            .increment(1);
    }
}
