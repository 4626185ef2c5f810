//! Operating an app: request ids, the audit trail of every decision, the
//! log format, and Prometheus metrics on a listener of their own.
//!
//! Every request a [`SecureApp`](crate::SecureApp) serves gets a
//! [`RequestId`], which every log line written while it is served names
//! (through the [`JsonLines`] and [`TextLines`] formats), and ends with one
//! audit event on [`audit::AUDIT_TARGET`]. With `debug` enabled for the
//! `secure_api` target, the request also runs in a `secure_api.request`
//! span carrying its id, and each pipeline step in a `secure_api.step`
//! span that records its decision, for a subscriber that shows where the
//! time goes (such as an OpenTelemetry layer).
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
//! // Lines are written while the guard lives: keep it until the end.
//! let _logs = telemetry.init_logging();
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
pub mod format;
pub mod metrics;
pub mod writer;

use std::net::SocketAddr;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::EitherWriter;

pub use self::context::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER, RequestId};
pub use self::format::{JsonLines, TextLines};
pub use self::metrics::{Metrics, MetricsError};
use crate::config::ConfigError;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line ([`JsonLines`]), the request id among its
    /// fields.
    Json,
}

/// Keeps the log writer of [`Telemetry::init_logging`] running; dropping
/// it writes every line still waiting, then stops the writer.
#[must_use = "log lines are written while the guard lives: keep it until the program ends"]
pub struct LogGuard(Option<writer::BatchGuard>);

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard")
            .field("writing", &self.0.is_some())
            .finish()
    }
}

/// Where [`Telemetry::init_logging`]'s lines go: in batches, from a thread
/// of their own, or (when that thread cannot start) straight to standard
/// error. A line's writer is made without an allocation.
enum LogWriter {
    Batches(writer::BatchWriter),
    Stderr,
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = EitherWriter<writer::Line<'a>, std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            Self::Batches(batches) => EitherWriter::A(batches.make_writer()),
            Self::Stderr => EitherWriter::B(std::io::stderr()),
        }
    }
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
    /// `info`, which includes every audit event), in the configured format
    /// ([`TextLines`] or [`JsonLines`]), to standard error. A logged line is
    /// appended to a shared buffer, which a thread of its own writes out at
    /// least every [`writer::FLUSH_EVERY`] (sooner when
    /// [`writer::WAKE_AT`] bytes wait): a request never waits for the
    /// terminal or the disk, and no line is dropped (past
    /// [`writer::MAX_PENDING`] bytes waiting, the thread that logs writes
    /// them itself). Keep the returned guard until the program ends:
    /// dropping it writes what is still waiting and stops that thread. Does
    /// nothing when a subscriber is installed already.
    pub fn init_logging(&self) -> LogGuard {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // Without a thread for the batches, each line is written as it comes.
        let (writer, guard) = match writer::BatchWriter::new(std::io::stderr()) {
            Ok((writer, guard)) => (LogWriter::Batches(writer), Some(guard)),
            Err(_) => (LogWriter::Stderr, None),
        };
        // Field names in colour on a terminal only, never in a file.
        let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(on_terminal)
            .with_writer(writer);
        let installed = match self.log_format {
            LogFormat::Text => builder.event_format(TextLines).try_init(),
            LogFormat::Json => builder
                .event_format(JsonLines)
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .try_init(),
        };
        LogGuard(guard.filter(|_| installed.is_ok()))
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
