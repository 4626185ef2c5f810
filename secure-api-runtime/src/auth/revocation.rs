//! The access-token denylist: `jti`s revoked before their expiry, checked on
//! every authenticated request after the token verifies.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Revoked access-token ids, each kept until its token would have expired.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    /// Set once anything was revoked, so the common case takes no lock.
    any: AtomicBool,
    denied: RwLock<HashMap<Box<str>, u64>>,
}

impl Revocations {
    /// Adds `jti` until `exp` (seconds since the epoch).
    pub(crate) fn revoke(&self, jti: &str, exp: u64, now: u64) {
        let mut denied = self.denied.write().unwrap_or_else(|e| e.into_inner());
        if denied.len() >= 1024 && denied.len().is_power_of_two() {
            denied.retain(|_, until| *until >= now);
        }
        denied.insert(jti.into(), exp);
        self.any.store(true, Ordering::Release);
    }

    /// Whether `jti` was revoked.
    pub(crate) fn is_revoked(&self, jti: &str) -> bool {
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
