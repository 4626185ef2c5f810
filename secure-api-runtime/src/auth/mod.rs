//! Authentication (OWASP API2): bearer access tokens and the [`Principal`]
//! they prove, the application's own and those of OpenID providers
//! ([`oidc`]); passwords, login throttling, and sessions of rotating
//! refresh tokens with revocation.

mod cache;
pub mod jwt;
mod memory;
pub mod oidc;
pub mod password;
pub(crate) mod principal;
pub mod sessions;
mod sql;
pub(crate) mod step;
mod throttle;
pub mod totp;

pub use jwt::{IssuedToken, JwtKey, TokenError};
pub use memory::{MAX_MEMORY_DENIED_TOKENS, MAX_MEMORY_REFRESH_TOKENS, MemoryTokenStore};
pub use password::{Argon2Params, PasswordPolicy, PasswordRejected, Passwords, SymbolRule};
pub use principal::Principal;
pub use sessions::{Sessions, TokenPair, TokenStore};
pub use sql::{SqlTokenStore, connect_any};
pub use throttle::{Backoff, LoginThrottle};
pub use totp::TotpSecret;
