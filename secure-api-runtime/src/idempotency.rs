//! `#[idempotent]` (OWASP API6): a route that requires an `Idempotency-Key`
//! header. The first request with a key runs and its answer is stored; a
//! replay with the same key and the same request gets the stored answer
//! without running the handler again; the same key with a different request
//! is refused (422). Keys are scoped to the caller and the route, and expire
//! after [`KEY_TTL`]; the store holds at most [`MAX_KEYS`] keys and
//! [`MAX_STORED_BYTES`] of answers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use sha2::{Digest as _, Sha256};

use crate::auth::jwt::hex;
use crate::problem::Problem;
use crate::shared::{Shared, SharedError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// How long a stored answer is replayed.
pub const KEY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The most keys kept at once; past it, expired keys are dropped, and if
/// none has expired a new key is refused (503) until some do.
pub const MAX_KEYS: usize = 100_000;

/// The most answer bytes kept at once, with the same rule as [`MAX_KEYS`].
pub const MAX_STORED_BYTES: usize = 64 * 1024 * 1024;

/// The longest `Idempotency-Key` accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A stored answer.
struct Stored {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

enum State {
    InFlight,
    Done(Stored),
}

struct Entry {
    fingerprint: [u8; 32],
    created: Instant,
    state: State,
}

impl Entry {
    fn size(&self) -> usize {
        match &self.state {
            State::InFlight => 0,
            State::Done(stored) => stored.body.len(),
        }
    }
}

/// Which request a key belongs to: caller, route and key.
pub(crate) type Scope = (String, usize, String);

/// What to do with a request that carries a key.
pub(crate) enum Claim {
    /// First use: run it, then [`Idempotency::finish`].
    Run,
    /// Seen before: answer this.
    Replay(HttpResponse),
}

#[derive(Default)]
struct Entries {
    by_scope: HashMap<Scope, Entry>,
    /// Bytes of the stored answers' bodies.
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, scope: &Scope) {
        if let Some(entry) = self.by_scope.remove(scope) {
            self.bytes -= entry.size();
        }
    }

    fn drop_expired(&mut self, now: Instant) {
        let mut freed = 0;
        self.by_scope.retain(|_, entry| {
            let keep = now.duration_since(entry.created) < KEY_TTL;
            if !keep {
                freed += entry.size();
            }
            keep
        });
        self.bytes -= freed;
    }
}

/// The keys of every idempotent route, shared by all workers.
pub(crate) struct Idempotency {
    entries: Mutex<Entries>,
    max_keys: usize,
    max_bytes: usize,
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("max_keys", &self.max_keys)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Idempotency {
    fn default() -> Self {
        Self::with_bounds(MAX_KEYS, MAX_STORED_BYTES)
    }
}

/// The request's `Idempotency-Key`: one header of 1 to 255 visible ASCII
/// characters; a 400 problem otherwise.
pub(crate) fn key_of(headers: &HeaderMap) -> Result<String, Problem> {
    let bad = |detail: &str| Problem::new(StatusCode::BAD_REQUEST).with_detail(detail);
    let mut values = headers.get_all(IDEMPOTENCY_KEY);
    let value = values
        .next()
        .ok_or_else(|| bad("this route needs an `Idempotency-Key` header"))?;
    if values.next().is_some() {
        return Err(bad("send one `Idempotency-Key` header"));
    }
    let key = value
        .to_str()
        .map_err(|_| bad("the `Idempotency-Key` is not visible ASCII"))?;
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "the `Idempotency-Key` is 1 to 255 visible ASCII characters",
        ));
    }
    Ok(key.to_owned())
}

/// What identifies "the same request": method, path, query and body.
pub(crate) fn fingerprint(method: &Method, uri: &str, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update([0]);
    hash.update(uri.as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.finalize().into()
}

impl Idempotency {
    fn with_bounds(max_keys: usize, max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            max_keys,
            max_bytes,
        }
    }

    /// Claims `scope` for a request with `fingerprint`.
    pub(crate) fn claim(&self, scope: Scope, fingerprint: [u8; 32]) -> Result<Claim, Problem> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if let Some(entry) = entries.by_scope.get(&scope) {
            if now.duration_since(entry.created) < KEY_TTL {
                if entry.fingerprint != fingerprint {
                    return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                        .with_detail("this `Idempotency-Key` was used for a different request"));
                }
                return match &entry.state {
                    State::InFlight => Err(Problem::new(StatusCode::CONFLICT).with_detail(
                        "a request with this `Idempotency-Key` is still being processed",
                    )),
                    State::Done(stored) => Ok(Claim::Replay(replay(stored))),
                };
            }
            entries.remove(&scope);
        }
        let full = |entries: &Entries| {
            entries.by_scope.len() >= self.max_keys || entries.bytes >= self.max_bytes
        };
        if full(&entries) {
            entries.drop_expired(now);
            if full(&entries) {
                return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("too many answers are being remembered; try again later")
                    .with_header(RETRY_AFTER, HeaderValue::from_static("60")));
            }
        }
        entries.by_scope.insert(
            scope,
            Entry {
                fingerprint,
                created: now,
                state: State::InFlight,
            },
        );
        Ok(Claim::Run)
    }

    /// Stores the answer to a claimed request; a server error frees the key
    /// instead, so the client may retry.
    pub(crate) fn finish(
        &self,
        scope: &Scope,
        status: StatusCode,
        headers: &HeaderMap,
        body: &Bytes,
    ) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if status.is_server_error() {
            entries.remove(scope);
            return;
        }
        if let Some(entry) = entries.by_scope.get_mut(scope) {
            let headers = headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            entry.state = State::Done(Stored {
                status,
                headers,
                body: body.clone(),
            });
            entries.bytes += body.len();
        }
    }

    /// Frees a claimed key whose request failed before it was answered.
    pub(crate) fn abandon(&self, scope: &Scope) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(scope);
    }
}

/// A claimed key in the shared store, as JSON: the request's fingerprint
/// and, once answered, the answer (header values and body in base64).
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedEntry {
    fingerprint: String,
    answer: Option<SharedAnswer>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SharedAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// Like [`Idempotency::claim`], for every instance at once: the key is
/// claimed in Redis (`SET NX`), and a repeat is answered from there.
pub(crate) async fn claim_shared(
    shared: &Shared,
    key: &str,
    fingerprint: [u8; 32],
) -> Result<Result<Claim, Problem>, SharedError> {
    let entry = SharedEntry {
        fingerprint: hex(&fingerprint),
        answer: None,
    };
    let text = serde_json::to_vec(&entry).unwrap_or_default();
    if shared.set_new(key, &text, KEY_TTL).await? {
        return Ok(Ok(Claim::Run));
    }
    let Some(stored) = shared.get(key).await? else {
        // Expired between the two calls: claim it again next time.
        return Ok(Err(Problem::new(StatusCode::CONFLICT).with_detail(
            "a request with this `Idempotency-Key` is still being processed",
        )));
    };
    let Ok(stored) = serde_json::from_slice::<SharedEntry>(&stored) else {
        return Ok(Err(Problem::new(StatusCode::CONFLICT)
            .with_detail("this `Idempotency-Key` cannot be replayed")));
    };
    if stored.fingerprint != entry.fingerprint {
        return Ok(Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail(
                "this `Idempotency-Key` was used for a different request",
            )));
    }
    let Some(answer) = stored.answer else {
        return Ok(Err(Problem::new(StatusCode::CONFLICT).with_detail(
            "a request with this `Idempotency-Key` is still being processed",
        )));
    };
    let decode = |text: &str| STANDARD.decode(text).unwrap_or_default();
    let stored = Stored {
        status: StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
        headers: answer
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_bytes(name.as_bytes()).ok()?,
                    HeaderValue::from_bytes(&decode(value)).ok()?,
                ))
            })
            .collect(),
        body: Bytes::from(decode(&answer.body)),
    };
    Ok(Ok(Claim::Replay(replay(&stored))))
}

/// Like [`Idempotency::finish`], in the shared store.
pub(crate) async fn finish_shared(
    shared: &Shared,
    key: &str,
    fingerprint: [u8; 32],
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), SharedError> {
    if status.is_server_error() {
        return shared.delete(key).await;
    }
    let entry = SharedEntry {
        fingerprint: hex(&fingerprint),
        answer: Some(SharedAnswer {
            status: status.as_u16(),
            headers: headers
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), STANDARD.encode(value.as_bytes())))
                .collect(),
            body: STANDARD.encode(body),
        }),
    };
    let text = serde_json::to_vec(&entry).unwrap_or_default();
    shared.set(key, &text, KEY_TTL).await
}

fn replay(stored: &Stored) -> HttpResponse {
    let mut response = HttpResponse::build(stored.status);
    for (name, value) in &stored.headers {
        response.insert_header((name.clone(), value.clone()));
    }
    response.insert_header((
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    ));
    response.body(stored.body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str) -> Scope {
        ("7".to_owned(), 1, key.to_owned())
    }

    fn refused_with(result: Result<Claim, Problem>, status: StatusCode) -> bool {
        result.is_err_and(|p| p.status() == status)
    }

    #[test]
    fn the_first_use_runs_a_replay_answers_a_changed_request_is_refused() {
        let store = Idempotency::default();
        let print = fingerprint(&Method::POST, "/a", b"{}");
        assert!(matches!(store.claim(scope("k"), print), Ok(Claim::Run)));
        assert!(refused_with(
            store.claim(scope("k"), print),
            StatusCode::CONFLICT
        ));
        store.finish(
            &scope("k"),
            StatusCode::ACCEPTED,
            &HeaderMap::new(),
            &Bytes::from_static(b"{\"ok\":1}"),
        );
        let Ok(Claim::Replay(response)) = store.claim(scope("k"), print) else {
            panic!("a replay")
        };
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert!(response.headers().contains_key("idempotent-replayed"));
        let other = fingerprint(&Method::POST, "/a", b"{\"x\":1}");
        assert!(refused_with(
            store.claim(scope("k"), other),
            StatusCode::UNPROCESSABLE_ENTITY
        ));
    }

    #[test]
    fn server_errors_free_the_key() {
        let store = Idempotency::default();
        let print = fingerprint(&Method::POST, "/a", b"");
        assert!(matches!(store.claim(scope("k"), print), Ok(Claim::Run)));
        store.finish(
            &scope("k"),
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            &Bytes::new(),
        );
        assert!(matches!(store.claim(scope("k"), print), Ok(Claim::Run)));
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let store = Idempotency::with_bounds(3, MAX_STORED_BYTES);
        for key in ["a", "b", "c"] {
            assert!(matches!(store.claim(scope(key), [0; 32]), Ok(Claim::Run)));
        }
        assert!(refused_with(
            store.claim(scope("d"), [0; 32]),
            StatusCode::SERVICE_UNAVAILABLE
        ));
        // A freed key makes room again.
        store.abandon(&scope("a"));
        assert!(matches!(store.claim(scope("d"), [0; 32]), Ok(Claim::Run)));
    }

    #[test]
    fn the_stored_bytes_are_bounded() {
        let store = Idempotency::with_bounds(MAX_KEYS, 1000);
        assert!(matches!(store.claim(scope("a"), [0; 32]), Ok(Claim::Run)));
        store.finish(
            &scope("a"),
            StatusCode::OK,
            &HeaderMap::new(),
            &Bytes::from(vec![b'x'; 1000]),
        );
        assert!(refused_with(
            store.claim(scope("b"), [0; 32]),
            StatusCode::SERVICE_UNAVAILABLE
        ));
        // The stored answer still replays, and freeing it makes room.
        assert!(matches!(
            store.claim(scope("a"), [0; 32]),
            Ok(Claim::Replay(_))
        ));
        store.abandon(&scope("a"));
        assert!(matches!(store.claim(scope("b"), [0; 32]), Ok(Claim::Run)));
    }

    #[test]
    fn key_forms() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(IDEMPOTENCY_KEY), value);
            }
            key_of(&headers).map_err(|p| p.status())
        };
        assert_eq!(with("order-42-execute"), Ok("order-42-execute".to_owned()));
        assert_eq!(with(""), Err(StatusCode::BAD_REQUEST));
        assert_eq!(with("has space"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(with(&"k".repeat(256)), Err(StatusCode::BAD_REQUEST));
        assert_eq!(
            key_of(&HeaderMap::new()).map_err(|p| p.status()),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
