//! The idempotency store: claimed keys and the answers they replay, in this
//! process or, with Redis, for every instance at once. The choice is made
//! when the store is built; callers claim, finish and release alike.
//!
//! Each caller has a budget of keys and answer bytes
//! ([`MAX_KEYS_PER_CALLER`], [`MAX_BYTES_PER_CALLER`]), in memory and in
//! Redis: a caller over theirs gets 429 until their oldest key expires, and
//! nobody else notices. The process-wide bounds stay, for memory's sake.

use std::collections::{HashMap, VecDeque};
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

/// The most keys one caller (a subject, or an anonymous caller's address)
/// holds at once; past it their new keys answer 429.
pub const MAX_KEYS_PER_CALLER: usize = 1_000;

/// The most answer bytes one caller's keys hold at once, with the same rule.
pub const MAX_BYTES_PER_CALLER: usize = 4 * 1024 * 1024;

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
    caller: String,
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
    caller: String,
    scope: Scope,
    fingerprint: [u8; 32],
    /// Claimed in Redis rather than in this process.
    shared: bool,
}

/// What one caller holds.
#[derive(Default)]
struct Budget {
    keys: usize,
    bytes: usize,
    /// Their keys by age (some may be gone already), to expire the oldest.
    claimed: VecDeque<(Instant, Scope)>,
}

#[derive(Default)]
struct Entries {
    by_scope: HashMap<Scope, Entry>,
    by_caller: HashMap<String, Budget>,
    /// Bytes of the stored answers' bodies.
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, scope: &Scope) {
        let Some(entry) = self.by_scope.remove(scope) else {
            return;
        };
        self.bytes -= entry.size();
        if let Some(budget) = self.by_caller.get_mut(&entry.caller) {
            budget.keys -= 1;
            budget.bytes -= entry.size();
            if budget.keys == 0 {
                self.by_caller.remove(&entry.caller);
            }
        }
    }

    fn drop_expired(&mut self, now: Instant) {
        let expired: Vec<Scope> = self
            .by_scope
            .iter()
            .filter(|(_, entry)| now.duration_since(entry.created) >= KEY_TTL)
            .map(|(scope, _)| scope.clone())
            .collect();
        for scope in &expired {
            self.remove(scope);
        }
    }

    /// Drops `caller`'s expired keys, oldest first; how long until their
    /// oldest live key expires.
    fn expire_caller(&mut self, caller: &str, now: Instant) -> Duration {
        loop {
            let Some(budget) = self.by_caller.get_mut(caller) else {
                return Duration::ZERO;
            };
            let Some((created, scope)) = budget.claimed.front().cloned() else {
                return Duration::ZERO;
            };
            let live = self
                .by_scope
                .get(&scope)
                .is_some_and(|entry| entry.created == created);
            if live && now.duration_since(created) < KEY_TTL {
                return KEY_TTL - now.duration_since(created);
            }
            budget.claimed.pop_front();
            if live {
                self.remove(&scope);
            }
        }
    }
}

/// The keys of every idempotent route in this process, shared by all workers.
struct Memory {
    entries: Mutex<Entries>,
    max_keys: usize,
    max_bytes: usize,
    max_keys_per_caller: usize,
    max_bytes_per_caller: usize,
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
            max_keys_per_caller: MAX_KEYS_PER_CALLER,
            max_bytes_per_caller: MAX_BYTES_PER_CALLER,
        }
    }

    /// Claims `scope`, one of `caller`'s keys, for a request with
    /// `fingerprint`.
    fn claim(&self, caller: &str, scope: Scope, fingerprint: [u8; 32]) -> Result<Local, Problem> {
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
        let over_budget = |entries: &Entries| {
            entries.by_caller.get(caller).is_some_and(|budget| {
                budget.keys >= self.max_keys_per_caller || budget.bytes >= self.max_bytes_per_caller
            })
        };
        if over_budget(&entries) {
            let wait = entries.expire_caller(caller, now);
            if over_budget(&entries) {
                return Err(over_budget_problem(wait));
            }
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
        let budget = entries.by_caller.entry(caller.to_owned()).or_default();
        budget.keys += 1;
        budget.claimed.push_back((now, scope.clone()));
        entries.by_scope.insert(
            scope,
            Entry {
                caller: caller.to_owned(),
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
            let before = entry.size();
            entry.state = State::Done(Stored {
                status,
                headers,
                body: body.clone(),
            });
            let caller = entry.caller.clone();
            entries.bytes = entries.bytes - before + body.len();
            if let Some(budget) = entries.by_caller.get_mut(&caller) {
                budget.bytes = budget.bytes - before + body.len();
            }
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

/// Claims `KEYS[1]` with the entry `ARGV[1]` for `ARGV[2]` ms, unless it
/// exists (`{1, entry}`) or the caller's budget `KEYS[2]` (a hash of their
/// keys, each `expiry_ms:bytes`) holds `ARGV[3]` keys or `ARGV[4]` bytes
/// already (`{2, ms until their oldest expires}`); `{0, ''}` when claimed.
const CLAIM: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local existing = redis.call('GET', KEYS[1])
if existing then return {1, existing} end
local ttl = tonumber(ARGV[2])
local fields = redis.call('HGETALL', KEYS[2])
local count, bytes, oldest = 0, 0, nil
for i = 1, #fields, 2 do
  local expiry, size = string.match(fields[i + 1], '^(%d+):(%d+)$')
  expiry = tonumber(expiry or '0')
  if expiry <= now then
    redis.call('HDEL', KEYS[2], fields[i])
  else
    count = count + 1
    bytes = bytes + tonumber(size)
    if oldest == nil or expiry < oldest then oldest = expiry end
  end
end
if count >= tonumber(ARGV[3]) or bytes >= tonumber(ARGV[4]) then
  return {2, tostring(oldest - now)}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('HSET', KEYS[2], KEYS[1], string.format('%d:0', now + ttl))
redis.call('PEXPIRE', KEYS[2], ttl)
return {0, ''}
";

/// Stores the answer `ARGV[1]` (`ARGV[2]` bytes) under the claimed
/// `KEYS[1]`, keeping its expiry, and counts its bytes in the budget
/// `KEYS[2]`. Nothing when the claim has expired meanwhile.
const FINISH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
local field = redis.call('HGET', KEYS[2], KEYS[1])
if field then
  local expiry = string.match(field, '^(%d+):') or '0'
  redis.call('HSET', KEYS[2], KEYS[1], expiry .. ':' .. ARGV[2])
end
return 1
";

/// Frees the claimed `KEYS[1]` and its place in the budget `KEYS[2]`.
const RELEASE: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], KEYS[1])
return 1
";

static SCRIPTS: std::sync::LazyLock<[redis::Script; 3]> = std::sync::LazyLock::new(|| {
    [
        redis::Script::new(CLAIM),
        redis::Script::new(FINISH),
        redis::Script::new(RELEASE),
    ]
});

/// A key claimed in Redis: its own name and its caller's budget.
struct SharedKeys {
    key: String,
    budget: String,
}

impl SharedKeys {
    fn of(caller: &str, scope: &str) -> Self {
        Self {
            key: keys::idempotency(scope),
            budget: keys::idempotency_budget(caller),
        }
    }
}

/// Like [`Memory::claim`], for every instance at once: the key is claimed in
/// Redis within the caller's budget, and a repeat is answered from there.
async fn claim_shared(
    shared: &Shared,
    at: &SharedKeys,
    fingerprint: [u8; 32],
) -> Result<Result<Local, Problem>, SharedError> {
    let entry = SharedEntry {
        fingerprint: hex(&fingerprint),
        answer: None,
    };
    let text = serde_json::to_vec(&entry).unwrap_or_default();
    let ttl = KEY_TTL.as_millis().to_string();
    let (outcome, value): (i64, Vec<u8>) = shared
        .run_script(
            &SCRIPTS[0],
            &[&at.key, &at.budget],
            &[
                &text,
                ttl.as_bytes(),
                MAX_KEYS_PER_CALLER.to_string().as_bytes(),
                MAX_BYTES_PER_CALLER.to_string().as_bytes(),
            ],
        )
        .await?;
    match outcome {
        0 => return Ok(Ok(Local::Run)),
        2 => {
            let wait = std::str::from_utf8(&value)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::ZERO, Duration::from_millis);
            return Ok(Err(over_budget_problem(wait)));
        }
        _ => {}
    }
    let Ok(stored) = serde_json::from_slice::<SharedEntry>(&value) else {
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
    at: &SharedKeys,
    fingerprint: [u8; 32],
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), SharedError> {
    if status.is_server_error() {
        return release_shared(shared, at).await;
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
    let size = text.len().to_string();
    shared
        .run_script::<i64>(
            &SCRIPTS[1],
            &[&at.key, &at.budget],
            &[&text, size.as_bytes()],
        )
        .await
        .map(drop)
}

async fn release_shared(shared: &Shared, at: &SharedKeys) -> Result<(), SharedError> {
    shared
        .run_script::<i64>(&SCRIPTS[2], &[&at.key, &at.budget], &[])
        .await
        .map(drop)
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

    /// Claims `scope` (route, caller and key), one of `caller`'s keys, for
    /// a request with `fingerprint`: run it, replay the stored answer, or a
    /// refusal (422 for another request under the key, 409 while it runs,
    /// 429 over the caller's budget, 503 when the store is full).
    pub(crate) async fn claim(
        &self,
        caller: String,
        scope: String,
        fingerprint: [u8; 32],
    ) -> Result<Claim, Problem> {
        if let Some(shared) = &self.redis {
            match claim_shared(shared, &SharedKeys::of(&caller, &scope), fingerprint).await {
                Ok(Ok(Local::Run)) => {
                    return Ok(Claim::Run(Claimed {
                        caller,
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
        Ok(
            match self.memory.claim(&caller, scope.clone(), fingerprint)? {
                Local::Run => Claim::Run(Claimed {
                    caller,
                    scope,
                    fingerprint,
                    shared: false,
                }),
                Local::Replay(response) => Claim::Replay(response),
            },
        )
    }

    /// Frees a claimed key whose request failed before it was answered.
    pub(crate) async fn release(&self, claimed: &Claimed) {
        match (&self.redis, claimed.shared) {
            (Some(shared), true) => {
                let at = SharedKeys::of(&claimed.caller, &claimed.scope);
                if let Err(error) = release_shared(shared, &at).await {
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
                let at = SharedKeys::of(&claimed.caller, &claimed.scope);
                if let Err(error) =
                    finish_shared(shared, &at, claimed.fingerprint, status, headers, body).await
                {
                    tracing::warn!(target: "secure_api", %error, "an answer could not be kept for replays");
                }
            }
            _ => self.memory.finish(&claimed.scope, status, headers, body),
        }
    }
}

/// The answer to a caller over their budget: 429 until their oldest key
/// expires.
fn over_budget_problem(wait: Duration) -> Problem {
    let secs = wait.as_secs().max(1);
    Problem::new(StatusCode::TOO_MANY_REQUESTS)
        .with_detail("you hold too many `Idempotency-Key`s at once; retry once older ones expire")
        .with_header(RETRY_AFTER, HeaderValue::from(secs))
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
mod tests;
