//! The quota store: every route's limiters (and the application default's),
//! created on first use and shared by all workers of the process. With
//! Redis, the limiters' quotas are counted there instead (see
//! [`Decisions`](super::Decisions)); the limiters here still hold the
//! in-flight caps and the fallback when Redis fails open.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::limit::{Limiter, MAX_KEYS};
use crate::policy::{LimitRule, Quota, RoutePolicy};

/// Every route's limiters, shared by all workers of the process.
pub(crate) struct Quotas {
    routes: Mutex<HashMap<usize, Arc<Limiter>>>,
    defaults: Mutex<HashMap<Vec<Quota>, Arc<Limiter>>>,
    max_keys: usize,
}

impl fmt::Debug for Quotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quotas")
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Self::with_max_keys(MAX_KEYS)
    }
}

impl Quotas {
    pub(crate) fn with_max_keys(max_keys: usize) -> Self {
        Self {
            routes: Mutex::new(HashMap::new()),
            defaults: Mutex::new(HashMap::new()),
            max_keys,
        }
    }

    /// The limiters of `policy`'s route, created on first use.
    pub(crate) fn route(&self, policy: &'static RoutePolicy) -> Option<Arc<Limiter>> {
        let LimitRule {
            quotas,
            concurrency,
            ..
        } = policy.limit;
        if quotas.is_empty() && concurrency.is_none() {
            return None;
        }
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = routes
            .entry(std::ptr::from_ref(policy) as usize)
            .or_insert_with(|| {
                Arc::new(
                    Limiter::new(quotas, concurrency, self.max_keys)
                        .named(format!("{} {}", policy.method, policy.path)),
                )
            });
        Some(Arc::clone(entry))
    }

    /// The application-wide default quotas, shared by every route without
    /// quotas of its own.
    pub(crate) fn default_quotas(&self, quotas: &[Quota]) -> Option<Arc<Limiter>> {
        if quotas.is_empty() {
            return None;
        }
        let mut defaults = self.defaults.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = defaults.entry(quotas.to_vec()).or_insert_with(|| {
            let name = quotas
                .iter()
                .map(|q| format!("{}/{}s", q.count, q.period_secs))
                .collect::<Vec<_>>()
                .join(",");
            Arc::new(Limiter::new(quotas, None, self.max_keys).named(format!("default {name}")))
        });
        Some(Arc::clone(entry))
    }
}
