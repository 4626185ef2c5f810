//! Password hashing: argon2id with OWASP's parameters, on the blocking pool.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secure_api_runtime::Problem;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a password's length; the error names the rule.
pub fn check_length(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err("`password` must be at least 12 characters")
    } else if chars > MAX_PASSWORD_CHARS {
        Err("`password` must be at most 128 characters")
    } else {
        Ok(())
    }
}

fn argon2() -> Argon2<'static> {
    // m = 19456 KiB, t = 2, p = 1: OWASP's argon2id recommendation.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes `password` into a PHC string, off the async workers.
pub async fn hash(password: String) -> Result<String, Problem> {
    let hashed = actix_web::web::block(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await;
    match hashed {
        Ok(Ok(hash)) => Ok(hash),
        Ok(Err(e)) => Err(crate::routes::internal(&e)),
        Err(e) => Err(crate::routes::internal(&e)),
    }
}
