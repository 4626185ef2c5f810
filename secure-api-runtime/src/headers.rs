//! Security headers (OWASP API8) on every response, errors included.
//! A handler that sets one of these headers itself keeps its value; the
//! `Server` header is always removed.

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderMap, HeaderName, HeaderValue, REFERRER_POLICY,
    SERVER, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

/// The CSP for JSON APIs: nothing may load, nothing may frame.
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// The headers `SecureApp` adds to every response.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::headers::SecurityHeaders;
/// use secure_api_runtime::prelude::*;
///
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
/// let app = SecureApp::new(security)
///     .security_headers(SecurityHeaders::default().content_security_policy("default-src 'self'"));
/// ```
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    content_security_policy: HeaderValue,
    always_hsts: bool,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self {
            content_security_policy: HeaderValue::from_static(DEFAULT_CSP),
            always_hsts: false,
        }
    }
}

impl SecurityHeaders {
    /// Replaces the `Content-Security-Policy` (default [`DEFAULT_CSP`]).
    #[must_use]
    pub fn content_security_policy(mut self, policy: &'static str) -> Self {
        self.content_security_policy = HeaderValue::from_static(policy);
        self
    }

    /// Sends `Strict-Transport-Security` on every response, not only on
    /// those served over TLS (production mode does this: TLS then ends at a
    /// proxy in front of the app).
    #[must_use]
    pub(crate) fn always_hsts(mut self, always: bool) -> Self {
        self.always_hsts = always;
        self
    }

    /// Adds the headers a response does not set itself (`over_tls`: the
    /// request arrived over TLS, so HSTS is sent too), and removes `Server`.
    /// `SecureApp` applies them to every answer; call it for answers built
    /// outside one.
    ///
    /// # Examples
    ///
    /// ```
    /// use actix_web::http::header::HeaderMap;
    /// use secure_api_runtime::headers::SecurityHeaders;
    ///
    /// let mut headers = HeaderMap::new();
    /// SecurityHeaders::default().apply(&mut headers, false);
    /// assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    /// ```
    pub fn apply(&self, headers: &mut HeaderMap, over_tls: bool) {
        // Names and values are made when the code compiles (`const`), and
        // the map grows once, not once per header.
        let fixed: [(HeaderName, HeaderValue); 8] = [
            (
                CONTENT_SECURITY_POLICY,
                self.content_security_policy.clone(),
            ),
            (
                X_CONTENT_TYPE_OPTIONS,
                const { HeaderValue::from_static("nosniff") },
            ),
            (X_FRAME_OPTIONS, const { HeaderValue::from_static("DENY") }),
            (
                REFERRER_POLICY,
                const { HeaderValue::from_static("no-referrer") },
            ),
            (
                CACHE_CONTROL,
                const { HeaderValue::from_static("no-store") },
            ),
            (
                const { HeaderName::from_static("cross-origin-opener-policy") },
                const { HeaderValue::from_static("same-origin") },
            ),
            (
                const { HeaderName::from_static("cross-origin-resource-policy") },
                const { HeaderValue::from_static("same-origin") },
            ),
            (
                const { HeaderName::from_static("permissions-policy") },
                const { HeaderValue::from_static(PERMISSIONS_POLICY) },
            ),
        ];
        // Which of them the answer set itself, from its few headers by
        // comparison: a lookup would hash each name once more.
        let mut set = fixed.each_ref().map(|_| false);
        for name in headers.keys() {
            if let Some(i) = fixed.iter().position(|(fixed, _)| fixed == name) {
                set[i] = true;
            }
        }
        headers.reserve(fixed.len() + 1);
        // `append` for a name the answer does not hold yet: the same
        // result as `insert`, without making the removed values' list.
        for ((name, value), set) in fixed.into_iter().zip(set) {
            if !set {
                headers.append(name, value);
            }
        }
        if (over_tls || self.always_hsts) && !headers.contains_key(STRICT_TRANSPORT_SECURITY) {
            headers.append(
                STRICT_TRANSPORT_SECURITY,
                const { HeaderValue::from_static(HSTS) },
            );
        }
        if headers.contains_key(SERVER) {
            headers.remove(SERVER);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_added_and_a_handlers_own_value_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        headers.insert(SERVER, HeaderValue::from_static("leaky/1.0"));
        SecurityHeaders::default().apply(&mut headers, false);
        assert_eq!(
            headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("public, max-age=60")
        );
        assert_eq!(
            headers.get(X_FRAME_OPTIONS).and_then(|v| v.to_str().ok()),
            Some("DENY")
        );
        assert_eq!(
            headers
                .get(CONTENT_SECURITY_POLICY)
                .and_then(|v| v.to_str().ok()),
            Some(DEFAULT_CSP)
        );
        assert!(!headers.contains_key(SERVER));
        assert!(
            !headers.contains_key(STRICT_TRANSPORT_SECURITY),
            "no HSTS over plain HTTP in dev"
        );
    }

    #[test]
    fn hsts_over_tls_or_always_in_production() {
        let mut tls = HeaderMap::new();
        SecurityHeaders::default().apply(&mut tls, true);
        assert_eq!(
            tls.get(STRICT_TRANSPORT_SECURITY)
                .and_then(|v| v.to_str().ok()),
            Some(HSTS)
        );
        let mut prod = HeaderMap::new();
        SecurityHeaders::default()
            .always_hsts(true)
            .apply(&mut prod, false);
        assert!(prod.contains_key(STRICT_TRANSPORT_SECURITY));
    }
}
