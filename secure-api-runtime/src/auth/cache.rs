//! Tokens that already passed verification, remembered until they expire so
//! that a client's repeated requests with one access token are not verified
//! from scratch each time.
//!
//! Only tokens that verified against the configured keys enter it, so a
//! caller cannot fill it with forgeries; it is bounded all the same. Checks
//! that can change during a token's life (revocation) do not belong here and
//! run on every request.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Mutex;

use super::Principal;

const SHARDS: usize = 16;
/// Entries per shard; a full shard is emptied before the next insert.
const SHARD_CAPACITY: usize = 1024;

/// At most `SHARDS * SHARD_CAPACITY` verified tokens.
pub(crate) struct VerifiedCache {
    shards: [Mutex<HashMap<Box<str>, Principal>>; SHARDS],
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl VerifiedCache {
    fn shard(&self, token: &str) -> &Mutex<HashMap<Box<str>, Principal>> {
        let mut hasher = DefaultHasher::new();
        token.hash(&mut hasher);
        // The remainder is below SHARDS, so the cast cannot truncate.
        &self.shards[(hasher.finish() % SHARDS as u64) as usize]
    }

    /// The principal of `token` if it verified before and its `exp` is not
    /// before `not_before` (the current time less the leeway).
    pub(crate) fn get(&self, token: &str, not_before: u64) -> Option<Principal> {
        let mut shard = self.shard(token).lock().ok()?;
        match shard.get(token) {
            Some(principal) if principal.exp >= not_before => Some(principal.clone()),
            Some(_) => {
                shard.remove(token);
                None
            }
            None => None,
        }
    }

    /// Remembers a token that just verified.
    pub(crate) fn insert(&self, token: &str, principal: &Principal) {
        let Ok(mut shard) = self.shard(token).lock() else {
            return;
        };
        if shard.len() >= SHARD_CAPACITY {
            shard.clear();
        }
        shard.insert(token.into(), principal.clone());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(exp: u64) -> Principal {
        Principal {
            sub: "1".to_owned(),
            roles: vec![],
            jti: "j".to_owned(),
            exp,
            auth_time: None,
        }
    }

    #[test]
    fn entries_expire_with_their_token() {
        let cache = VerifiedCache::default();
        cache.insert("t", &principal(100));
        assert!(cache.get("t", 100).is_some());
        assert!(cache.get("t", 101).is_none());
        assert_eq!(cache.len(), 0, "an expired entry is dropped when seen");
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = VerifiedCache::default();
        for i in 0..(SHARDS * SHARD_CAPACITY * 3) {
            cache.insert(&format!("token-{i}"), &principal(u64::MAX));
        }
        assert!(cache.len() <= SHARDS * SHARD_CAPACITY);
    }
}
