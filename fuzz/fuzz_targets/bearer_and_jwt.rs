//! The `Authorization` header, then the token it carries through JWT
//! header and claims verification. Nothing may panic; a token that is not
//! one signed by the key is refused.

#![no_main]

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secure_api_runtime::auth::JwtKey;
use secure_api_runtime::{Mode, SecurityConfig};

static SECURITY: std::sync::LazyLock<Option<SecurityConfig>> = std::sync::LazyLock::new(|| {
    SecurityConfig::builder(Mode::Dev)
        .key(JwtKey::hs256(
            b"fuzzing secret, thirty-two bytes or more".to_vec(),
        ))
        .build()
        .ok()
});

fuzz_target!(|data: &[u8]| {
    let Some(security) = SECURITY.as_ref() else {
        return;
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(data) {
        headers.insert(AUTHORIZATION, value);
    }
    if let Ok(token) = secure_api_runtime::__fuzzing::bearer_token(&headers) {
        assert!(security.verify_access_token(token).is_err());
    }
    // The bytes as a token on their own, whatever the header made of them.
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(security.verify_access_token(text).is_err());
    }
});
