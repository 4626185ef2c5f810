//! SafeClient's URL rules: any text either is refused or names the allowed
//! host over https.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secure_api_runtime::outbound::SafeClient;

/// Built once: a client holds an HTTP connection pool and TLS settings.
static CLIENT: std::sync::LazyLock<Option<SafeClient>> = std::sync::LazyLock::new(|| {
    SafeClient::builder()
        .allow_hosts(["api.partner.example"])
        .build()
        .ok()
});

fuzz_target!(|data: &[u8]| {
    let Some(client) = CLIENT.as_ref() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    if let Ok(url) = client.check_url(&text) {
        assert_eq!(url.scheme(), "https");
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        assert_eq!(
            host.strip_suffix('.').unwrap_or(&host),
            "api.partner.example"
        );
        assert!(url.username().is_empty() && url.password().is_none());
    }
});
