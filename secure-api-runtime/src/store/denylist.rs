//! The access-token denylist: `jti`s revoked before their expiry, checked on
//! every authenticated request after the token verifies. This process's
//! own list always answers first; with Redis, a revocation is also shared
//! with every instance, and the shared list is asked together with the
//! request's quotas ([`Decisions`](super::Decisions)).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::shared::Shared;

/// The denylist: this process's, and the fleet's when there is a Redis.
#[derive(Debug)]
pub(crate) struct Denylist {
    local: Revocations,
    redis: Option<Shared>,
}

impl Denylist {
    pub(crate) fn new(redis: Option<Shared>) -> Self {
        Self {
            local: Revocations::default(),
            redis,
        }
    }

    /// Denies `jti` until `exp` here and, with Redis, on every instance.
    /// A revocation Redis could not take is still in force here (and in
    /// the token store, which other instances load at their next start).
    pub(crate) async fn revoke(&self, jti: &str, exp: u64) {
        self.local.revoke(jti, exp, crate::util::now_secs());
        if let Some(shared) = &self.redis
            && let Err(error) = shared.deny(jti, exp).await
        {
            tracing::warn!(target: "secure_api", %error, "the logout could not be shared with other instances");
        }
    }

    /// Adds a revocation loaded from the token store, in this process only.
    pub(crate) fn restore(&self, jti: &str, exp: u64, now: u64) {
        self.local.revoke(jti, exp, now);
    }

    /// Whether this process knows `jti` as revoked.
    pub(crate) fn is_revoked_here(&self, jti: &str) -> bool {
        self.local.is_revoked(jti)
    }
}

/// Revoked access-token ids, each kept until its token would have expired.
#[derive(Debug, Default)]
struct Revocations {
    /// Set once anything was revoked, so the common case takes no lock.
    any: AtomicBool,
    denied: RwLock<HashMap<Box<str>, u64>>,
}

impl Revocations {
    /// Adds `jti` until `exp` (seconds since the epoch).
    fn revoke(&self, jti: &str, exp: u64, now: u64) {
        let mut denied = self.denied.write().unwrap_or_else(|e| e.into_inner());
        if denied.len() >= 1024 && denied.len().is_power_of_two() {
            denied.retain(|_, until| *until >= now);
        }
        denied.insert(jti.into(), exp);
        self.any.store(true, Ordering::Release);
    }

    /// Whether `jti` was revoked.
    fn is_revoked(&self, jti: &str) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        self.denied
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(jti)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_ids_are_remembered_and_expired_ones_purged() {
        let revocations = Revocations::default();
        assert!(!revocations.is_revoked("a"));
        revocations.revoke("a", 100, 50);
        assert!(revocations.is_revoked("a"));
        for n in 0..1023 {
            revocations.revoke(&format!("old{n}"), 10, 50);
        }
        // The 1025th insert purges what expired before now.
        revocations.revoke("b", 100, 50);
        assert!(revocations.is_revoked("a") && revocations.is_revoked("b"));
        assert!(!revocations.is_revoked("old1"));
    }
}
