//! `Idempotency-Key` headers and `?limit=&offset=` query strings.

#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secure_api_runtime::page::{PageConfig, PageRequest};

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(data) {
        headers.insert(HeaderName::from_static("idempotency-key"), value);
    }
    if let Ok(key) = secure_api_runtime::__fuzzing::idempotency_key(&headers) {
        assert!(!key.is_empty() && key.len() <= 255);
        assert!(key.bytes().all(|b| b.is_ascii_graphic()));
    }
    let config = PageConfig {
        default_limit: 20,
        max_limit: 50,
    };
    if let Ok(page) = PageRequest::from_query(&String::from_utf8_lossy(data), config) {
        assert!((1..=50).contains(&page.limit));
    }
});
