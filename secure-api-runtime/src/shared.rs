//! State shared by every instance of an API behind a load balancer, in
//! Redis: rate-limit decisions (GCRA in one Lua script, one round trip),
//! the access-token denylist and the webhook replay cache.
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
use tokio::sync::OnceCell;

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

/// GCRA over several quotas at once: every quota must allow the request,
/// and only then is it counted against all of them. Times are microseconds
/// from Redis's own clock, so every instance shares one clock (below 2^53, so
/// Lua's numbers hold them exactly).
///
/// `KEYS[i]`: the quota's key; `ARGV[2i-1]`: the emission interval (µs);
/// `ARGV[2i]`: the period (µs; the burst is `period / interval`).
/// Returns `{1, 0, 0}` when allowed, else `{0, i, wait}`.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local next_tat = tat + interval
  if next_tat - now > period then
    return {0, i, next_tat - now - period}
  end
  tats[i] = next_tat
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', math.floor((tats[i] - now) / 1000) + 1)
end
return {1, 0, 0}
";

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
    warned: Mutex<Option<Instant>>,
    /// After a failure Redis is not asked again for a moment, so an outage
    /// does not add a timeout to every request.
    down_until: Mutex<Option<Instant>>,
}

/// How long Redis is left alone after a failure.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the choice is shown.
        f.debug_struct("Shared")
            .field("on_unavailable", &self.inner.on_unavailable)
            .finish_non_exhaustive()
    }
}

/// A decision Redis could not make.
#[derive(Debug)]
pub(crate) enum SharedError {
    /// Redis answered with an error or not at all.
    Redis(redis::RedisError),
    /// Redis failed a moment ago and is not asked again yet.
    Paused,
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(error) => write!(f, "{error}"),
            Self::Paused => f.write_str("Redis failed a moment ago"),
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
                script: redis::Script::new(GCRA),
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
        *self
            .inner
            .down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + PAUSE_AFTER_FAILURE);
        SharedError::Redis(error)
    }

    /// Runs the GCRA script: `Ok(None)` when allowed, `Ok(Some((i, wait)))`
    /// when quota `i` (from 0) refuses for `wait`.
    pub(crate) async fn quota(
        &self,
        keys: &[String],
        quotas: &[(u64, u64)],
    ) -> Result<Option<(usize, Duration)>, SharedError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.inner.script.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for (interval, period) in quotas {
            invocation.arg(*interval).arg(*period);
        }
        let answer: Vec<i64> = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.failed(e))?;
        match answer.as_slice() {
            [1, ..] => Ok(None),
            [0, index, wait] => Ok(Some((
                usize::try_from(*index - 1).unwrap_or(0),
                Duration::from_micros(u64::try_from(*wait).unwrap_or(0)),
            ))),
            _ => Ok(Some((0, Duration::from_secs(1)))),
        }
    }

    /// Denies the access token `jti` on every instance until `exp`.
    pub(crate) async fn deny(&self, jti: &str, exp: u64) -> Result<(), SharedError> {
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(format!("secure_api:deny:{jti}"))
            .arg(1)
            .arg("EXAT")
            .arg(exp.max(1))
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Whether any instance denied `jti`.
    pub(crate) async fn is_denied(&self, jti: &str) -> Result<bool, SharedError> {
        let mut connection = self.connection().await?;
        redis::cmd("EXISTS")
            .arg(format!("secure_api:deny:{jti}"))
            .query_async::<bool>(&mut connection)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Records a webhook delivery id for `ttl`; false when any instance
    /// recorded it before (a replay).
    pub(crate) async fn first_delivery(
        &self,
        scope: &str,
        id: &str,
        ttl: Duration,
    ) -> Result<bool, SharedError> {
        let mut connection = self.connection().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("secure_api:webhook:{scope}:{id}"))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut connection)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(set.is_some())
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

    /// Handles a failed decision: `Ok(())` to fall back to this instance's
    /// own state (fail open, with a warning), or the 503 to answer.
    pub(crate) fn unavailable(&self, what: &str, error: &SharedError) -> Result<(), Problem> {
        match self.inner.on_unavailable {
            Unavailable::FailOpen => {
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
