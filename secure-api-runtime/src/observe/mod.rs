//! Operating an app: request ids, the audit trail of every decision, the
//! log format, and Prometheus metrics on a listener of their own.
//!
//! Every request a [`SecureApp`](crate::SecureApp) serves gets a
//! [`RequestId`], runs in a `secure_api.request` span that carries it (so
//! every log event of the request does), and ends with one audit event on
//! [`audit::AUDIT_TARGET`]. Each pipeline step runs in a `secure_api.step`
//! span (at `debug`) that records its decision.
//!
//! [`Telemetry`] reads the two operating settings from the environment:
//! `SECURE_API_LOG_FORMAT` (`text`, the default, or `json`: one object a
//! line) and `SECURE_API_METRICS_BIND` (the address of the metrics
//! listener).
//!
//! ```no_run
//! use secure_api_runtime::observe::Telemetry;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = Telemetry::from_env()?;
//! telemetry.init_logging();
//! # actix_web::rt::System::new().block_on(async {
//! if let Some(metrics) = telemetry.metrics_server()? {
//!     actix_web::rt::spawn(metrics);
//! }
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok(())
//! # }
//! ```

pub mod audit;
pub(crate) mod context;
pub mod metrics;

use std::net::SocketAddr;

pub use self::context::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER, RequestId};
pub use self::metrics::{Metrics, MetricsError};
use crate::config::ConfigError;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line (`tracing-subscriber`'s JSON format), with the
    /// request span's fields, the request id among them.
    Json,
}

/// The operating settings: the log format and the metrics listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Telemetry {
    /// `SECURE_API_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `SECURE_API_METRICS_BIND`: where `GET /metrics` is served, if
    /// anywhere.
    pub metrics_bind: Option<SocketAddr>,
}

impl Telemetry {
    /// The settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `lookup`, which maps a variable's name to its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::observe::{LogFormat, Telemetry};
    ///
    /// let telemetry = Telemetry::from_lookup(|name| match name {
    ///     "SECURE_API_LOG_FORMAT" => Some("json".to_owned()),
    ///     "SECURE_API_METRICS_BIND" => Some("127.0.0.1:9464".to_owned()),
    ///     _ => None,
    /// })
    /// .unwrap();
    /// assert_eq!(telemetry.log_format, LogFormat::Json);
    /// assert_eq!(telemetry.metrics_bind, Some("127.0.0.1:9464".parse().unwrap()));
    ///
    /// let error = Telemetry::from_lookup(|name| {
    ///     (name == "SECURE_API_LOG_FORMAT").then(|| "yaml".to_owned())
    /// })
    /// .unwrap_err();
    /// assert!(error.to_string().contains("SECURE_API_LOG_FORMAT"));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let log_format = match lookup("SECURE_API_LOG_FORMAT").as_deref() {
            None | Some("" | "text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!(
                    "SECURE_API_LOG_FORMAT is `{other}`: use `text` or `json`"
                ));
                LogFormat::Text
            }
        };
        let metrics_bind = match lookup("SECURE_API_METRICS_BIND").as_deref() {
            None | Some("") => None,
            Some(bind) => match bind.parse() {
                Ok(address) => Some(address),
                Err(_) => {
                    problems.push(format!(
                        "SECURE_API_METRICS_BIND is `{bind}`: give an address and port such as `127.0.0.1:9464`"
                    ));
                    None
                }
            },
        };
        if problems.is_empty() {
            Ok(Self {
                log_format,
                metrics_bind,
            })
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Installs the process's log subscriber: `RUST_LOG` filters (default
    /// `info`, which includes every audit event), in the configured format,
    /// to standard error. Does nothing when a subscriber is installed
    /// already.
    pub fn init_logging(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        let _ = match self.log_format {
            LogFormat::Text => builder.try_init(),
            // The current span (the request's, with its id) and not the
            // whole list: each span costs a parse per event.
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_span_list(false)
                .try_init(),
        };
    }

    /// When `SECURE_API_METRICS_BIND` is set: installs the metrics recorder
    /// and binds its listener, returning the server to run beside the API
    /// (inside an actix system).
    pub fn metrics_server(&self) -> Result<Option<actix_web::dev::Server>, String> {
        let Some(bind) = self.metrics_bind else {
            return Ok(None);
        };
        let metrics = Metrics::install().map_err(|e| e.to_string())?;
        let listener = std::net::TcpListener::bind(bind)
            .map_err(|e| format!("cannot listen for metrics on {bind}: {e}"))?;
        tracing::info!(target: "secure_api", "metrics served on http://{bind}/metrics");
        metrics
            .serve(listener)
            .map(Some)
            .map_err(|e| format!("cannot serve metrics on {bind}: {e}"))
    }
}
