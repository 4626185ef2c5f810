//! An OpenID provider's key set document (`jwks_uri`), as fetched: any
//! bytes. A set is kept only with a usable key, and every key kept verifies
//! one of the provider algorithms and nothing else.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secure_api_runtime::__fuzzing::key_set;
use secure_api_runtime::auth::oidc::PROVIDER_ALGORITHMS;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = key_set(data) {
        assert!(!keys.is_empty(), "a kept set has a usable key");
        for (_, algorithms) in keys {
            assert!(!algorithms.is_empty());
            assert!(algorithms.iter().all(|a| PROVIDER_ALGORITHMS.contains(a)));
        }
    }
});
