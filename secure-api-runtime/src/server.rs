//! Deadlines for slow clients (OWASP API4), on every request of a
//! connection, not only its first.
//!
//! actix-web times the head of a connection's first request only: after one
//! full request, a second head that never ends holds the socket as long as
//! the client likes, and a request body has no deadline at all. Two rules
//! close that:
//!
//! - **Heads**: [`harden`] sets the head timeout, the keep-alive and the
//!   disconnect timeout on an `HttpServer`, and watches each connection:
//!   once a request has been answered, the next request's head must be
//!   complete within the keep-alive plus the head timeout, or the socket is
//!   shut. (The keep-alive bounds an idle connection; the head timeout, a
//!   head that started.)
//! - **Bodies**: every request body must arrive at [`Hardening::min_body_rate`]
//!   on average once [`Hardening::body_grace`] has passed (Kestrel's
//!   defaults: 240 bytes/s after 5 s); a slower one is cut off with 408 and
//!   the connection closed. This applies to every [`crate::SecureApp`], with
//!   the values `harden` was given or the defaults.

use std::any::Any;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceFactory};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::{HttpServer, dev::AppConfig};

/// The deadlines [`harden`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hardening {
    /// How long a client may take to send a request's head (default 5 s).
    pub head_timeout: Duration,
    /// How long an idle connection stays open between requests (default 5 s).
    pub keep_alive: Duration,
    /// The average rate, in bytes per second, a request body must keep up
    /// once [`Hardening::body_grace`] has passed (default 240).
    pub min_body_rate: u32,
    /// How long a body may take before its rate counts (default 5 s).
    pub body_grace: Duration,
}

impl Default for Hardening {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
            min_body_rate: 240,
            body_grace: Duration::from_secs(5),
        }
    }
}

/// `server` with the [`Hardening::default`] deadlines on every request of
/// every connection. See [`harden_with`].
///
/// # Examples
///
/// ```no_run
/// use secure_api_runtime::prelude::*;
///
/// # fn run(security: SecurityConfig) -> std::io::Result<()> {
/// let server = secure_api_runtime::server::harden(HttpServer::new(move || {
///     SecureApp::new(security.clone()).into_app()
/// }));
/// # let _ = server.bind("127.0.0.1:8080")?;
/// # Ok(())
/// # }
/// ```
pub fn harden<F, I, S, B>(server: HttpServer<F, I, S, B>) -> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    harden_with(server, Hardening::default())
}

/// `server` with the `hardening` deadlines: its head timeout, keep-alive
/// and a one-second disconnect timeout set, and each connection watched so
/// that every later request head is bounded too (plain TCP; TLS through
/// `listen_rustls_0_23` with the `rustls-0_23` feature). Set the
/// server's other options after this call; a later `on_connect` replaces
/// the watch.
pub fn harden_with<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    hardening: Hardening,
) -> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    server
        .client_request_timeout(hardening.head_timeout)
        .keep_alive(hardening.keep_alive)
        .client_disconnect_timeout(Duration::from_secs(1))
        .on_connect(move |connection, extensions| watch(connection, extensions, hardening))
}

/// What the backstop finds in a watched connection's data.
#[derive(Clone, Debug)]
pub(crate) struct Watched {
    pub(crate) hardening: Hardening,
    connection: Arc<Connection>,
}

/// A connection's requests in progress, shared with its watchdog. It lives
/// in the connection's data, so it goes when actix drops the connection.
#[derive(Debug)]
struct Connection {
    state: Mutex<State>,
    changed: Arc<tokio::sync::Notify>,
    /// A second descriptor of the socket, to shut it. Held here, not by the
    /// watchdog, so that it closes with the connection: an open descriptor
    /// would keep the socket open after actix has dropped its own.
    socket: Option<std::net::TcpStream>,
}

#[derive(Clone, Copy, Debug)]
struct State {
    /// Requests whose answer has not been sent completely.
    in_flight: usize,
    /// When the last answer was sent (or the connection opened).
    idle_since: Instant,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The watchdog wakes, finds the connection gone, and ends.
        self.changed.notify_one();
    }
}

/// The TCP socket under a connection: plain, or under rustls with the
/// `rustls-0_23` feature.
fn socket_of(connection: &dyn Any) -> Option<&actix_web::rt::net::TcpStream> {
    use actix_web::rt::net::TcpStream;
    let plain = connection.downcast_ref::<TcpStream>();
    #[cfg(feature = "rustls-0_23")]
    let plain = plain.or_else(|| {
        connection
            .downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<TcpStream>>()
            .map(|tls| tls.get_ref().0)
    });
    plain
}

fn watch(connection: &dyn Any, extensions: &mut Extensions, hardening: Hardening) {
    let Some(stream) = socket_of(connection) else {
        // Another transport: its first head is timed by actix, its bodies
        // by the backstop.
        extensions.insert(Watched::unwatched(hardening));
        return;
    };
    let socket = match std::os::fd::AsFd::as_fd(stream).try_clone_to_owned() {
        Ok(fd) => std::net::TcpStream::from(fd),
        Err(error) => {
            tracing::warn!(target: "secure_api", %error, "a connection could not be watched for slow heads");
            extensions.insert(Watched::unwatched(hardening));
            return;
        }
    };
    let connection = Arc::new(Connection::new(Some(socket)));
    let changed = Arc::clone(&connection.changed);
    let weak = Arc::downgrade(&connection);
    extensions.insert(Watched {
        hardening,
        connection,
    });
    actix_web::rt::spawn(watchdog(weak, changed, hardening));
}

/// Shuts the connection's socket when no request head completes within
/// keep-alive plus head timeout of the last answer; ends with the
/// connection.
async fn watchdog(
    connection: Weak<Connection>,
    changed: Arc<tokio::sync::Notify>,
    hardening: Hardening,
) {
    let limit = hardening.keep_alive + hardening.head_timeout;
    loop {
        let Some(state) = connection.upgrade().map(|c| c.state()) else {
            return;
        };
        if state.in_flight > 0 {
            changed.notified().await;
            continue;
        }
        let deadline = state.idle_since + limit;
        if Instant::now() >= deadline {
            if let Some(connection) = connection.upgrade()
                && let Some(socket) = &connection.socket
            {
                tracing::debug!(target: "secure_api", "a request head did not arrive in time; closing the connection");
                let _ = socket.shutdown(Shutdown::Both);
            }
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

impl Connection {
    fn new(socket: Option<std::net::TcpStream>) -> Self {
        Self {
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: Instant::now(),
            }),
            changed: Arc::new(tokio::sync::Notify::new()),
            socket,
        }
    }

    fn state(&self) -> State {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_one();
    }
}

impl Watched {
    /// A connection whose heads are not watched (not plain TCP).
    fn unwatched(hardening: Hardening) -> Self {
        Self {
            hardening,
            connection: Arc::new(Connection::new(None)),
        }
    }

    /// A request's head arrived: the connection is busy until the
    /// returned guard (or the answer body it goes into) is dropped.
    pub(crate) fn begin(&self) -> InFlight {
        self.connection.update(|state| state.in_flight += 1);
        InFlight {
            connection: Arc::clone(&self.connection),
        }
    }
}

/// A request of a watched connection, not answered completely yet.
#[derive(Debug)]
pub(crate) struct InFlight {
    connection: Arc<Connection>,
}

impl InFlight {
    /// `body`, which keeps the request in flight until it has been sent
    /// (or dropped).
    pub(crate) fn track(self, body: BoxBody) -> BoxBody {
        BoxBody::new(Tracked {
            body,
            _in_flight: self,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.connection.update(|state| {
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
            }
        });
    }
}

/// An answer's body that marks its connection idle once sent.
struct Tracked {
    body: BoxBody,
    _in_flight: InFlight,
}

impl MessageBody for Tracked {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// A request body that must keep up a minimum average rate after a grace
/// period; when it falls behind, it ends with an error and `tripped` is set
/// (the backstop then answers 408 and closes the connection).
pub(crate) struct MinRate {
    inner: actix_web::dev::Payload,
    started: Instant,
    bytes: u64,
    rate: f64,
    grace: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    tripped: std::rc::Rc<std::cell::Cell<bool>>,
}

impl MinRate {
    pub(crate) fn new(
        inner: actix_web::dev::Payload,
        hardening: Hardening,
        tripped: std::rc::Rc<std::cell::Cell<bool>>,
    ) -> Self {
        let started = Instant::now();
        Self {
            inner,
            started,
            bytes: 0,
            rate: f64::from(hardening.min_body_rate.max(1)),
            grace: hardening.body_grace,
            timer: Box::pin(tokio::time::sleep_until(
                (started + hardening.body_grace).into(),
            )),
            tripped,
        }
    }

    /// When the body falls behind if nothing more arrives.
    fn deadline(&self) -> Instant {
        #[allow(clippy::cast_precision_loss)]
        let earned = Duration::from_secs_f64(self.bytes as f64 / self.rate);
        self.started + self.grace.max(earned)
    }
}

impl futures_core::Stream for MinRate {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.bytes += chunk.len() as u64;
                let deadline = this.deadline();
                this.timer.as_mut().reset(deadline.into());
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    if Instant::now() >= this.deadline() {
                        this.tripped.set(true);
                        return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the request body arrived too slowly",
                        )))));
                    }
                    let deadline = this.deadline();
                    this.timer.as_mut().reset(deadline.into());
                    let _ = this.timer.as_mut().poll(cx);
                }
                Poll::Pending
            }
            other => other,
        }
    }
}
