//! Route lifecycles (OWASP API9), as `#[registered(lifecycle = ..)]` declares
//! them: a retired route answers 410 before anything else, and every answer
//! of a deprecated one carries `Deprecation` (RFC 9745), `Sunset` (RFC 8594)
//! and its successor's `Link`.

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, LINK};

use crate::guard::exchange::{Exchange, Step};
use crate::policy::{Lifecycle, RoutePolicy};
use crate::problem::{Problem, Refusal};

/// Step: a retired route is gone (410).
pub(crate) async fn refuse_retired(x: &mut Exchange) -> Step {
    if x.policy().registration.lifecycle == Lifecycle::Retired {
        return Err(Refusal::new(
            Problem::new(StatusCode::GONE)
                .with_detail("this route is retired and no longer served"),
            "lifecycle",
            "retired",
        )
        .into());
    }
    Ok(())
}

/// The successor `Link` of a deprecated route, its `{param}`s filled with
/// this request's values (when they are plain URL characters).
pub(crate) fn successor_link(policy: &RoutePolicy, req: &ServiceRequest) -> Option<HeaderValue> {
    let Lifecycle::Deprecated {
        successor: Some(successor),
        ..
    } = policy.registration.lifecycle
    else {
        return None;
    };
    let mut target = successor.to_owned();
    for (name, value) in req.match_info().iter() {
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            target = target.replace(&format!("{{{name}}}"), value);
        }
    }
    HeaderValue::from_str(&format!("<{target}>; rel=\"successor-version\"")).ok()
}

/// A deprecated route's `Deprecation`, `Sunset` and successor `Link`
/// headers, on every answer it gives.
pub(crate) fn deprecation_headers(
    policy: &RoutePolicy,
    link: Option<&HeaderValue>,
    headers: &mut HeaderMap,
) {
    let Lifecycle::Deprecated {
        deprecation_header,
        sunset_header,
        ..
    } = policy.registration.lifecycle
    else {
        return;
    };
    for (name, value) in [
        ("deprecation", deprecation_header),
        ("sunset", sunset_header),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    if let Some(link) = link {
        headers.append(LINK, link.clone());
    }
}
