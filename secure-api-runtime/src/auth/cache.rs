//! Tokens that already passed verification, remembered until they expire so
//! that a client's repeated requests with one access token are not verified
//! from scratch each time.
//!
//! Only tokens that verified against the configured keys enter it, so a
//! caller cannot fill it with forgeries; it is bounded all the same. Checks
//! that can change during a token's life (revocation) do not belong here and
//! run on every request.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use super::Principal;

const SHARDS: usize = 16;
/// How many of a token's last bytes choose its entry.
const HASHED_TAIL: usize = 32;
/// Entries per shard; a full shard is emptied before the next insert.
const SHARD_CAPACITY: usize = 1024;

/// A shard's entries, keyed by the token's hash (computed once per lookup)
/// and holding the token itself, so two tokens that share a hash are told
/// apart.
type Shard = HashMap<u64, (Box<str>, Arc<Principal>), BuildHasherDefault<Prehashed>>;

/// At most `SHARDS * SHARD_CAPACITY` verified tokens.
pub(crate) struct VerifiedCache {
    shards: [Mutex<Shard>; SHARDS],
    /// Hashes a token's tail: a fast hash with a seed of this process's
    /// own, so where a token lands cannot be worked out from outside.
    hasher: foldhash::fast::RandomState,
}

/// Passes through a key that is already a hash.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl VerifiedCache {
    /// The token's hash, and the shard it lives in. Only the token's last
    /// [`HASHED_TAIL`] bytes are hashed: they are its signature's, which
    /// differs from token to token, and an entry is taken only for the
    /// whole token it holds.
    fn shard(&self, token: &[u8]) -> (u64, &Mutex<Shard>) {
        let tail = &token[token.len().saturating_sub(HASHED_TAIL)..];
        let hash = self.hasher.hash_one(tail);
        // The remainder is below SHARDS, so the cast cannot truncate.
        (hash, &self.shards[(hash % SHARDS as u64) as usize])
    }

    /// The principal of `token` if it verified before and its `exp` is not
    /// before `not_before` (the current time less the leeway), shared with
    /// the entry.
    pub(crate) fn get(&self, token: &[u8], not_before: u64) -> Option<Arc<Principal>> {
        let (hash, shard) = self.shard(token);
        let mut shard = shard.lock().ok()?;
        match shard.get(&hash) {
            Some((known, principal)) if known.as_bytes() == token => {
                if principal.exp >= not_before {
                    return Some(Arc::clone(principal));
                }
                shard.remove(&hash);
                None
            }
            _ => None,
        }
    }

    /// Remembers a token that just verified.
    pub(crate) fn insert(&self, token: &str, principal: &Arc<Principal>) {
        let (hash, shard) = self.shard(token.as_bytes());
        let Ok(mut shard) = shard.lock() else {
            return;
        };
        if shard.len() >= SHARD_CAPACITY {
            shard.clear();
        }
        shard.insert(hash, (token.into(), Arc::clone(principal)));
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

    fn principal(exp: u64) -> Arc<Principal> {
        Arc::new(Principal {
            sub: "1".to_owned(),
            roles: vec![],
            jti: "j".to_owned(),
            exp,
            auth_time: None,
            issuer: None,
            scopes: vec![],
        })
    }

    #[test]
    fn entries_expire_with_their_token() {
        let cache = VerifiedCache::default();
        cache.insert("t", &principal(100));
        assert!(cache.get(b"t", 100).is_some());
        assert!(cache.get(b"t", 101).is_none());
        assert_eq!(cache.len(), 0, "an expired entry is dropped when seen");
    }

    #[test]
    fn a_token_is_found_only_by_itself() {
        let cache = VerifiedCache::default();
        cache.insert("a.b.c", &principal(100));
        assert!(cache.get(b"a.b.c", 0).is_some());
        assert!(cache.get(b"a.b.d", 0).is_none());
        // Another token stored under the same hash is not taken for it.
        let (hash, shard) = cache.shard(b"a.b.c");
        if let Ok(mut shard) = shard.lock() {
            shard.insert(hash, ("x.y.z".into(), principal(100)));
        }
        assert!(cache.get(b"a.b.c", 0).is_none());
    }

    #[test]
    fn a_token_that_shares_another_ones_signature_is_not_taken_for_it() {
        let cache = VerifiedCache::default();
        let signature = "s".repeat(HASHED_TAIL * 2);
        let verified = format!("header.payload-of-alice.{signature}");
        let forged = format!("header.payload-of-mallory.{signature}");
        cache.insert(&verified, &principal(100));
        assert_eq!(
            cache.shard(verified.as_bytes()).0,
            cache.shard(forged.as_bytes()).0
        );
        assert!(cache.get(verified.as_bytes(), 0).is_some());
        assert!(cache.get(forged.as_bytes(), 0).is_none());
    }

    #[test]
    fn a_hit_shares_the_principal_it_holds() {
        let cache = VerifiedCache::default();
        let verified = principal(100);
        cache.insert("a.b.c", &verified);
        let hit = cache.get(b"a.b.c", 0);
        assert!(hit.is_some_and(|hit| Arc::ptr_eq(&hit, &verified)));
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
