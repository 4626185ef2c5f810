//! Resource limits (OWASP API4): GCRA quotas through `governor`, body caps
//! and in-flight caps.
//!
//! Limiters live in the quota store shared by every worker, so a quota
//! holds for the process, not per worker thread (and, with Redis, for the
//! fleet). Each limiter keeps about [`MAX_KEYS`]
//! clients (it measures its table every 256 decisions, so at most 256 more);
//! when it is full, entries that no longer hold any state are dropped, and if
//! it is still full the limiter fails closed: every request it decides is
//! refused (429) until entries expire.

pub(crate) mod step;

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};

use crate::policy::{LimitKey, Quota};
use crate::problem::Problem;

/// The most clients one limiter tracks at once.
pub const MAX_KEYS: usize = 100_000;

/// How often (in decisions) a limiter measures its table.
const MEASURE_EVERY: u64 = 256;

/// How often (in decisions) a limiter drops entries that no longer matter.
const CLEANUP_EVERY: u64 = 4096;

/// Who a decision counts for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client address (IPv6 by /64).
    Ip(IpAddr),
    /// A principal's subject.
    User(Box<str>),
    /// Both.
    Both(IpAddr, Box<str>),
}

impl Key {
    /// The key `kind` asks for; `None` when the request lacks what it needs.
    pub fn for_request(kind: LimitKey, ip: Option<IpAddr>, sub: Option<&str>) -> Option<Self> {
        let ip = ip.map(crate::net::limit_key);
        match kind {
            LimitKey::Ip => ip.map(Key::Ip),
            LimitKey::User => sub.map(|s| Key::User(s.into())),
            LimitKey::IpAndUser => Some(Key::Both(ip?, sub?.into())),
        }
    }
}

struct QuotaLimiter {
    quota: Quota,
    limiter: DefaultKeyedRateLimiter<Key>,
    decisions: AtomicU64,
    /// Set when the table was found full; cleared once it has room.
    full: AtomicBool,
    max_keys: usize,
}

impl QuotaLimiter {
    fn new(quota: Quota, max_keys: usize) -> Option<Self> {
        let count = NonZeroU32::new(quota.count)?;
        let replenish = Duration::from_secs(quota.period_secs) / quota.count;
        let governor_quota = governor::Quota::with_period(replenish)?.allow_burst(count);
        Some(Self {
            quota,
            limiter: RateLimiter::keyed(governor_quota),
            decisions: AtomicU64::new(0),
            full: AtomicBool::new(false),
            max_keys,
        })
    }

    /// `Err(wait)` when the key has used its quota.
    fn check(&self, key: &Key, limiter: &str) -> Result<(), Duration> {
        let decisions = self.decisions.fetch_add(1, Ordering::Relaxed);
        if decisions.is_multiple_of(MEASURE_EVERY) {
            if decisions.is_multiple_of(CLEANUP_EVERY) {
                self.limiter.retain_recent();
            }
            let keys = self.limiter.len();
            crate::observe::metrics::limiter_keys(limiter, &self.quota, keys);
            self.full.store(keys >= self.max_keys, Ordering::Relaxed);
        }
        if self.full.load(Ordering::Relaxed) {
            // The table is full of active clients: refusing keeps memory
            // bounded (fail closed) until their entries expire.
            return Err(Duration::from_secs(self.quota.period_secs) / self.quota.count);
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The quotas and in-flight count of one route (or of the application
/// default). `SecureApp` builds these from `#[limit]`; build one directly
/// to limit something else, or to measure.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use secure_api_runtime::limit::{Key, Limiter, MAX_KEYS};
/// use secure_api_runtime::policy::Quota;
///
/// let limiter = Limiter::new(&[Quota::per_minute(2)], None, MAX_KEYS);
/// let client = Key::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
/// assert!(limiter.check(&client).is_ok());
/// assert!(limiter.check(&client).is_ok());
/// assert!(limiter.check(&client).is_err());
/// ```
pub struct Limiter {
    quotas: Vec<QuotaLimiter>,
    in_flight: AtomicU32,
    concurrency: Option<u32>,
    /// The name its quotas have in a shared store (the route, or `default`).
    name: String,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field(
                "quotas",
                &self.quotas.iter().map(|q| q.quota).collect::<Vec<_>>(),
            )
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Quotas that all must allow a request, an optional in-flight cap, and
    /// the most clients each quota tracks.
    pub fn new(quotas: &[Quota], concurrency: Option<u32>, max_keys: usize) -> Self {
        Self {
            quotas: quotas
                .iter()
                .filter_map(|q| QuotaLimiter::new(*q, max_keys))
                .collect(),
            in_flight: AtomicU32::new(0),
            concurrency,
            name: String::new(),
        }
    }

    /// Names the limiter's quotas in a shared store: the same name on every
    /// instance counts against the same quota.
    #[must_use]
    pub(crate) fn named(mut self, name: String) -> Self {
        self.name = name;
        self
    }

    /// The quotas as a shared store counts them for `key`: each quota's
    /// store key, emission interval and period (both in microseconds).
    pub(crate) fn gcra(&self, key: &Key) -> impl Iterator<Item = (String, u64, u64)> + '_ {
        let who = match key {
            Key::Ip(ip) => format!("ip:{ip}"),
            Key::User(sub) => format!("user:{sub}"),
            Key::Both(ip, sub) => format!("both:{ip}:{sub}"),
        };
        self.quotas.iter().map(move |q| {
            let period = q.quota.period_secs.saturating_mul(1_000_000);
            let interval = (period / u64::from(q.quota.count.max(1))).max(1);
            (
                crate::shared::keys::limit(&self.name, q.quota, &who),
                interval,
                period,
            )
        })
    }

    /// The 429 for a shared store's refusal by quota `index` for `wait`.
    pub(crate) fn refused(&self, index: usize, wait: Duration) -> Problem {
        let quota = self
            .quotas
            .get(index)
            .map_or(Quota::per_second(1), |q| q.quota);
        too_many_requests(&self.quotas, quota, wait)
    }

    /// How many quotas the limiter has.
    pub(crate) fn quota_count(&self) -> usize {
        self.quotas.len()
    }

    /// Whether `key` may make another request; a 429 problem otherwise.
    pub fn check(&self, key: &Key) -> Result<(), Problem> {
        for limiter in &self.quotas {
            if let Err(wait) = limiter.check(key, &self.name) {
                return Err(too_many_requests(&self.quotas, limiter.quota, wait));
            }
        }
        Ok(())
    }

    /// Takes an in-flight slot, released when the returned guard drops; a
    /// 503 problem when every slot is taken.
    pub(crate) fn enter(self: &Arc<Self>) -> Result<Option<InFlight>, Problem> {
        let Some(max) = self.concurrency else {
            return Ok(None);
        };
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Some(InFlight(Arc::clone(self)))),
            Err(_) => Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_detail("this route is busy; try again shortly")
                .with_header(RETRY_AFTER, HeaderValue::from_static("1"))),
        }
    }

    pub(crate) fn has_quotas(&self) -> bool {
        !self.quotas.is_empty()
    }

    /// How many clients the quotas track now, summed over the quotas.
    pub fn tracked_keys(&self) -> usize {
        self.quotas.iter().map(|q| q.limiter.len()).sum()
    }
}

/// An in-flight slot of a route with `concurrency = N`.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Limiter>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// 429 with `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit`
/// headers (draft-ietf-httpapi-ratelimit-headers).
fn too_many_requests(all: &[QuotaLimiter], refused: Quota, wait: Duration) -> Problem {
    let retry = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let retry = retry.max(1);
    let name = |q: &Quota| format!("\"{}-per-{}s\"", q.count, q.period_secs);
    let policy = all
        .iter()
        .map(|l| {
            format!(
                "{};q={};w={}",
                name(&l.quota),
                l.quota.count,
                l.quota.period_secs
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let state = format!("{};r=0;t={retry}", name(&refused));
    let mut problem = Problem::new(StatusCode::TOO_MANY_REQUESTS).with_detail(format!(
        "the limit of {} requests per {} s is used up",
        refused.count, refused.period_secs
    ));
    for (header, value) in [
        (RETRY_AFTER, retry.to_string()),
        (HeaderName::from_static("ratelimit-policy"), policy),
        (HeaderName::from_static("ratelimit"), state),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            problem = problem.with_header(header, value);
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Key {
        Key::Ip(IpAddr::V4(n.into()))
    }

    #[test]
    fn a_burst_gets_exactly_the_quota() {
        let limits = Limiter::new(
            &[Quota {
                count: 5,
                period_secs: 60,
            }],
            None,
            MAX_KEYS,
        );
        let allowed = (0..20).filter(|_| limits.check(&key(1)).is_ok()).count();
        assert_eq!(allowed, 5);
        assert!(
            limits.check(&key(2)).is_ok(),
            "another client has its own quota"
        );
    }

    #[test]
    fn every_quota_must_allow() {
        let limits = Limiter::new(
            &[
                Quota {
                    count: 30,
                    period_secs: 60,
                },
                Quota {
                    count: 3,
                    period_secs: 1,
                },
            ],
            None,
            MAX_KEYS,
        );
        let allowed = (0..10).filter(|_| limits.check(&key(1)).is_ok()).count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn refusals_carry_retry_after_and_ratelimit_headers() {
        let limits = Limiter::new(
            &[Quota {
                count: 1,
                period_secs: 60,
            }],
            None,
            MAX_KEYS,
        );
        assert!(limits.check(&key(1)).is_ok());
        let Err(problem) = limits.check(&key(1)) else {
            panic!("second request is refused")
        };
        let response = problem.to_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry: u64 = header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!((59..=60).contains(&retry), "{retry}");
        assert_eq!(
            header("ratelimit-policy").as_deref(),
            Some("\"1-per-60s\";q=1;w=60")
        );
        assert!(header("ratelimit").is_some_and(|v| v.starts_with("\"1-per-60s\";r=0;t=")));
    }

    #[test]
    fn the_key_table_is_bounded() {
        let limits = Limiter::new(
            &[Quota {
                count: 10,
                period_secs: 3600,
            }],
            None,
            1000,
        );
        for n in 0..5000 {
            let _ = limits.check(&key(n));
        }
        assert!(limits.quotas[0].limiter.len() <= 1000 + MEASURE_EVERY as usize);
        // Full of active clients: the limiter fails closed.
        assert!(limits.check(&key(999_999)).is_err());
    }

    #[test]
    fn in_flight_slots_are_released_on_drop() {
        let limits = Arc::new(Limiter::new(&[], Some(2), MAX_KEYS));
        let a = limits.enter();
        let b = limits.enter();
        assert!(a.is_ok() && b.is_ok());
        assert!(
            limits
                .enter()
                .is_err_and(|p| p.status() == StatusCode::SERVICE_UNAVAILABLE)
        );
        drop(a);
        assert!(limits.enter().is_ok());
    }

    #[test]
    fn keys_need_what_they_count() {
        let ip = Some(IpAddr::V4([192, 0, 2, 1].into()));
        assert_eq!(Key::for_request(LimitKey::User, ip, None), None);
        assert_eq!(Key::for_request(LimitKey::Ip, None, Some("1")), None);
        assert!(matches!(
            Key::for_request(LimitKey::IpAndUser, ip, Some("1")),
            Some(Key::Both(..))
        ));
    }
}
