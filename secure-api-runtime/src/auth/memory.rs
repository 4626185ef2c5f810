//! The in-memory [`TokenStore`]: for tests, prototypes and single-instance
//! programs whose sessions may end when the process does.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::sessions::{FamilyOf, RefreshRecord, Rotation, StoreError, TokenHash, TokenStore};
use super::sql::KEEP_EXPIRED_SECS;

/// The most refresh tokens held; beyond it the long expired and then the
/// oldest are dropped (and their sessions end), so a flood of logins cannot
/// exhaust memory.
pub const MAX_MEMORY_REFRESH_TOKENS: usize = 100_000;

/// The most denied access tokens held; beyond it the soonest to expire are
/// dropped first.
pub const MAX_MEMORY_DENIED_TOKENS: usize = 100_000;

#[derive(Debug)]
struct Token {
    family: String,
    sub: String,
    issued_at: u64,
    expires_at: u64,
    used: bool,
    revoked: bool,
}

#[derive(Debug, Default)]
struct Tokens {
    refresh: HashMap<TokenHash, Token>,
    denied: HashMap<String, u64>,
}

impl Tokens {
    fn add(&mut self, hash: TokenHash, token: Token) {
        if self.refresh.len() >= MAX_MEMORY_REFRESH_TOKENS {
            let horizon = token.issued_at.saturating_sub(KEEP_EXPIRED_SECS);
            self.refresh.retain(|_, held| held.expires_at >= horizon);
        }
        if self.refresh.len() >= MAX_MEMORY_REFRESH_TOKENS {
            let excess = self.refresh.len() + 1 - MAX_MEMORY_REFRESH_TOKENS;
            let mut by_age: Vec<(u64, TokenHash)> = self
                .refresh
                .iter()
                .map(|(hash, held)| (held.issued_at, *hash))
                .collect();
            by_age.select_nth_unstable_by_key(excess - 1, |(issued_at, _)| *issued_at);
            for (_, oldest) in by_age.into_iter().take(excess) {
                self.refresh.remove(&oldest);
            }
        }
        self.refresh.insert(hash, token);
    }

    fn revoke_family(&mut self, family: &str) {
        for token in self.refresh.values_mut() {
            if token.family == family {
                token.revoked = true;
            }
        }
    }
}

/// Refresh tokens and denied access tokens in this process's memory.
///
/// Everything is lost when the process ends (every session ends with it),
/// and nothing is shared between instances: behind a load balancer, use
/// [`SqlTokenStore`](super::SqlTokenStore). Cloning shares the same tokens.
/// Rotation holds one lock, so of several callers presenting the same live
/// token exactly one rotates it.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::auth::{MemoryTokenStore, Sessions};
/// use secure_api_runtime::prelude::*;
///
/// # actix_web::rt::System::new().block_on(async {
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().unwrap();
/// let sessions = Sessions::new(security, MemoryTokenStore::new());
/// let pair = sessions.start("1", &["user".to_owned()]).await.unwrap();
/// let rotated = sessions.refresh(&pair.refresh_token).await.unwrap();
/// assert_eq!(rotated.sub, "1");
/// // Spent: presenting it again revokes the session.
/// assert!(sessions.refresh(&pair.refresh_token).await.is_err());
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryTokenStore {
    tokens: std::sync::Arc<Mutex<Tokens>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tokens>, StoreError> {
        self.tokens
            .lock()
            .map_err(|_| StoreError("the in-memory token store is poisoned".to_owned()))
    }
}

impl TokenStore for MemoryTokenStore {
    async fn insert(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.lock()?.add(
            record.hash,
            Token {
                family: record.family.clone(),
                sub: record.sub.clone(),
                issued_at: record.issued_at,
                expires_at: record.expires_at,
                used: false,
                revoked: false,
            },
        );
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
        expires_at: u64,
    ) -> Result<Rotation, StoreError> {
        let mut tokens = self.lock()?;
        let Some(token) = tokens.refresh.get_mut(presented) else {
            return Ok(Rotation::Unknown);
        };
        if token.used || token.revoked {
            let (sub, family) = (token.sub.clone(), token.family.clone());
            tokens.revoke_family(&family);
            return Ok(Rotation::Reused { sub, family });
        }
        if token.expires_at <= now {
            return Ok(Rotation::Expired);
        }
        token.used = true;
        let (sub, family) = (token.sub.clone(), token.family.clone());
        tokens.add(
            *next,
            Token {
                family,
                sub: sub.clone(),
                issued_at: now,
                expires_at,
                used: false,
                revoked: false,
            },
        );
        Ok(Rotation::Rotated { sub })
    }

    async fn family_of(&self, token: &TokenHash) -> Result<Option<FamilyOf>, StoreError> {
        Ok(self.lock()?.refresh.get(token).map(|held| FamilyOf {
            sub: held.sub.clone(),
            family: held.family.clone(),
        }))
    }

    async fn revoke_family(&self, family: &str, _now: u64) -> Result<(), StoreError> {
        self.lock()?.revoke_family(family);
        Ok(())
    }

    async fn deny(&self, jti: &str, exp: u64) -> Result<(), StoreError> {
        let mut tokens = self.lock()?;
        if tokens.denied.len() >= MAX_MEMORY_DENIED_TOKENS {
            let now = crate::util::now_secs();
            tokens.denied.retain(|_, held| *held >= now);
        }
        if tokens.denied.len() >= MAX_MEMORY_DENIED_TOKENS && !tokens.denied.contains_key(jti) {
            let soonest = tokens
                .denied
                .iter()
                .min_by_key(|(_, exp)| **exp)
                .map(|(jti, _)| jti.clone());
            if let Some(soonest) = soonest {
                tokens.denied.remove(&soonest);
            }
        }
        tokens.denied.entry(jti.to_owned()).or_insert(exp);
        Ok(())
    }

    async fn denied(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(self
            .lock()?
            .denied
            .iter()
            .filter(|(_, exp)| **exp >= now)
            .map(|(jti, exp)| (jti.clone(), *exp))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(byte: u8) -> TokenHash {
        TokenHash([byte; 32])
    }

    fn record(hash: TokenHash, family: &str, issued_at: u64) -> RefreshRecord {
        RefreshRecord {
            hash,
            family: family.to_owned(),
            sub: "7".to_owned(),
            issued_at,
            expires_at: issued_at + 1_000,
        }
    }

    async fn rotate(store: &MemoryTokenStore, from: u8, to: u8, now: u64) -> Rotation {
        store
            .rotate(&hash(from), &hash(to), now, now + 1_000)
            .await
            .expect("the lock is not poisoned")
    }

    #[tokio::test]
    async fn rotation_is_single_use_and_reuse_revokes_the_family() {
        let store = MemoryTokenStore::new();
        store
            .insert(&record(hash(1), "f", 1_000))
            .await
            .expect("the lock is not poisoned");
        let rotated = Rotation::Rotated {
            sub: "7".to_owned(),
        };
        assert_eq!(rotate(&store, 1, 2, 1_100).await, rotated);
        assert_eq!(
            rotate(&store, 1, 3, 1_200).await,
            Rotation::Reused {
                sub: "7".to_owned(),
                family: "f".to_owned()
            }
        );
        // The newest token of the family died with it.
        assert!(matches!(
            rotate(&store, 2, 4, 1_300).await,
            Rotation::Reused { .. }
        ));
        assert_eq!(rotate(&store, 9, 5, 1_300).await, Rotation::Unknown);
        assert_eq!(
            store.family_of(&hash(2)).await.expect("not poisoned"),
            Some(FamilyOf {
                sub: "7".to_owned(),
                family: "f".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn expired_tokens_do_not_rotate_and_denials_are_kept_until_they_expire() {
        let store = MemoryTokenStore::new();
        store
            .insert(&record(hash(1), "f", 1_000))
            .await
            .expect("not poisoned");
        assert_eq!(rotate(&store, 1, 2, 2_000).await, Rotation::Expired);
        store
            .deny("live", u64::MAX / 2)
            .await
            .expect("not poisoned");
        store
            .deny("live", u64::MAX / 2)
            .await
            .expect("not poisoned");
        store.deny("old", 10).await.expect("not poisoned");
        let denied = store.denied(100).await.expect("not poisoned");
        assert_eq!(denied, vec![("live".to_owned(), u64::MAX / 2)]);
    }

    #[tokio::test]
    async fn concurrent_rotations_of_one_token_rotate_it_once() {
        let store = MemoryTokenStore::new();
        store
            .insert(&record(hash(1), "f", 1_000))
            .await
            .expect("not poisoned");
        let attempts = (10..30).map(|next| {
            let store = store.clone();
            tokio::spawn(async move { rotate(&store, 1, next, 1_100).await })
        });
        let mut rotated = 0;
        for attempt in attempts {
            if matches!(attempt.await.expect("no panic"), Rotation::Rotated { .. }) {
                rotated += 1;
            }
        }
        assert_eq!(rotated, 1);
    }

    #[test]
    fn the_oldest_tokens_give_way_at_the_cap_and_long_expired_ones_are_forgotten() {
        let mut tokens = Tokens::default();
        let token = |issued_at: u64| Token {
            family: "f".to_owned(),
            sub: "7".to_owned(),
            issued_at,
            expires_at: issued_at + KEEP_EXPIRED_SECS * 10,
            used: false,
            revoked: false,
        };
        for n in 0..MAX_MEMORY_REFRESH_TOKENS as u64 {
            let mut bytes = [0; 32];
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            tokens.add(TokenHash(bytes), token(1_000 + n));
        }
        tokens.add(hash(0xff), token(1_000 + MAX_MEMORY_REFRESH_TOKENS as u64));
        assert_eq!(tokens.refresh.len(), MAX_MEMORY_REFRESH_TOKENS);
        assert!(!tokens.refresh.contains_key(&TokenHash([0; 32])));
        assert!(tokens.refresh.contains_key(&hash(0xff)));
        // Far in the future, everything above has been expired for a day.
        tokens.add(hash(0xfe), token(KEEP_EXPIRED_SECS * 100));
        assert_eq!(tokens.refresh.len(), 1);
    }
}
