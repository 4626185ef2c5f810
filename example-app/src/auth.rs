//! What the authentication routes share: password hashing and policy,
//! failed-login throttling, and sessions stored beside the users.

use secrecy::SecretString;
use secure_api_runtime::SecurityConfig;
use secure_api_runtime::auth::{
    Argon2Params, LoginThrottle, PasswordPolicy, Passwords, Sessions, SqlTokenStore,
};

use crate::store::{Store, StoreError};

/// How passwords are hashed and which ones are accepted.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthOptions {
    /// argon2id costs; below OWASP's floor the app refuses to start.
    pub argon2: Argon2Params,
    /// The rules a new password meets.
    pub policy: PasswordPolicy,
    /// Hashes at once and hashes waiting, when not the default (half the
    /// cores, and four times that).
    pub hash_slots: Option<(usize, usize)>,
}

/// The authentication services, one per process, shared by every worker.
#[derive(Debug)]
pub struct Auth {
    /// argon2id, bounded.
    pub passwords: Passwords,
    /// The rules for new passwords.
    pub policy: PasswordPolicy,
    /// Failed-login backoff per account and client address.
    pub throttle: LoginThrottle,
    /// Refresh tokens and revocations, in the app's database.
    pub sessions: Sessions<SqlTokenStore>,
    /// The security configuration (client address, token signing).
    pub security: SecurityConfig,
}

impl Auth {
    /// Builds the services over `store`'s database and reloads the revoked
    /// access tokens, so a restart keeps them revoked.
    pub async fn new(
        security: SecurityConfig,
        store: &Store,
        options: AuthOptions,
    ) -> Result<Self, String> {
        let passwords = match options.hash_slots {
            Some((at_once, waiting)) => Passwords::with_bound(options.argon2, at_once, waiting)?,
            None => Passwords::new(options.argon2)?,
        };
        let tokens = SqlTokenStore::new(store.pool().clone())
            .await
            .map_err(|e| e.to_string())?;
        let sessions = Sessions::new(security.clone(), tokens);
        sessions.restore().await.map_err(|e| e.to_string())?;
        Ok(Self {
            passwords,
            policy: options.policy,
            throttle: LoginThrottle::for_config(&security),
            sessions,
            security,
        })
    }
}

/// Creates the `admin` user with role `admin` if it does not exist yet.
pub async fn ensure_admin(store: &Store, auth: &Auth, password: String) -> Result<(), String> {
    if store
        .user_by_name("admin")
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(());
    }
    auth.policy
        .check(&password, Some("admin"))
        .map_err(|rule| format!("EXAMPLE_ADMIN_PASSWORD: {rule}"))?;
    let hash = auth
        .passwords
        .hash(SecretString::from(password))
        .await
        .map_err(|e| e.to_string())?;
    match store
        .create_user("admin", "Administrator", &hash, &["admin".to_owned()])
        .await
    {
        Ok(_) | Err(StoreError::UsernameTaken) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
