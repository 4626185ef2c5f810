//! Failed-login throttling per account and per client address, with
//! exponential backoff.
//!
//! Unknown accounts are throttled exactly like real ones, so the answer
//! never tells whether a username exists.
//!
//! A throttle built with [`LoginThrottle::for_config`] under `REDIS_URL`
//! counts failures in the Redis every instance shares, so a fleet throttles
//! an account as one server would; the choice is made when it is built.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};

use crate::config::SecurityConfig;
use crate::problem::Problem;
use crate::shared::Shared;

/// How many tracked accounts or addresses a throttle keeps at most.
pub const MAX_TRACKED: usize = 100_000;

/// The backoff applied after repeated failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before any wait.
    pub free: u32,
    /// The first wait; each further failure doubles it.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// A count is forgotten after this long without a failure; never less
    /// than four times `max` (see [`Backoff::kept`]), so waiting out the
    /// longest wait does not start the count again.
    pub window: Duration,
}

impl Backoff {
    /// How long a count is kept after its last failure: the window, and at
    /// least four times the longest wait. (When the two were equal, a count
    /// was forgotten the moment its longest wait ended, and the free
    /// failures came back every 15 minutes.)
    pub fn kept(&self) -> Duration {
        self.window.max(self.max.saturating_mul(4))
    }

    /// Free failures, first wait, longest wait and how long a count is
    /// kept, the last three in milliseconds, as the shared store counts them.
    fn as_millis(&self) -> [u64; 4] {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        [
            u64::from(self.free),
            ms(self.base),
            ms(self.max),
            ms(self.kept()),
        ]
    }

    /// The wait after `failures` failures.
    fn delay(&self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Per-account: 5 free failures, then 1 s doubling up to 15 minutes; the
/// count is kept for a day after the last failure (a success forgets it).
/// An attacker who waits out every wait gets about 110 guesses a day.
pub const ACCOUNT_BACKOFF: Backoff = Backoff {
    free: 5,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
    window: Duration::from_secs(24 * 60 * 60),
};

/// Per-address: 20 free failures, then 1 s doubling up to 15 minutes; the
/// count is kept for an hour after the last failure (shorter than an
/// account's: many users may share an address).
pub const ADDRESS_BACKOFF: Backoff = Backoff {
    free: 20,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
    window: Duration::from_secs(60 * 60),
};

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

#[derive(Debug)]
struct Table<K> {
    backoff: Backoff,
    entries: Mutex<HashMap<K, Failures>>,
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (entry.blocked_until > now).then(|| entry.blocked_until - now)
    }

    fn fail(&self, key: K, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&key) {
            let kept = self.backoff.kept();
            entries.retain(|_, f| f.blocked_until > now || now - f.last < kept);
            if entries.len() >= MAX_TRACKED {
                // Keep the blocked ones; forget those merely counting.
                entries.retain(|_, f| f.blocked_until > now);
            }
        }
        let entry = entries.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: now,
        });
        if now - entry.last >= self.backoff.kept() {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.blocked_until = now + self.backoff.delay(entry.count);
    }

    fn forget(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Throttles failed logins per account and per client address.
///
/// Call [`LoginThrottle::check`] before verifying a password, then
/// [`LoginThrottle::failed`] or [`LoginThrottle::succeeded`].
///
/// # Examples
///
/// ```
/// use secure_api_runtime::auth::LoginThrottle;
/// use std::net::IpAddr;
///
/// # actix_web::rt::System::new().block_on(async {
/// let throttle = LoginThrottle::default();
/// let ip: IpAddr = "192.0.2.7".parse().unwrap();
/// for _ in 0..5 {
///     assert!(throttle.check("alice", ip).await.is_ok());
///     throttle.failed("alice", ip).await;
/// }
/// assert!(throttle.check("alice", ip).await.is_err());
/// # });
/// ```
#[derive(Debug)]
pub struct LoginThrottle {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
    /// The fleet's Redis, when failures are shared; this process's tables
    /// then still count, as the fallback when Redis fails open.
    redis: Option<Shared>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(ACCOUNT_BACKOFF, ADDRESS_BACKOFF)
    }
}

impl LoginThrottle {
    /// A throttle with the given backoffs.
    pub fn new(account: Backoff, address: Backoff) -> Self {
        Self {
            accounts: Table::new(account),
            addresses: Table::new(address),
            redis: None,
        }
    }

    /// The default backoffs, with failures counted in the Redis `security`
    /// shares with every instance when it has one, else in this process.
    pub fn for_config(security: &SecurityConfig) -> Self {
        Self {
            redis: security.shared().cloned(),
            ..Self::default()
        }
    }

    fn account_key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Err` with a 429 (and `Retry-After`) while the account or the address
    /// is waiting out its backoff (or a 503 when the shared store cannot be
    /// asked and fails closed).
    pub async fn check(&self, username: &str, client: IpAddr) -> Result<(), Problem> {
        let account = Self::account_key(username);
        let mut wait = None;
        if let Some(shared) = &self.redis {
            match shared.throttle_wait(&account, &client.to_string()).await {
                Ok(shared_wait) => wait = shared_wait,
                Err(error) => shared.unavailable("login throttle", &error)?,
            }
        }
        let now = Instant::now();
        let wait = [
            wait,
            self.accounts.wait(&account, now),
            self.addresses.wait(&client, now),
        ]
        .into_iter()
        .flatten()
        .max();
        match wait {
            None => Ok(()),
            Some(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(Problem::new(StatusCode::TOO_MANY_REQUESTS)
                    .with_detail("too many failed sign-ins; wait before trying again")
                    .with_header(RETRY_AFTER, HeaderValue::from(secs.max(1))))
            }
        }
    }

    /// Records a failed login (wrong password or unknown user).
    pub async fn failed(&self, username: &str, client: IpAddr) {
        let now = Instant::now();
        let account = Self::account_key(username);
        if let Some(shared) = &self.redis
            && let Err(error) = shared
                .throttle_fail(
                    &account,
                    &client.to_string(),
                    [
                        self.accounts.backoff.as_millis(),
                        self.addresses.backoff.as_millis(),
                    ],
                )
                .await
        {
            tracing::warn!(target: "secure_api", %error, "a failed login could not be counted in Redis");
        }
        self.accounts.fail(account, now);
        self.addresses.fail(client, now);
    }

    /// Records a successful login: the account's failures are forgotten.
    pub async fn succeeded(&self, username: &str) {
        let account = Self::account_key(username);
        if let Some(shared) = &self.redis
            && let Err(error) = shared.throttle_forget(&account).await
        {
            tracing::warn!(target: "secure_api", %error, "a login's failures could not be forgotten in Redis");
        }
        self.accounts.forget(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = ACCOUNT_BACKOFF;
        assert_eq!(b.delay(4), Duration::ZERO);
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(6), Duration::from_secs(2));
        assert_eq!(b.delay(8), Duration::from_secs(8));
        assert_eq!(b.delay(40), Duration::from_secs(900));
    }

    /// Guesses an attacker gets in `span` against one key by trying again
    /// the moment each wait ends.
    fn guesses_in(backoff: Backoff, span: Duration) -> usize {
        let table = Table::new(backoff);
        let start = Instant::now();
        let mut now = start;
        let mut guesses = 0;
        while now - start < span {
            if let Some(wait) = table.wait(&"alice", now) {
                now += wait;
                continue;
            }
            table.fail("alice", now);
            guesses += 1;
        }
        guesses
    }

    #[test]
    fn waiting_out_the_longest_block_does_not_reset_the_count() {
        // 5 free, the doublings up to 15 minutes (10), then one guess per
        // 15 minutes: about 96 a day, never the free ones again.
        let day = Duration::from_secs(24 * 60 * 60);
        let guesses = guesses_in(ACCOUNT_BACKOFF, day);
        assert!(guesses <= 5 + 10 + 96, "{guesses} guesses a day");
        assert!(guesses_in(ADDRESS_BACKOFF, day) <= 20 + 10 + 96);
        // A backoff whose window is no longer than its longest wait keeps
        // its count four times that wait anyway.
        let short = Backoff {
            window: ACCOUNT_BACKOFF.max,
            ..ACCOUNT_BACKOFF
        };
        assert_eq!(short.kept(), ACCOUNT_BACKOFF.max * 4);
        assert!(guesses_in(short, day) <= 5 + 10 + 96);
    }

    #[actix_web::test]
    async fn accounts_and_addresses_are_throttled_separately() {
        let throttle = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().expect("test setup");
        let b: IpAddr = "192.0.2.2".parse().expect("test setup");
        for _ in 0..5 {
            throttle.failed("Alice", a).await;
        }
        // The account waits, whatever the address; case does not matter.
        assert!(throttle.check("alice", b).await.is_err());
        assert!(throttle.check("bob", a).await.is_ok());
        // Twenty failures from one address over many accounts block the address.
        for n in 0..20 {
            throttle.failed(&format!("user{n}"), b).await;
        }
        let refused = throttle.check("carol", b).await.expect_err("refused");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(throttle.check("carol", a).await.is_ok());
        throttle.succeeded("alice").await;
        assert!(throttle.check("alice", a).await.is_ok());
    }
}
