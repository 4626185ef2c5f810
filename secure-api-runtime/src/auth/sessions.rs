//! Sessions (OWASP API2): refresh tokens that are random, stored only as a
//! hash, rotated on every use and grouped in families, with reuse detection
//! that revokes the family; logout that revokes the family and denies the
//! access token until it expires.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use actix_web::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{Principal, TokenError};
use crate::config::SecurityConfig;
use crate::problem::Problem;

/// How long a refresh token lives by default: 14 days.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// The longest refresh token looked at; anything longer is refused unread.
pub const MAX_REFRESH_TOKEN_BYTES: usize = 128;

/// A refresh token's SHA-256, the only form in which it is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Lowercase hex, as stored.
    pub fn to_hex(&self) -> String {
        crate::util::hex(&self.0)
    }

    fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// A refresh token to store.
#[derive(Clone, Debug)]
pub struct RefreshRecord {
    /// The token's hash.
    pub hash: TokenHash,
    /// The family: every token rotated from one login.
    pub family: String,
    /// The subject it was issued to.
    pub sub: String,
    /// Issued, in seconds since the epoch.
    pub issued_at: u64,
    /// Expires, in seconds since the epoch.
    pub expires_at: u64,
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was live: it is now used, and the new token is stored in its family.
    Rotated {
        /// The subject.
        sub: String,
    },
    /// It had already been used or revoked: its family is now revoked.
    Reused {
        /// The subject.
        sub: String,
        /// The family that was revoked.
        family: String,
    },
    /// It expired.
    Expired,
    /// No such token.
    Unknown,
}

/// A live refresh token's owner, for logout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyOf {
    /// The subject.
    pub sub: String,
    /// The family.
    pub family: String,
}

/// A storage failure; logged, answered 500.
#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct StoreError(pub String);

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self(error.to_string())
    }
}

/// Where refresh tokens and revoked access tokens live.
///
/// `rotate` must be atomic: of several callers presenting the same live
/// token at once, exactly one gets [`Rotation::Rotated`].
pub trait TokenStore: Send + Sync + 'static {
    /// Stores the first token of a new family.
    fn insert(&self, record: &RefreshRecord)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks `presented` used and stores `next` (issued at `now`, expiring
    /// at `expires_at`) in its family, if `presented` is live at `now`;
    /// otherwise says why not, revoking the family on reuse.
    fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: u64,
        expires_at: u64,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// The family and subject of a stored token, live or not.
    fn family_of(
        &self,
        token: &TokenHash,
    ) -> impl Future<Output = Result<Option<FamilyOf>, StoreError>> + Send;

    /// Revokes every token of `family`.
    fn revoke_family(
        &self,
        family: &str,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Denies the access token `jti` until `exp`.
    fn deny(&self, jti: &str, exp: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The access tokens denied and not yet expired at `now`.
    fn denied(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;
}

/// A token pair, as the login and refresh routes answer it.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// The access token (a JWT).
    pub access_token: String,
    /// The refresh token: 256 random bits, base64url.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl crate::expose::SerializeWhole for TokenPair {}

/// A refresh token that was rotated: the subject, and the new refresh token
/// to hand out with a new access token ([`Sessions::pair`]).
pub struct Rotated {
    /// The subject the family belongs to.
    pub sub: String,
    refresh_token: SecretString,
}

impl fmt::Debug for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotated")
            .field("sub", &self.sub)
            .finish_non_exhaustive()
    }
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The refresh token is unknown, malformed or expired (401).
    #[error("the refresh token is not valid")]
    Invalid,
    /// The refresh token was already used: the family is revoked (401).
    #[error("the refresh token was already used; its session is revoked")]
    Reused,
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing or randomness failed (500).
    #[error("token could not be issued: {0}")]
    Issue(String),
}

impl From<SessionError> for Problem {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Invalid | SessionError::Reused => {
                Problem::unauthorized("the refresh token is not valid")
            }
            other => {
                tracing::error!(target: "secure_api", error = %other, "session operation failed");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl From<TokenError> for SessionError {
    fn from(error: TokenError) -> Self {
        Self::Issue(error.to_string())
    }
}

/// Issues, rotates and revokes sessions over a [`TokenStore`].
///
/// # Examples
///
/// ```
/// use secure_api_runtime::auth::{Sessions, SqlTokenStore};
/// use secure_api_runtime::prelude::*;
///
/// # actix_web::rt::System::new().block_on(async {
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().unwrap();
/// let store = SqlTokenStore::open_url("sqlite::memory:").await.unwrap();
/// let sessions = Sessions::new(security.clone(), store);
/// let pair = sessions.start("1", &["user".to_owned()]).await.unwrap();
/// let rotated = sessions.refresh(&pair.refresh_token).await.unwrap();
/// let next = sessions.pair(rotated, &["user".to_owned()]).unwrap();
/// // The first refresh token is now spent: presenting it again revokes the family.
/// assert!(sessions.refresh(&pair.refresh_token).await.is_err());
/// assert!(sessions.refresh(&next.refresh_token).await.is_err());
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Sessions<S> {
    security: SecurityConfig,
    store: S,
    refresh_ttl: Duration,
}

impl<S: TokenStore> Sessions<S> {
    /// Sessions signed with `security`'s key, stored in `store`.
    pub fn new(security: SecurityConfig, store: S) -> Self {
        Self {
            security,
            store,
            refresh_ttl: DEFAULT_REFRESH_TTL,
        }
    }

    /// Sets how long a refresh token lives (default 14 days).
    #[must_use]
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Loads the denied access tokens from the store into the process, so
    /// revocations survive a restart. Call once at start.
    pub async fn restore(&self) -> Result<usize, StoreError> {
        let now = now_secs();
        let denied = self.store.denied(now).await?;
        for (jti, exp) in &denied {
            self.security.stores().denylist.restore(jti, *exp, now);
        }
        Ok(denied.len())
    }

    /// After a password login: a fresh access token and the first refresh
    /// token of a new family.
    pub async fn start(&self, sub: &str, roles: &[String]) -> Result<TokenPair, SessionError> {
        let now = now_secs();
        let family = crate::util::random_id().map_err(|e| SessionError::Issue(e.to_string()))?;
        let (token, hash) = new_refresh()?;
        let record = RefreshRecord {
            hash,
            family,
            sub: sub.to_owned(),
            issued_at: now,
            expires_at: self.refresh_expiry(now),
        };
        self.store.insert(&record).await?;
        let access = self.security.issue_login_token(sub, roles)?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: token.expose_secret().to_owned(),
            token_type: "Bearer",
            expires_in: access.expires_in,
        })
    }

    /// Rotates a presented refresh token. Reuse of a spent token revokes its
    /// whole family and answers [`SessionError::Reused`].
    pub async fn refresh(&self, presented: &str) -> Result<Rotated, SessionError> {
        let presented = parse_refresh(presented)?;
        let now = now_secs();
        // The store puts the new token in the presented token's family.
        let (token, next) = new_refresh()?;
        match self
            .store
            .rotate(&presented, &next, now, self.refresh_expiry(now))
            .await?
        {
            Rotation::Rotated { sub } => Ok(Rotated {
                sub,
                refresh_token: token,
            }),
            Rotation::Reused { sub, family } => {
                crate::observe::context::refused("refresh", "reused");
                crate::observe::context::decide(|decision| decision.sub = Some(sub.clone()));
                tracing::warn!(
                    target: "secure_api",
                    principal = %sub,
                    family = %family,
                    "a spent refresh token was presented; its family is revoked"
                );
                Err(SessionError::Reused)
            }
            Rotation::Expired | Rotation::Unknown => Err(SessionError::Invalid),
        }
    }

    /// The token pair after a refresh: a (not fresh) access token with the
    /// subject's current `roles`, and the rotated refresh token.
    pub fn pair(&self, rotated: Rotated, roles: &[String]) -> Result<TokenPair, SessionError> {
        let access = self.security.issue_access_token(&rotated.sub, roles)?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: rotated.refresh_token.expose_secret().to_owned(),
            token_type: "Bearer",
            expires_in: access.expires_in,
        })
    }

    /// Revokes a refresh token's family (a family only, without a caller).
    pub async fn revoke(&self, presented: &str) -> Result<(), SessionError> {
        let presented = parse_refresh(presented)?;
        if let Some(owner) = self.store.family_of(&presented).await? {
            self.store.revoke_family(&owner.family, now_secs()).await?;
        }
        Ok(())
    }

    /// Logout: denies `caller`'s access token until it expires and, when
    /// the refresh token belongs to the caller, revokes its family.
    pub async fn end(&self, caller: &Principal, presented: &str) -> Result<(), SessionError> {
        let now = now_secs();
        self.store.deny(&caller.jti, caller.exp).await?;
        self.security
            .stores()
            .denylist
            .revoke(&caller.jti, caller.exp)
            .await;
        if let Ok(presented) = parse_refresh(presented)
            && let Some(owner) = self.store.family_of(&presented).await?
            && owner.sub == caller.sub
        {
            self.store.revoke_family(&owner.family, now).await?;
        }
        Ok(())
    }

    /// When a refresh token issued at `now` expires.
    fn refresh_expiry(&self, now: u64) -> u64 {
        now.saturating_add(self.refresh_ttl.as_secs())
    }
}

/// A new refresh token (256 random bits, base64url) and its hash.
fn new_refresh() -> Result<(SecretString, TokenHash), SessionError> {
    let bytes =
        crate::util::random_bytes::<32>().map_err(|e| SessionError::Issue(e.to_string()))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = TokenHash::of(&token);
    Ok((SecretString::from(token), hash))
}

/// A presented refresh token's hash, refusing what cannot be one unread.
fn parse_refresh(presented: &str) -> Result<TokenHash, SessionError> {
    let plausible = !presented.is_empty()
        && presented.len() <= MAX_REFRESH_TOKEN_BYTES
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Err(SessionError::Invalid);
    }
    Ok(TokenHash::of(presented))
}

pub use crate::util::now_secs;
