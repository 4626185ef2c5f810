//! Standard Webhooks and `X-Signature` headers over a body: the first three
//! lines are `webhook-id`, `webhook-timestamp` and `webhook-signature` (or
//! `x-signature`), the rest the body. Only a real signature passes.

#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secure_api_runtime::webhook::WebhookKeys;

const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let (Ok(standard), Ok(hex)) = (
        WebhookKeys::standard("whsec_ZnV6emluZyB3ZWJob29rIHNlY3JldA=="),
        WebhookKeys::hex_signature(b"fuzzing webhook secret"),
    ) else {
        return;
    };
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let id = parts.next().unwrap_or_default();
    let timestamp = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature),
        ("x-signature", signature),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let standard_ok = standard.verify(&headers, body, NOW).is_ok();
    if standard_ok {
        let id = std::str::from_utf8(id).unwrap_or_default().trim();
        let timestamp: u64 = std::str::from_utf8(timestamp)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_default();
        let expected = standard.sign(id, timestamp, body);
        assert!(std::str::from_utf8(signature).is_ok_and(|s| s.contains(&expected)));
    }
    let _ = hex.verify(&headers, body, NOW);
});
