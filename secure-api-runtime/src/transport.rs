//! Transport (OWASP API2, API8): in production mode a request must arrive
//! over TLS, directly or, per a trusted proxy's word, at the proxy. The
//! backstop applies it to every request of the app, before routing.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderValue};

use crate::config::{PlainHttp, SecurityConfig};
use crate::problem::Problem;

/// Whether the request arrived over TLS: on this connection, or as a
/// trusted proxy reports.
pub(crate) fn over_tls(req: &ServiceRequest, security: &SecurityConfig) -> bool {
    req.app_config().secure()
        || crate::net::forwarded_https(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            security.trusted_proxies(),
            security.proxy_header(),
        )
}

/// The answer to a request that did not arrive over TLS in production:
/// 403, or a 308 to the `https` URL for a `GET` or `HEAD` when configured.
pub(crate) fn plain_http_answer(
    choice: PlainHttp,
    req: &ServiceRequest,
) -> actix_web::HttpResponse {
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if choice == PlainHttp::Redirect && safe {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            });
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        if let Some(host) = host {
            // An explicit port was the plain-HTTP one; the https URL keeps
            // the host only (`[v6]:port` keeps `[v6]`).
            let host = match host.strip_prefix('[') {
                Some(rest) => rest
                    .split_once(']')
                    .map_or(host, |(v6, _)| &host[..v6.len() + 2]),
                None => host.split_once(':').map_or(host, |(name, _)| name),
            };
            if let Ok(location) = HeaderValue::from_str(&format!("https://{host}{target}")) {
                return actix_web::HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, location))
                    .finish();
            }
        }
    }
    Problem::forbidden("this API is served over HTTPS only").to_response()
}
