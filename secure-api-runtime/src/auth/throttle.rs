//! Failed-login throttling per account and per client address, with
//! exponential backoff.
//!
//! Unknown accounts are throttled exactly like real ones, so the answer
//! never tells whether a username exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};

use crate::problem::Problem;

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
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Backoff {
    /// The wait after `failures` failures.
    fn delay(&self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Per-account: 5 free failures, then 1 s doubling up to 15 minutes.
pub const ACCOUNT_BACKOFF: Backoff = Backoff {
    free: 5,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
    window: Duration::from_secs(15 * 60),
};

/// Per-address: 20 free failures, then 1 s doubling up to 15 minutes.
pub const ADDRESS_BACKOFF: Backoff = Backoff {
    free: 20,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
    window: Duration::from_secs(15 * 60),
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
            let window = self.backoff.window;
            entries.retain(|_, f| f.blocked_until > now || now - f.last < window);
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
        if now - entry.last >= self.backoff.window {
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
/// let throttle = LoginThrottle::default();
/// let ip: IpAddr = "192.0.2.7".parse().unwrap();
/// for _ in 0..5 {
///     assert!(throttle.check("alice", ip).is_ok());
///     throttle.failed("alice", ip);
/// }
/// assert!(throttle.check("alice", ip).is_err());
/// ```
#[derive(Debug)]
pub struct LoginThrottle {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
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
        }
    }

    fn account_key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Err` with a 429 (and `Retry-After`) while the account or the address
    /// is waiting out its backoff.
    pub fn check(&self, username: &str, client: IpAddr) -> Result<(), Problem> {
        let now = Instant::now();
        let wait = [
            self.accounts.wait(&Self::account_key(username), now),
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
    pub fn failed(&self, username: &str, client: IpAddr) {
        let now = Instant::now();
        self.accounts.fail(Self::account_key(username), now);
        self.addresses.fail(client, now);
    }

    /// Records a successful login: the account's failures are forgotten.
    pub fn succeeded(&self, username: &str) {
        self.accounts.forget(&Self::account_key(username));
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

    #[test]
    fn accounts_and_addresses_are_throttled_separately() {
        let throttle = LoginThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().expect("test setup");
        let b: IpAddr = "192.0.2.2".parse().expect("test setup");
        for _ in 0..5 {
            throttle.failed("Alice", a);
        }
        // The account waits, whatever the address; case does not matter.
        assert!(throttle.check("alice", b).is_err());
        assert!(throttle.check("bob", a).is_ok());
        // Twenty failures from one address over many accounts block the address.
        for n in 0..20 {
            throttle.failed(&format!("user{n}"), b);
        }
        let refused = throttle.check("carol", b).expect_err("refused");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(throttle.check("carol", a).is_ok());
        throttle.succeeded("alice");
        assert!(throttle.check("alice", a).is_ok());
    }
}
