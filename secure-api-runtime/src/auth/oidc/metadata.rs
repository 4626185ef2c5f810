//! OAuth 2.0 Protected Resource Metadata (RFC 9728): what a client (an MCP
//! client, an agent) reads to learn which authorization servers issue
//! tokens for this API and which scopes its routes ask for. Served at
//! [`PATH`] when OpenID issuers are configured; every 401 then points to it
//! from its `WWW-Authenticate` challenge.

use actix_web::http::header::{HOST, HeaderMap, HeaderValue};
use actix_web::web::Bytes;

use crate::config::SecurityConfig;
use crate::policy::RoutePolicy;

/// Where the metadata is served.
pub const PATH: &str = "/.well-known/oauth-protected-resource";

/// The metadata document for `routes`, when issuers are configured:
/// `resource` (the audience), `authorization_servers` (the issuers),
/// `scopes_supported` (every scope a route declares) and
/// `bearer_methods_supported`.
pub(crate) fn document(security: &SecurityConfig, routes: &[&RoutePolicy]) -> Option<Bytes> {
    let audience = security.oidc_audience()?;
    let mut scopes: Vec<&str> = routes
        .iter()
        .flat_map(|policy| policy.scopes.names().iter().copied())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let body = serde_json::json!({
        "resource": audience,
        "authorization_servers": security.oidc_issuers(),
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    });
    serde_json::to_vec(&body).ok().map(Bytes::from)
}

/// `Bearer resource_metadata="<scheme>://<host>/.well-known/oauth-protected-resource"`
/// for the host the request named; plain `Bearer` when the host is not a
/// plain host name or address (it is echoed into a quoted string).
pub(crate) fn challenge(headers: &HeaderMap, over_tls: bool) -> HeaderValue {
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
    let Some(host) = host else {
        return HeaderValue::from_static("Bearer");
    };
    let scheme = if over_tls { "https" } else { "http" };
    HeaderValue::from_str(&format!(
        "Bearer resource_metadata=\"{scheme}://{host}{PATH}\""
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_names_the_metadata_for_plain_hosts_only() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("api.example.com:8443"));
        assert_eq!(
            challenge(&headers, true),
            "Bearer resource_metadata=\"https://api.example.com:8443/.well-known/oauth-protected-resource\""
        );
        headers.insert(HOST, HeaderValue::from_static("evil\", x=\"y"));
        assert_eq!(challenge(&headers, true), "Bearer");
        assert_eq!(challenge(&HeaderMap::new(), false), "Bearer");
    }
}
