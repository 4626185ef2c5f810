//! Authentication (OWASP API2): bearer access tokens and the [`Principal`]
//! they prove.

mod cache;
pub mod jwt;
mod principal;

pub use jwt::{IssuedToken, JwtKey, TokenError};
pub use principal::Principal;
