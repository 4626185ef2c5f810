//! What one request carries from the backstop to its audit event: its id,
//! when it started, and what the steps decided. The backstop runs every
//! request inside [`scope`], so any code on the request's path (a pipeline
//! step, an extractor's error handler, a problem being written) reaches it
//! without being handed the request.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest};
use bytes::Bytes;

use crate::auth::principal::Principal;

/// The header a request id travels in, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id kept from a client.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of one request: the client's `X-Request-Id` when it is 1 to 128
/// visible ASCII characters, else one generated here (32 hex digits).
///
/// Every answer carries it in `X-Request-Id`, every refusal's problem body
/// names it (`request_id`), and every log and audit event of the request
/// carries it. A handler can take it as an argument to pass it on.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::observe::RequestId;
///
/// assert_eq!(RequestId::accept("req-42").map(|id| id.to_string()), Some("req-42".to_owned()));
/// assert!(RequestId::accept("has space").is_none());
/// assert!(RequestId::accept(&"x".repeat(129)).is_none());
/// assert_eq!(RequestId::generate().as_str().len(), 32);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// `id` as a request id, if it is 1 to [`MAX_REQUEST_ID_LEN`] visible
    /// ASCII characters (`!` to `~`).
    pub fn accept(id: &str) -> Option<Self> {
        let fits = (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
            && crate::util::is_visible_ascii(id.as_bytes());
        if !fits {
            return None;
        }
        Self::from_text(Box::<[u8]>::from(id.as_bytes()))
    }

    /// An id from its text, checked already: the bytes are held once, and
    /// the answer's header shares them.
    fn from_text(text: impl AsRef<[u8]> + Send + 'static) -> Option<Self> {
        HeaderValue::from_maybe_shared(Bytes::from_owner(text))
            .ok()
            .map(Self)
    }

    /// A new id, unique to this request: a random 64-bit prefix drawn once
    /// per thread from the operating system, then the thread's count of ids
    /// (from a random start), as 32 hex digits. An id correlates log lines;
    /// it grants nothing, so it need not be unpredictable, and a request
    /// costs no system call for it.
    pub fn generate() -> Self {
        thread_local! {
            static NEXT: std::cell::Cell<(u64, u64)> = std::cell::Cell::new(thread_seed());
        }
        let (prefix, count) = NEXT.with(|next| {
            let (prefix, count) = next.get();
            next.set((prefix, count.wrapping_add(1)));
            (prefix, count)
        });
        let mut id = [0u8; 32];
        crate::util::hex_into(&prefix.to_be_bytes(), &mut id[..16]);
        crate::util::hex_into(&count.to_be_bytes(), &mut id[16..]);
        // Hex digits are always a header value.
        Self::from_text(id).unwrap_or_else(|| Self(HeaderValue::from_static("-")))
    }

    /// The request's id: the one in `headers`, when acceptable, else a new one.
    pub fn for_headers(headers: &HeaderMap) -> Self {
        headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(Self::accept)
            .unwrap_or_else(Self::generate)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Visible ASCII, so always text.
        std::str::from_utf8(self.0.as_bytes()).unwrap_or_default()
    }

    /// The id as a header value, sharing its bytes.
    pub(crate) fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }

    /// The id of the request being served on this task, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|context| context.id.clone()).ok()
    }
}

/// A thread's id prefix and first count: random when the operating system
/// gives randomness, else a process-wide count and 0, so ids stay unique
/// within the process.
fn thread_seed() -> (u64, u64) {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let random = || crate::util::random_bytes::<8>().map(u64::from_be_bytes);
    match (random(), random()) {
        (Ok(prefix), Ok(count)) => (prefix, count),
        _ => (FALLBACK.fetch_add(1, Ordering::Relaxed), 0),
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    /// The id of the request being served; outside a `SecureApp`, the
    /// request's header's (or a new one).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = Self::current().unwrap_or_else(|| Self::for_headers(req.headers()));
        std::future::ready(Ok(id))
    }
}

impl crate::input::Argument for RequestId {}

/// How a request ended, for its audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every rule let it through to its handler (or to the runtime's own
    /// answer, such as a preflight or the resource metadata).
    Allowed,
    /// A rule refused it.
    Refused,
    /// Answered from a store without the handler: an idempotent replay, a
    /// webhook delivery seen before.
    Replayed,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Refused => "refused",
            Self::Replayed => "replayed",
        }
    }
}

/// What decided a request. The last step to decide writes it.
#[derive(Debug)]
pub(crate) struct Decision {
    /// The route's pattern, once a secured route matched.
    pub(crate) route: Option<&'static str>,
    /// The caller, when a token proved who it is.
    pub(crate) caller: Option<Arc<Principal>>,
    /// The subject a request acted for without a token proving it (a
    /// reused refresh token's).
    pub(crate) sub: Option<String>,
    /// The account a handler acted on without a token (a login's).
    pub(crate) account: Option<String>,
    pub(crate) client: Option<IpAddr>,
    /// The rule that decided (`authentication`, `roles`, `limit`, ...).
    pub(crate) rule: &'static str,
    pub(crate) reason: Option<&'static str>,
    /// What the refusing rule asked for and the caller lacked (the roles
    /// or scopes of a `roles` or `scopes` refusal).
    pub(crate) needs: Option<&'static [&'static str]>,
    pub(crate) outcome: Outcome,
}

/// One request's context, shared by everything on its path.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) id: RequestId,
    pub(crate) started: Instant,
    pub(crate) decision: RefCell<Decision>,
}

tokio::task_local! {
    static CURRENT: Rc<Context>;
}

impl Context {
    pub(crate) fn new(id: RequestId) -> Rc<Self> {
        Rc::new(Self {
            id,
            started: Instant::now(),
            decision: RefCell::new(Decision {
                route: None,
                caller: None,
                sub: None,
                account: None,
                client: None,
                rule: "routing",
                reason: None,
                needs: None,
                outcome: Outcome::Allowed,
            }),
        })
    }
}

/// Runs `future` as the request `context` belongs to.
pub(crate) fn scope<F: Future>(context: Rc<Context>, future: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(context, future)
}

/// Runs `f` as the request `context` belongs to.
pub(crate) fn sync_scope<R>(context: Rc<Context>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(context, f)
}

/// Calls `f` with the id of the request being served on this task, if any.
pub(crate) fn with_current_id<R>(f: impl FnOnce(&str) -> R) -> Option<R> {
    CURRENT.try_with(|context| f(context.id.as_str())).ok()
}

/// Changes the current request's decision (nothing outside a request).
pub(crate) fn decide(f: impl FnOnce(&mut Decision)) {
    let _ = CURRENT.try_with(|context| f(&mut context.decision.borrow_mut()));
}

/// Records that `rule` refused the current request for `reason`.
pub(crate) fn refused(rule: &'static str, reason: &'static str) {
    decide(|decision| {
        decision.rule = rule;
        decision.reason = Some(reason);
        decision.outcome = Outcome::Refused;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_visible_ascii_of_at_most_128_characters() {
        for kept in ["a", "0f8e-4c1d", "trace=1;span=2", &"~".repeat(128)] {
            assert_eq!(
                RequestId::accept(kept).as_ref().map(RequestId::as_str),
                Some(kept)
            );
        }
        for refused in ["", " ", "a b", "tab\there", "é", "\u{7f}", &"x".repeat(129)] {
            assert!(RequestId::accept(refused).is_none(), "{refused:?}");
        }
    }

    #[test]
    fn generated_ids_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        let other = std::thread::spawn(|| RequestId::generate().to_string())
            .join()
            .unwrap_or_else(|_| panic!("the thread ran"));
        assert_ne!(a.as_str()[..16], other[..16], "another thread's prefix");
        for id in [a.as_str(), b.as_str(), &other] {
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn the_answers_header_shares_the_ids_bytes() {
        let Some(given) = RequestId::accept("req-\"7\"") else {
            panic!("a client's id of visible ASCII is kept");
        };
        for id in [RequestId::generate(), given] {
            let header = id.header_value();
            assert_eq!(header.to_str().ok(), Some(id.as_str()));
            assert_eq!(header.as_bytes().as_ptr(), id.as_str().as_ptr());
        }
        assert_eq!(
            format!("{:?}", RequestId::accept("req-1")),
            r#"Some(RequestId("req-1"))"#
        );
    }

    #[actix_web::test]
    async fn the_current_id_is_the_scoped_requests_only() {
        assert!(RequestId::current().is_none());
        let id = RequestId::generate();
        let inside = scope(Context::new(id.clone()), async { RequestId::current() }).await;
        assert_eq!(inside, Some(id));
        refused("roles", "outside any request: ignored");
    }
}
