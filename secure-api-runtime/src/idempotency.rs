//! `#[idempotent]` (OWASP API6): a route that requires an `Idempotency-Key`
//! header. The first request with a key runs and its answer is stored; a
//! replay with the same key and the same request gets the stored answer
//! without running the handler again; the same key with a different request
//! is refused (422). Keys are scoped to the caller and the route, and expire
//! after [`KEY_TTL`]. Each caller holds at most [`MAX_KEYS_PER_CALLER`]
//! keys and [`MAX_BYTES_PER_CALLER`] of answers (429 past them, for that
//! caller only), in memory and in Redis; the process's store holds at most
//! [`MAX_KEYS`] keys and [`MAX_STORED_BYTES`] of answers.
//!
//! The pipeline's step reads the body (within the route's cap) to
//! fingerprint the request, before the business state is checked.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpResponse};
use sha2::{Digest as _, Sha256};

use crate::guard::exchange::{Exchange, Route, Step, Stop};
use crate::problem::{Problem, Refusal};
use crate::store::idempotency::{Claim, Claimed};
pub use crate::store::idempotency::{
    KEY_TTL, MAX_BYTES_PER_CALLER, MAX_KEYS, MAX_KEYS_PER_CALLER, MAX_STORED_BYTES,
};

/// The longest `Idempotency-Key` accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The request's `Idempotency-Key`: one header of 1 to 255 visible ASCII
/// characters; a 400 problem otherwise.
pub(crate) fn key_of(headers: &HeaderMap) -> Result<String, Problem> {
    let bad = |detail: &str| Problem::new(StatusCode::BAD_REQUEST).with_detail(detail);
    let mut values = headers.get_all(IDEMPOTENCY_KEY);
    let value = values
        .next()
        .ok_or_else(|| bad("this route needs an `Idempotency-Key` header"))?;
    if values.next().is_some() {
        return Err(bad("send one `Idempotency-Key` header"));
    }
    let key = value
        .to_str()
        .map_err(|_| bad("the `Idempotency-Key` is not visible ASCII"))?;
    if key.is_empty() || key.len() > MAX_KEY_LEN || !crate::util::is_visible_ascii(key.as_bytes()) {
        return Err(bad(
            "the `Idempotency-Key` is 1 to 255 visible ASCII characters",
        ));
    }
    Ok(key.to_owned())
}

/// What identifies "the same request": method, path, query and body.
pub(crate) fn fingerprint(method: &Method, uri: &str, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update([0]);
    hash.update(uri.as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.finalize().into()
}

/// Step: an idempotent route's key is claimed for this exact request, or
/// its stored answer replayed (400 without a key, 422 for another request
/// under the key, 409 while the first still runs). Keys belong to the
/// caller: the subject, or the address of an anonymous caller.
pub(crate) async fn claim(x: &mut Exchange) -> Step {
    if !x.policy().idempotent {
        return Ok(());
    }
    // Boxed: the body read and the store's claim make a large future, which
    // only idempotent routes should carry (every request's future would
    // otherwise be that much larger, and be copied when it is boxed).
    Box::pin(claim_key(x)).await
}

/// [`claim`] on an idempotent route.
async fn claim_key(x: &mut Exchange) -> Step {
    let policy = x.policy();
    let key = key_of(x.req.headers())
        .map_err(|problem| Refusal::new(problem, "idempotency", "missing_or_malformed_key"))?;
    let who = match x.sub() {
        Some(sub) => format!("sub:{sub}"),
        None => format!("ip:{}", x.client),
    };
    let body = x
        .read_body()
        .await
        .map_err(|problem| Refusal::new(problem, "idempotency", "key_reused_or_busy"))?;
    let print = fingerprint(x.req.method(), &x.req.uri().to_string(), &body);
    let scope = format!("{} {}:{who}:{key}", policy.method, policy.path);
    let stores = x.route.security.stores();
    match stores.idempotency.claim(who, scope, print).await {
        Ok(Claim::Run(claimed)) => {
            x.claimed = Some(Box::new(claimed));
            Ok(())
        }
        Ok(Claim::Replay(response)) => Err(Stop::Answered(Box::new(response))),
        Err(problem) => Err(Refusal::new(problem, "idempotency", "key_reused_or_busy").into()),
    }
}

/// The answer side: the handler's answer is stored under the claimed key
/// (a server error or a failure frees it instead) and sent.
pub(crate) async fn remember<B: MessageBody + 'static>(
    route: &Route,
    claimed: &Claimed,
    answer: Result<ServiceResponse<B>, Error>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let store = &route.security.stores().idempotency;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            store.release(claimed).await;
            return Err(e);
        }
    };
    let (request, response) = answer.into_parts();
    let status = response.status();
    let headers = response.headers().clone();
    let Ok(body) = actix_web::body::to_bytes(response.into_body()).await else {
        store.release(claimed).await;
        let failed = Problem::new(StatusCode::INTERNAL_SERVER_ERROR).to_response();
        return Ok(ServiceResponse::new(request, failed).map_into_right_body());
    };
    store.finish(claimed, status, &headers, &body).await;
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in &headers {
        rebuilt.append_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(request, rebuilt.body(body)).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    #[test]
    fn key_forms() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(IDEMPOTENCY_KEY), value);
            }
            key_of(&headers).map_err(|p| p.status())
        };
        assert_eq!(with("order-42-execute"), Ok("order-42-execute".to_owned()));
        assert_eq!(with(""), Err(StatusCode::BAD_REQUEST));
        assert_eq!(with("has space"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(with(&"k".repeat(256)), Err(StatusCode::BAD_REQUEST));
        assert_eq!(
            key_of(&HeaderMap::new()).map_err(|p| p.status()),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn the_fingerprint_covers_method_target_and_body() {
        let one = fingerprint(&Method::POST, "/a?x=1", b"{}");
        assert_eq!(one, fingerprint(&Method::POST, "/a?x=1", b"{}"));
        assert_ne!(one, fingerprint(&Method::PUT, "/a?x=1", b"{}"));
        assert_ne!(one, fingerprint(&Method::POST, "/a?x=2", b"{}"));
        assert_ne!(one, fingerprint(&Method::POST, "/a?x=1", b"{ }"));
    }
}
