//! The connection to the Redis shared by every instance of an API behind a
//! load balancer, and the commands the runtime's stores send it: one script
//! that decides the quotas and the denylist lookups of the requests that
//! arrive together in a single round trip, and plain keys for webhook ids
//! and idempotency keys. Every key name is made in [`keys`].
//!
//! Chosen by configuration (`REDIS_URL`); without it, each process keeps
//! that state in memory. When Redis cannot be reached, [`Unavailable`]
//! decides: fall back to the process's own state, or answer 503.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{OnceCell, oneshot};

use crate::problem::Problem;

/// What to do when Redis cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unavailable {
    /// Answer 503 with `Retry-After` (the default): no instance decides
    /// alone what the fleet decides together.
    #[default]
    FailClosed,
    /// Fall back to this instance's own limits and denylist, and log a
    /// warning (at most one every 10 seconds).
    FailOpen,
}

/// The store decisions of a batch of requests, in their order, at once:
/// for each request, GCRA over its quotas (every quota must allow the
/// request, and only then is it counted against all of them), then, when
/// asked, whether its access token is denied. A request counted here is
/// seen by the next one, so two requests of one batch on one key are
/// decided as two requests in a row; each key is read once a batch and
/// written once at its end. Times are microseconds from Redis's own clock,
/// so every instance shares one clock (below 2^53, so Lua's numbers hold
/// them exactly).
///
/// `ARGV[1]`: the number of requests. Then for each request, in order: its
/// number of quotas `n`, `1` when its token is to be looked up (else `0`),
/// and for each quota its emission interval and its period (µs; the burst
/// is `period / interval`). `KEYS`: for each request, its `n` quota keys,
/// then its token's denylist key when looked up. Returns three numbers a
/// request: `1, 0, 0` when allowed, `0, i, wait` when its quota `i`
/// refuses, `2, 0, 0` when its token is denied (its quotas are counted).
const DECIDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat_of = {}
local counted = {}
local to_write = {}
local denied = {}
local answers = {}
local k = 0
local a = 1
for r = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a + 1])
  local deny = ARGV[a + 2] == '1'
  a = a + 2
  local tats = {}
  local refused = false
  for i = 1, n do
    local key = KEYS[k + i]
    local interval = tonumber(ARGV[a + 2 * i - 1])
    local period = tonumber(ARGV[a + 2 * i])
    local tat = tat_of[key]
    if tat == nil then
      tat = tonumber(redis.call('GET', key) or '0')
      tat_of[key] = tat
    end
    if tat < now then tat = now end
    local next_tat = tat + interval
    if next_tat - now > period then
      answers[#answers + 1] = 0
      answers[#answers + 1] = i
      answers[#answers + 1] = next_tat - now - period
      refused = true
      break
    end
    tats[i] = next_tat
  end
  if not refused then
    for i = 1, n do
      local key = KEYS[k + i]
      if not counted[key] then
        counted[key] = true
        to_write[#to_write + 1] = key
      end
      tat_of[key] = tats[i]
    end
    local verdict = 1
    if deny then
      local key = KEYS[k + n + 1]
      if denied[key] == nil then
        denied[key] = redis.call('EXISTS', key) == 1
      end
      if denied[key] then verdict = 2 end
    end
    answers[#answers + 1] = verdict
    answers[#answers + 1] = 0
    answers[#answers + 1] = 0
  end
  a = a + 2 * n
  k = k + n
  if deny then k = k + 1 end
end
for _, key in ipairs(to_write) do
  local tat = tat_of[key]
  redis.call('SET', key, string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1)
end
return answers
";

/// The longest wait of the throttled keys, in ms (0 when none waits), on
/// Redis's clock. `KEYS`: an account's and an address's throttle keys.
const THROTTLE_WAIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, #KEYS do
  local blocked = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
  if blocked - now > wait then wait = blocked - now end
end
return wait
";

/// Counts a failure against each key with its backoff: `ARGV[4i-3..4i]` are
/// key i's free failures, first wait, longest wait and how long a count is
/// kept (ms). A key's count starts again after that long without failures; each failure past
/// the free ones doubles the wait, up to the longest.
const THROTTLE_FAIL: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  local free = tonumber(ARGV[4 * i - 3])
  local base = tonumber(ARGV[4 * i - 2])
  local max = tonumber(ARGV[4 * i - 1])
  local window = tonumber(ARGV[4 * i])
  local count = tonumber(redis.call('HGET', KEYS[i], 'count') or '0')
  local last = tonumber(redis.call('HGET', KEYS[i], 'last') or '0')
  if now - last >= window then count = 0 end
  count = count + 1
  local delay = 0
  if count >= free then
    delay = math.min(base * 2 ^ math.min(count - free, 20), max)
  end
  redis.call('HSET', KEYS[i], 'count', count, 'last', now, 'until', string.format('%d', now + delay))
  redis.call('PEXPIRE', KEYS[i], math.max(window, delay) + 1000)
end
return 1
";

/// The name of every key the runtime keeps in Redis, in one place.
pub(crate) mod keys {
    use crate::policy::Quota;

    /// A quota of the limiter `limiter` (the route, or `default ...`) for `who`.
    pub(crate) fn limit(limiter: &str, quota: Quota, who: &str) -> String {
        format!(
            "secure_api:limit:{limiter}:{}/{}s:{who}",
            quota.count, quota.period_secs
        )
    }

    /// A denied access token.
    pub(crate) fn deny(jti: &str) -> String {
        format!("secure_api:deny:{jti}")
    }

    /// A webhook delivery id seen on the route `scope`.
    pub(crate) fn webhook(scope: &str, id: &str) -> String {
        format!("secure_api:webhook:{scope}:{id}")
    }

    /// An idempotency key: route, caller and key.
    pub(crate) fn idempotency(scope: &str) -> String {
        format!("secure_api:idempotency:{scope}")
    }

    /// The idempotency keys a caller holds, with their expiry and size.
    pub(crate) fn idempotency_budget(caller: &str) -> String {
        format!("secure_api:idempotency_budget:{caller}")
    }

    /// The failed logins of an `account` or an `address` (`kind`).
    pub(crate) fn throttle(kind: &str, id: &str) -> String {
        format!("secure_api:throttle:{kind}:{id}")
    }
}

/// What Redis decided for a request's quotas and token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decided {
    /// Every quota allows the request and the token is not denied.
    Allowed,
    /// Quota `i` (from 0, in the order given) refuses for this long.
    Refused(usize, Duration),
    /// The token is denied.
    Denied,
}

/// A connection to the fleet's Redis. Cheap to clone.
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    on_unavailable: Unavailable,
    script: redis::Script,
    /// The decisions waiting for the next round trip (see [`Shared::decide`]).
    batch: Mutex<Vec<Pending>>,
    throttle_wait: redis::Script,
    throttle_fail: redis::Script,
    warned: Mutex<Option<Instant>>,
    /// After a failure Redis is not asked again for a moment, so an outage
    /// does not add a timeout to every request.
    down_until: Mutex<Option<Instant>>,
}

/// How long Redis is left alone after a failure.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The most decisions one script call carries, so a burst never holds
/// Redis (which runs one script at a time) for long.
const MOST_PER_CALL: usize = 256;

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the choice is shown.
        f.debug_struct("Shared")
            .field("on_unavailable", &self.inner.on_unavailable)
            .finish_non_exhaustive()
    }
}

/// A decision Redis could not make.
#[derive(Clone, Debug)]
pub(crate) enum SharedError {
    /// Redis answered with an error or not at all.
    Redis(redis::RedisError),
    /// Redis failed a moment ago and is not asked again yet.
    Paused,
    /// The task sending the decision stopped before it was answered (the
    /// runtime is shutting down).
    Lost,
}

/// One request's decision waiting in the batch: its quotas (each a key, an
/// emission interval and a period, in µs), its token's denylist key when it
/// is looked up, and where the answer goes.
struct Pending {
    quotas: Vec<(String, u64, u64)>,
    deny: Option<String>,
    reply: oneshot::Sender<Result<Decided, SharedError>>,
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(error) => write!(f, "{error}"),
            Self::Paused => f.write_str("Redis failed a moment ago"),
            Self::Lost => f.write_str("the decision was not sent"),
        }
    }
}

impl Shared {
    /// A Redis at `url` (`redis://host:port/db`); nothing is connected until
    /// the first decision.
    pub fn new(url: &str, on_unavailable: Unavailable) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|_| "REDIS_URL is not a valid redis:// URL".to_owned())?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                manager: OnceCell::new(),
                on_unavailable,
                script: redis::Script::new(DECIDE),
                batch: Mutex::new(Vec::new()),
                throttle_wait: redis::Script::new(THROTTLE_WAIT),
                throttle_fail: redis::Script::new(THROTTLE_FAIL),
                warned: Mutex::new(None),
                down_until: Mutex::new(None),
            }),
        })
    }

    /// What happens when Redis cannot be reached.
    pub fn on_unavailable(&self) -> Unavailable {
        self.inner.on_unavailable
    }

    async fn connection(&self) -> Result<ConnectionManager, SharedError> {
        let paused = self
            .inner
            .down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| Instant::now() < until);
        if paused {
            return Err(SharedError::Paused);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        self.inner
            .manager
            .get_or_try_init(|| {
                ConnectionManager::new_with_config(self.inner.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(|e| self.failed(e))
    }

    /// Records a failure: Redis is left alone for a moment.
    fn failed(&self, error: redis::RedisError) -> SharedError {
        crate::observe::metrics::redis_error();
        *self
            .inner
            .down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + PAUSE_AFTER_FAILURE);
        SharedError::Redis(error)
    }

    /// Decides `quotas` (each a key, an emission interval and a period, in
    /// µs) and, when given, whether the token `deny` is denied.
    ///
    /// The decisions of requests that arrive together are sent together:
    /// the first to find the batch empty starts a task that runs after
    /// every request ready on its worker has added its own, then sends them
    /// all in one script call and hands each its answer. One request alone
    /// makes one round trip; under load, a round trip decides many. Redis
    /// decides them in order, each seeing the ones before it, so quotas
    /// stay exact.
    pub(crate) async fn decide(
        &self,
        quotas: Vec<(String, u64, u64)>,
        deny: Option<&str>,
    ) -> Result<Decided, SharedError> {
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut batch = self.inner.batch.lock().unwrap_or_else(|e| e.into_inner());
            batch.push(Pending {
                quotas,
                deny: deny.map(keys::deny),
                reply,
            });
            batch.len() == 1
        };
        if first {
            self.send_soon();
        }
        answer.await.unwrap_or(Err(SharedError::Lost))
    }

    /// Starts the task that sends the batch.
    fn send_soon(&self) {
        let shared = self.clone();
        tokio::spawn(async move { shared.send_batch().await });
    }

    /// Sends the decisions waiting in the batch (at most
    /// [`MOST_PER_CALL`], leaving the rest to a task of their own) and
    /// answers each. It runs once the requests that were ready when it was
    /// started have had their turn, so they are in the batch too.
    async fn send_batch(self) {
        let batch: Vec<Pending> = {
            let mut waiting = self.inner.batch.lock().unwrap_or_else(|e| e.into_inner());
            let now = waiting.len().min(MOST_PER_CALL);
            let batch = waiting.drain(..now).collect();
            if !waiting.is_empty() {
                self.send_soon();
            }
            batch
        };
        if batch.is_empty() {
            return;
        }
        match self.decide_batch(&batch).await {
            Ok(answers) => {
                for (pending, answer) in batch.into_iter().zip(answers) {
                    let _ = pending.reply.send(Ok(answer));
                }
            }
            Err(error) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// One script call for every decision of `batch`: an answer each, in
    /// order. The call is written straight into one command (no list of
    /// keys and arguments copied into it), and the script is loaded when
    /// Redis does not know it yet.
    async fn decide_batch(&self, batch: &[Pending]) -> Result<Vec<Decided>, SharedError> {
        let mut connection = self.connection().await?;
        // The command's size, in one pass: its keys, its quotas, and the
        // bytes of its keys.
        let (mut keys, mut quotas, mut key_bytes) = (0, 0, 0);
        for pending in batch {
            quotas += pending.quotas.len();
            keys += pending.quotas.len();
            key_bytes += pending
                .quotas
                .iter()
                .map(|(key, ..)| key.len())
                .sum::<usize>();
            if let Some(deny) = &pending.deny {
                keys += 1;
                key_bytes += deny.len();
            }
        }
        let mut call = redis::Cmd::with_capacity(
            4 + keys + 2 * batch.len() + 2 * quotas,
            64 + key_bytes + 20 * (2 * batch.len() + 2 * quotas),
        );
        call.arg("EVALSHA")
            .arg(self.inner.script.get_hash())
            .arg(keys);
        for pending in batch {
            for (key, ..) in &pending.quotas {
                call.arg(key);
            }
            if let Some(deny) = &pending.deny {
                call.arg(deny);
            }
        }
        call.arg(batch.len());
        for pending in batch {
            call.arg(pending.quotas.len())
                .arg(u8::from(pending.deny.is_some()));
            for (_, interval, period) in &pending.quotas {
                call.arg(*interval).arg(*period);
            }
        }
        let answers: Vec<i64> = match call.query_async(&mut connection).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                match self.inner.script.load_async(&mut connection).await {
                    Ok(_) => call.query_async(&mut connection).await,
                    Err(error) => Err(error),
                }
            }
            answered => answered,
        }
        .map_err(|e| self.failed(e))?;
        if answers.len() != 3 * batch.len() {
            return Err(SharedError::Redis(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the decision script answered for another number of requests",
            ))));
        }
        Ok(answers
            .chunks_exact(3)
            .map(|answer| match *answer {
                [1, ..] => Decided::Allowed,
                [2, ..] => Decided::Denied,
                [0, index, wait] => Decided::Refused(
                    usize::try_from(index - 1).unwrap_or(0),
                    Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                ),
                _ => Decided::Refused(0, Duration::from_secs(1)),
            })
            .collect())
    }

    /// How long the account or the address must still wait, if at all.
    pub(crate) async fn throttle_wait(
        &self,
        account: &str,
        address: &str,
    ) -> Result<Option<Duration>, SharedError> {
        let mut connection = self.connection().await?;
        let wait_ms: i64 = self
            .inner
            .throttle_wait
            .key(keys::throttle("account", account))
            .key(keys::throttle("address", address))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.failed(e))?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0))))
    }

    /// Counts a failed login against the account and the address, each with
    /// its backoff: free failures, first wait, longest wait and window (the
    /// last three in ms).
    pub(crate) async fn throttle_fail(
        &self,
        account: &str,
        address: &str,
        backoffs: [[u64; 4]; 2],
    ) -> Result<(), SharedError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.inner.throttle_fail.prepare_invoke();
        invocation
            .key(keys::throttle("account", account))
            .key(keys::throttle("address", address));
        for backoff in backoffs {
            for value in backoff {
                invocation.arg(value);
            }
        }
        invocation
            .invoke_async::<()>(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Forgets an account's failures.
    pub(crate) async fn throttle_forget(&self, account: &str) -> Result<(), SharedError> {
        self.delete(&keys::throttle("account", account)).await
    }

    /// Denies the access token `jti` on every instance until `exp`.
    pub(crate) async fn deny(&self, jti: &str, exp: u64) -> Result<(), SharedError> {
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(keys::deny(jti))
            .arg(1)
            .arg("EXAT")
            .arg(exp.max(1))
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Stores `value` at `key` for `ttl` unless the key exists; false when
    /// it did.
    pub(crate) async fn set_new(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, SharedError> {
        let mut connection = self.connection().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut connection)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(set.is_some())
    }

    /// Stores `value` at `key` for `ttl`.
    pub(crate) async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), SharedError> {
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// The value at `key`, if any.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, SharedError> {
        let mut connection = self.connection().await?;
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Removes `key`.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), SharedError> {
        let mut connection = self.connection().await?;
        redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Runs a store's own `script` with `keys` and `args`.
    pub(crate) async fn run_script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<T, SharedError> {
        let mut connection = self.connection().await?;
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Handles a failed decision: `Ok(())` to fall back to this instance's
    /// own state (fail open, with a warning), or the 503 to answer.
    pub(crate) fn unavailable(&self, what: &str, error: &SharedError) -> Result<(), Problem> {
        match self.inner.on_unavailable {
            Unavailable::FailOpen => {
                crate::observe::metrics::fail_open(what);
                let mut warned = self.inner.warned.lock().unwrap_or_else(|e| e.into_inner());
                if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(
                        target: "secure_api",
                        error = %error,
                        what,
                        "Redis is unreachable: this instance decides alone (fail open)"
                    );
                    *warned = Some(Instant::now());
                }
                Ok(())
            }
            Unavailable::FailClosed => {
                tracing::error!(
                    target: "secure_api",
                    error = %error,
                    what,
                    "Redis is unreachable: refusing (fail closed)"
                );
                Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("the service cannot decide this request right now; retry shortly")
                    .with_header(RETRY_AFTER, HeaderValue::from_static("1")))
            }
        }
    }
}
