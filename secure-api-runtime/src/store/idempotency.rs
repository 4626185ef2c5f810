//! The idempotency store: claimed keys and the answers they replay, in this
//! process or, with Redis, for every instance at once. The choice is made
//! when the store is built; callers claim, finish and release alike.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::web::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::problem::Problem;
use crate::shared::{Shared, SharedError, keys};
use crate::util::hex;

/// How long a stored answer is replayed.
pub const KEY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The most keys kept at once; past it, expired keys are dropped, and if
/// none has expired a new key is refused (503) until some do.
pub const MAX_KEYS: usize = 100_000;

/// The most answer bytes kept at once, with the same rule as [`MAX_KEYS`].
pub const MAX_STORED_BYTES: usize = 64 * 1024 * 1024;

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

/// Which request a key belongs to: route, caller and key, as one string.
type Scope = String;

/// What the memory store decided for a key.
enum Local {
    Run,
    Replay(HttpResponse),
}

/// What to do with a request that carries a key.
pub(crate) enum Claim {
    /// First use: run it, then [`IdempotencyStore::finish`] (or
    /// [`IdempotencyStore::release`] when it fails before an answer).
    Run(Claimed),
    /// Seen before: answer this.
    Replay(HttpResponse),
}

/// A key claimed for one request, where the store keeps it.
pub(crate) struct Claimed {
    scope: Scope,
    fingerprint: [u8; 32],
    /// Claimed in Redis rather than in this process.
    shared: bool,
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

/// The keys of every idempotent route in this process, shared by all workers.
struct Memory {
    entries: Mutex<Entries>,
    max_keys: usize,
    max_bytes: usize,
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("max_keys", &self.max_keys)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::with_bounds(MAX_KEYS, MAX_STORED_BYTES)
    }
}

impl Memory {
    fn with_bounds(max_keys: usize, max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            max_keys,
            max_bytes,
        }
    }

    /// Claims `scope` for a request with `fingerprint`.
    fn claim(&self, scope: Scope, fingerprint: [u8; 32]) -> Result<Local, Problem> {
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
                    State::Done(stored) => Ok(Local::Replay(replay(stored))),
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
        Ok(Local::Run)
    }

    /// Stores the answer to a claimed request; a server error frees the key
    /// instead, so the client may retry.
    fn finish(&self, scope: &Scope, status: StatusCode, headers: &HeaderMap, body: &Bytes) {
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
    fn abandon(&self, scope: &Scope) {
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

/// Like [`Memory::claim`], for every instance at once: the key is claimed in
/// Redis (`SET NX`), and a repeat is answered from there.
async fn claim_shared(
    shared: &Shared,
    key: &str,
    fingerprint: [u8; 32],
) -> Result<Result<Local, Problem>, SharedError> {
    let entry = SharedEntry {
        fingerprint: hex(&fingerprint),
        answer: None,
    };
    let text = serde_json::to_vec(&entry).unwrap_or_default();
    if shared.set_new(key, &text, KEY_TTL).await? {
        return Ok(Ok(Local::Run));
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
    Ok(Ok(Local::Replay(replay(&stored))))
}

/// Like [`Memory::finish`], in the shared store.
async fn finish_shared(
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

/// The idempotency keys of every route: in this process, or in Redis when
/// the fleet shares one (falling back to this process's own keys when Redis
/// fails and the store fails open).
pub(crate) struct IdempotencyStore {
    memory: Memory,
    redis: Option<Shared>,
}

impl fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("memory", &self.memory)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

impl IdempotencyStore {
    pub(crate) fn new(redis: Option<Shared>) -> Self {
        Self {
            memory: Memory::default(),
            redis,
        }
    }

    /// Claims `scope` (route, caller and key) for a request with
    /// `fingerprint`: run it, replay the stored answer, or a refusal (422
    /// for another request under the key, 409 while it runs, 503 when full).
    pub(crate) async fn claim(
        &self,
        scope: String,
        fingerprint: [u8; 32],
    ) -> Result<Claim, Problem> {
        if let Some(shared) = &self.redis {
            let key = keys::idempotency(&scope);
            match claim_shared(shared, &key, fingerprint).await {
                Ok(Ok(Local::Run)) => {
                    return Ok(Claim::Run(Claimed {
                        scope,
                        fingerprint,
                        shared: true,
                    }));
                }
                Ok(Ok(Local::Replay(response))) => return Ok(Claim::Replay(response)),
                Ok(Err(problem)) => return Err(problem),
                Err(error) => shared.unavailable("idempotency keys", &error)?,
            }
        }
        Ok(match self.memory.claim(scope.clone(), fingerprint)? {
            Local::Run => Claim::Run(Claimed {
                scope,
                fingerprint,
                shared: false,
            }),
            Local::Replay(response) => Claim::Replay(response),
        })
    }

    /// Frees a claimed key whose request failed before it was answered.
    pub(crate) async fn release(&self, claimed: &Claimed) {
        match (&self.redis, claimed.shared) {
            (Some(shared), true) => {
                if let Err(error) = shared.delete(&keys::idempotency(&claimed.scope)).await {
                    tracing::warn!(target: "secure_api", %error, "an idempotency key could not be freed");
                }
            }
            _ => self.memory.abandon(&claimed.scope),
        }
    }

    /// Stores the answer to a claimed request; a server error frees the key
    /// instead, so the client may retry.
    pub(crate) async fn finish(
        &self,
        claimed: &Claimed,
        status: StatusCode,
        headers: &HeaderMap,
        body: &Bytes,
    ) {
        match (&self.redis, claimed.shared) {
            (Some(shared), true) => {
                let key = keys::idempotency(&claimed.scope);
                if let Err(error) =
                    finish_shared(shared, &key, claimed.fingerprint, status, headers, body).await
                {
                    tracing::warn!(target: "secure_api", %error, "an answer could not be kept for replays");
                }
            }
            _ => self.memory.finish(&claimed.scope, status, headers, body),
        }
    }
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
    use actix_web::http::Method;

    fn scope(key: &str) -> Scope {
        format!("POST /a:sub:7:{key}")
    }

    fn fp(body: &[u8]) -> [u8; 32] {
        crate::idempotency::fingerprint(&Method::POST, "/a", body)
    }

    fn refused_with(result: Result<Local, Problem>, status: StatusCode) -> bool {
        result.is_err_and(|p| p.status() == status)
    }

    #[test]
    fn the_first_use_runs_a_replay_answers_a_changed_request_is_refused() {
        let store = Memory::default();
        let print = fp(b"{}");
        assert!(matches!(store.claim(scope("k"), print), Ok(Local::Run)));
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
        let Ok(Local::Replay(response)) = store.claim(scope("k"), print) else {
            panic!("a replay")
        };
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert!(response.headers().contains_key("idempotent-replayed"));
        let other = fp(b"{\"x\":1}");
        assert!(refused_with(
            store.claim(scope("k"), other),
            StatusCode::UNPROCESSABLE_ENTITY
        ));
    }

    #[test]
    fn server_errors_free_the_key() {
        let store = Memory::default();
        let print = fp(b"");
        assert!(matches!(store.claim(scope("k"), print), Ok(Local::Run)));
        store.finish(
            &scope("k"),
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            &Bytes::new(),
        );
        assert!(matches!(store.claim(scope("k"), print), Ok(Local::Run)));
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let store = Memory::with_bounds(3, MAX_STORED_BYTES);
        for key in ["a", "b", "c"] {
            assert!(matches!(store.claim(scope(key), [0; 32]), Ok(Local::Run)));
        }
        assert!(refused_with(
            store.claim(scope("d"), [0; 32]),
            StatusCode::SERVICE_UNAVAILABLE
        ));
        // A freed key makes room again.
        store.abandon(&scope("a"));
        assert!(matches!(store.claim(scope("d"), [0; 32]), Ok(Local::Run)));
    }

    #[test]
    fn the_stored_bytes_are_bounded() {
        let store = Memory::with_bounds(MAX_KEYS, 1000);
        assert!(matches!(store.claim(scope("a"), [0; 32]), Ok(Local::Run)));
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
            Ok(Local::Replay(_))
        ));
        store.abandon(&scope("a"));
        assert!(matches!(store.claim(scope("b"), [0; 32]), Ok(Local::Run)));
    }
}
