//! Incoming webhooks (OWASP API10): `#[webhook(secret = "NAME")]` routes
//! verify an HMAC-SHA256 signature over the raw body, read only up to the
//! route's body cap, before anything parses it.
//!
//! Two formats:
//!
//! - [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`,
//!   `webhook-timestamp` and `webhook-signature: v1,<base64>` (several,
//!   space separated), signed content `id.timestamp.body`, `whsec_` base64
//!   secrets (several, for rotation), a timestamp within ±5 minutes, and
//!   each id processed once: an id is spent only when the handler answers
//!   2xx (a failure frees it for the sender's retry), a re-delivery of a
//!   processed id gets that answer's status without running the handler
//!   again, and a delivery still being processed answers 409.
//! - A plain `X-Signature: <hex HMAC-SHA256 of the body>` for senders that
//!   only do that (no timestamp, so no replay protection: prefer the first).
//!
//! Signatures are compared in constant time.

pub(crate) mod step;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::problem::Problem;

type HmacSha256 = Hmac<Sha256>;

/// The default tolerance between a delivery's timestamp and the clock.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Delivery ids remembered at most, in memory. When full, the ids
/// processed longest ago are forgotten first; only a table full of
/// deliveries still being processed refuses (503).
pub const MAX_REMEMBERED_IDS: usize = 100_000;

/// How long a processed delivery id is remembered, so that a sender's
/// re-delivery (it never saw the 2xx) is acknowledged without being
/// processed again: three days, longer than the usual senders' retry
/// schedules (Standard Webhooks / Svix about 27 hours, Stripe three days).
pub const PROCESSED_IDS_KEPT: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// A secret that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    /// No secret was given.
    #[error("no webhook secret is given")]
    Empty,
    /// A Standard Webhooks secret is not `whsec_` followed by base64.
    #[error("webhook secret {0} is not `whsec_` followed by base64")]
    NotWhsec(usize),
}

/// Why a delivery was refused. The client learns only that its signature
/// did not hold; the reason is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A required header is missing, repeated or not text.
    #[error("a signature header is missing or malformed")]
    MissingHeader,
    /// The timestamp is not a number.
    #[error("the timestamp is malformed")]
    BadTimestamp,
    /// The timestamp is outside the tolerance.
    #[error("the timestamp is too old or too far in the future")]
    Stale,
    /// No signature matches any secret.
    #[error("no signature matches")]
    BadSignature,
    /// This delivery id was accepted before ([`WebhookKeys::verify`]).
    #[error("the delivery was already received")]
    Replayed,
    /// This delivery id is being processed by another request.
    #[error("the delivery is being processed")]
    InProgress,
    /// The replay cache is full of live ids.
    #[error("too many deliveries at once")]
    Busy,
}

impl WebhookError {
    /// A short stable name for audit logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader => "missing_header",
            Self::BadTimestamp => "bad_timestamp",
            Self::Stale => "stale",
            Self::BadSignature => "bad_signature",
            Self::Replayed => "replayed",
            Self::InProgress => "in_progress",
            Self::Busy => "replay_cache_full",
        }
    }
}

impl From<WebhookError> for Problem {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Busy => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_detail("too many webhook deliveries at once; retry later"),
            WebhookError::InProgress => Problem::new(StatusCode::CONFLICT)
                .with_detail("this delivery is being processed; retry later")
                .with_header(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from_static("5"),
                ),
            _ => Problem::new(StatusCode::UNAUTHORIZED)
                .with_detail("the webhook signature is missing, stale or invalid"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Standard,
    HexSignature,
}

/// The secrets of one webhook and its replay cache. Cheap to clone; clones
/// share the cache, so build it once and hand clones to every worker.
///
/// # Examples
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
/// use secure_api_runtime::webhook::WebhookKeys;
///
/// // The published Standard Webhooks example.
/// let keys = WebhookKeys::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let body = br#"{"test": 2432232314}"#;
/// let signature = keys.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
///
/// let mut headers = HeaderMap::new();
/// for (name, value) in [
///     ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
///     ("webhook-timestamp", "1614265330"),
///     ("webhook-signature", signature.as_str()),
/// ] {
///     headers.insert(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
/// }
/// assert!(keys.verify(&headers, body, 1614265330 + 10).is_ok());
/// // The same delivery again is a replay.
/// assert!(keys.verify(&headers, body, 1614265330 + 20).is_err());
/// ```
#[derive(Clone)]
pub struct WebhookKeys {
    inner: Arc<Inner>,
}

struct Inner {
    format: Format,
    secrets: Vec<SecretSlice<u8>>,
    tolerance: u64,
    seen: Mutex<HashMap<String, Seen>>,
}

/// A delivery id in the replay cache.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// Forgotten after this second.
    until: u64,
    /// The status the handler answered; `None` while it runs.
    answered: Option<u16>,
}

/// What the replay cache knows of a delivery id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Never seen (or forgotten): claimed now, for this request.
    First,
    /// Claimed by a request whose handler has not answered yet.
    Running,
    /// Processed: the handler answered this 2xx status.
    Answered(u16),
}

impl fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("format", &self.inner.format)
            .field("secrets", &self.inner.secrets.len())
            .field("tolerance", &self.inner.tolerance)
            .finish_non_exhaustive()
    }
}

impl WebhookKeys {
    /// Standard Webhooks secrets: `whsec_<base64>`, comma separated, the
    /// current one first; every one verifies, so a sender can rotate.
    pub fn standard(secrets: &str) -> Result<Self, WebhookConfigError> {
        let mut keys = Vec::new();
        for (n, secret) in secrets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let bytes = secret
                .strip_prefix("whsec_")
                .and_then(|b64| STANDARD.decode(b64).ok())
                .filter(|bytes| !bytes.is_empty())
                .ok_or(WebhookConfigError::NotWhsec(n + 1))?;
            keys.push(SecretSlice::from(bytes));
        }
        if keys.is_empty() {
            return Err(WebhookConfigError::Empty);
        }
        Ok(Self::new(Format::Standard, keys))
    }

    /// A shared secret for the plain `X-Signature: <hex HMAC-SHA256>` format.
    pub fn hex_signature(secret: &[u8]) -> Result<Self, WebhookConfigError> {
        if secret.is_empty() {
            return Err(WebhookConfigError::Empty);
        }
        Ok(Self::new(
            Format::HexSignature,
            vec![SecretSlice::from(secret.to_vec())],
        ))
    }

    fn new(format: Format, secrets: Vec<SecretSlice<u8>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                format,
                secrets,
                tolerance: DEFAULT_TOLERANCE.as_secs(),
                seen: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The Standard Webhooks signature of a delivery with the current
    /// (first) secret: `v1,<base64>`. For senders and tests.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let Some(secret) = self.inner.secrets.first() else {
            return String::new();
        };
        let tag = match self.inner.format {
            Format::Standard => standard_mac(secret, id, timestamp, body).finalize(),
            Format::HexSignature => body_mac(secret, body).finalize(),
        }
        .into_bytes();
        match self.inner.format {
            Format::Standard => format!("v1,{}", STANDARD.encode(tag)),
            Format::HexSignature => crate::util::hex(&tag),
        }
    }

    /// Checks a delivery's headers and raw body at `now` (seconds since the
    /// epoch), outside a `#[webhook]` route. A Standard Webhooks id that
    /// passes is remembered, so the same delivery is accepted once. (A
    /// `#[webhook]` route does better: it spends the id only when its
    /// handler answers 2xx.)
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: u64) -> Result<(), WebhookError> {
        match self.verify_signature(headers, body, now)? {
            Some(id) => match self.claim(id, now)? {
                Delivery::First => Ok(()),
                Delivery::Running | Delivery::Answered(_) => Err(WebhookError::Replayed),
            },
            None => Ok(()),
        }
    }

    /// Checks the signature only; the delivery id to record (Standard
    /// Webhooks), which the caller checks for a replay.
    pub(crate) fn verify_signature<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<Option<&'h str>, WebhookError> {
        match self.inner.format {
            Format::Standard => self.verify_standard(headers, body, now).map(Some),
            Format::HexSignature => self.verify_hex(headers, body).map(|()| None),
        }
    }

    /// How long a claimed delivery id must be remembered: twice the
    /// tolerance.
    pub(crate) fn replay_window(&self) -> Duration {
        Duration::from_secs(2 * self.inner.tolerance)
    }

    fn verify_standard<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<&'h str, WebhookError> {
        let id = single(headers, "webhook-id")?;
        if id.is_empty() || id.len() > 256 {
            return Err(WebhookError::MissingHeader);
        }
        let timestamp: u64 = single(headers, "webhook-timestamp")?
            .parse()
            .map_err(|_| WebhookError::BadTimestamp)?;
        if timestamp.abs_diff(now) > self.inner.tolerance {
            return Err(WebhookError::Stale);
        }
        let signatures = single(headers, "webhook-signature")?;
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|tag| {
                self.inner.secrets.iter().any(|secret| {
                    standard_mac(secret, id, timestamp, body)
                        .verify_slice(&tag)
                        .is_ok()
                })
            });
        if !matched {
            return Err(WebhookError::BadSignature);
        }
        Ok(id)
    }

    fn verify_hex(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let value = single(headers, "x-signature")?;
        let hex = value.strip_prefix("sha256=").unwrap_or(value);
        let tag = decode_hex(hex).ok_or(WebhookError::BadSignature)?;
        let matched = self
            .inner
            .secrets
            .iter()
            .any(|secret| body_mac(secret, body).verify_slice(&tag).is_ok());
        if matched {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    /// Claims `id` for a delivery at `now`, unless it is known: a new
    /// claim lasts until the id could no longer pass the timestamp check
    /// (the handler runs well within that).
    pub(crate) fn claim(&self, id: &str, now: u64) -> Result<Delivery, WebhookError> {
        let mut seen = self.inner.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(id) {
            Some(Seen { until, answered }) if *until >= now => {
                return Ok(answered.map_or(Delivery::Running, Delivery::Answered));
            }
            _ => {}
        }
        if seen.len() >= MAX_REMEMBERED_IDS {
            make_room(&mut seen, now);
            if seen.len() >= MAX_REMEMBERED_IDS {
                return Err(WebhookError::Busy);
            }
        }
        let until = now + 2 * self.inner.tolerance;
        seen.insert(
            id.to_owned(),
            Seen {
                until,
                answered: None,
            },
        );
        Ok(Delivery::First)
    }

    /// Records that the handler answered `status` (2xx) for `id`.
    pub(crate) fn answered(&self, id: &str, status: u16, now: u64) {
        let mut seen = self.inner.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(
            id.to_owned(),
            Seen {
                until: now + PROCESSED_IDS_KEPT.as_secs(),
                answered: Some(status),
            },
        );
    }

    /// Frees `id`, claimed for a delivery whose handler did not answer 2xx.
    pub(crate) fn release(&self, id: &str) {
        let mut seen = self.inner.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(id).is_some_and(|entry| entry.answered.is_none()) {
            seen.remove(id);
        }
    }
}

/// Drops expired ids, then the tenth of the processed ids kept longest.
fn make_room(seen: &mut HashMap<String, Seen>, now: u64) {
    seen.retain(|_, entry| entry.until >= now);
    if seen.len() < MAX_REMEMBERED_IDS {
        return;
    }
    let mut processed: Vec<u64> = seen
        .values()
        .filter(|entry| entry.answered.is_some())
        .map(|entry| entry.until)
        .collect();
    if processed.is_empty() {
        return;
    }
    let nth = (processed.len() / 10).min(processed.len() - 1);
    let (_, threshold, _) = processed.select_nth_unstable(nth);
    let threshold = *threshold;
    seen.retain(|_, entry| entry.answered.is_none() || entry.until > threshold);
}

fn standard_mac(secret: &SecretSlice<u8>, id: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = keyed(secret);
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn body_mac(secret: &SecretSlice<u8>, body: &[u8]) -> HmacSha256 {
    let mut mac = keyed(secret);
    mac.update(body);
    mac
}

fn keyed(secret: &SecretSlice<u8>) -> HmacSha256 {
    // HMAC takes keys of any length.
    <HmacSha256 as Mac>::new_from_slice(secret.expose_secret())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

/// The one value of header `name`, as text.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, WebhookError> {
    let mut values = headers.get_all(name);
    let value = values.next().ok_or(WebhookError::MissingHeader)?;
    if values.next().is_some() {
        return Err(WebhookError::MissingHeader);
    }
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| WebhookError::MissingHeader)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: u64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        map
    }

    #[test]
    fn the_published_vector_verifies_within_tolerance_only() {
        let keys = WebhookKeys::standard(SECRET).expect("secret");
        let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let good = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", signature),
        ]);
        assert_eq!(keys.verify(&good, BODY, TS + 301), Err(WebhookError::Stale));
        assert_eq!(keys.verify(&good, BODY, TS - 301), Err(WebhookError::Stale));
        assert_eq!(
            keys.verify(&good, b"{\"test\": 1}", TS),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(keys.verify(&good, BODY, TS + 300), Ok(()));
        assert_eq!(keys.verify(&good, BODY, TS), Err(WebhookError::Replayed));
    }

    #[test]
    fn an_id_is_spent_by_a_2xx_only_and_a_full_cache_forgets_the_oldest_processed() {
        let keys = WebhookKeys::standard(SECRET).expect("secret");
        assert_eq!(keys.claim("a", TS), Ok(Delivery::First));
        assert_eq!(keys.claim("a", TS), Ok(Delivery::Running));
        keys.release("a");
        assert_eq!(keys.claim("a", TS), Ok(Delivery::First));
        keys.answered("a", 202, TS);
        keys.release("a");
        assert_eq!(keys.claim("a", TS + 1), Ok(Delivery::Answered(202)));
        // Forgotten once its time is up.
        let later = TS + PROCESSED_IDS_KEPT.as_secs() + 1;
        assert_eq!(keys.claim("a", later), Ok(Delivery::First));

        let full = WebhookKeys::standard(SECRET).expect("secret");
        for n in 0..MAX_REMEMBERED_IDS {
            let id = n.to_string();
            assert_eq!(full.claim(&id, TS), Ok(Delivery::First));
            full.answered(&id, 200, TS + n as u64 / 1000);
        }
        // Room is made by dropping the processed ids kept longest.
        assert_eq!(full.claim("new", TS), Ok(Delivery::First));
        assert_eq!(full.claim("0", TS), Ok(Delivery::First));
        let last = (MAX_REMEMBERED_IDS - 1).to_string();
        assert_eq!(full.claim(&last, TS), Ok(Delivery::Answered(200)));

        // Only ids still being processed fill it for good.
        let busy = WebhookKeys::standard(SECRET).expect("secret");
        for n in 0..MAX_REMEMBERED_IDS {
            assert_eq!(busy.claim(&n.to_string(), TS), Ok(Delivery::First));
        }
        assert_eq!(busy.claim("new", TS), Err(WebhookError::Busy));
    }

    #[test]
    fn rotation_accepts_any_secret_and_any_listed_signature() {
        let old = WebhookKeys::standard(SECRET).expect("secret");
        let rotated =
            WebhookKeys::standard(&format!("whsec_{},{SECRET}", STANDARD.encode(b"new key")))
                .expect("secrets");
        let signature = format!("v1,bm90IGl0 v2,abc {}", old.sign(ID, TS, BODY));
        let delivery = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", &signature),
        ]);
        assert_eq!(rotated.verify(&delivery, BODY, TS), Ok(()));
    }

    #[test]
    fn every_malformed_header_form_is_refused() {
        let keys = WebhookKeys::standard(SECRET).expect("secret");
        let good = keys.sign(ID, TS, BODY);
        let cases: Vec<Vec<(&'static str, &str)>> = vec![
            vec![],
            vec![
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", &good),
            ],
            vec![("webhook-id", ID), ("webhook-signature", &good)],
            vec![("webhook-id", ID), ("webhook-timestamp", "1614265330")],
            vec![
                ("webhook-id", ""),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", &good),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "soon"),
                ("webhook-signature", &good),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "-1"),
                ("webhook-signature", &good),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "99999999999999999999999"),
                ("webhook-signature", &good),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", ""),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", "v1,"),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", "v1,!!!"),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", "v1"),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                (
                    "webhook-signature",
                    "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
            ],
            vec![
                ("webhook-id", ID),
                ("webhook-id", ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", &good),
            ],
        ];
        for case in cases {
            let result = keys.verify(&headers(&case), BODY, TS);
            assert!(result.is_err(), "{case:?}");
            assert_eq!(
                Problem::from(result.expect_err("refused")).status(),
                StatusCode::UNAUTHORIZED
            );
        }
    }

    #[test]
    fn the_hex_format_signs_the_body_only() {
        let keys = WebhookKeys::hex_signature(b"shared secret").expect("secret");
        let tag = keys.sign("", 0, BODY);
        assert_eq!(tag.len(), 64);
        assert_eq!(
            keys.verify(&headers(&[("x-signature", &tag)]), BODY, 0),
            Ok(())
        );
        let upper = format!("sha256={}", tag.to_uppercase());
        assert_eq!(
            keys.verify(&headers(&[("x-signature", &upper)]), BODY, 0),
            Ok(())
        );
        for bad in ["", "zz", &tag[..63], &"0".repeat(64)] {
            assert!(
                keys.verify(&headers(&[("x-signature", bad)]), BODY, 0)
                    .is_err(),
                "{bad}"
            );
        }
        assert!(keys.verify(&HeaderMap::new(), BODY, 0).is_err());
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert_eq!(
            WebhookKeys::standard("").expect_err("empty"),
            WebhookConfigError::Empty
        );
        assert_eq!(
            WebhookKeys::standard("whsec_b2s=,plain").expect_err("not whsec"),
            WebhookConfigError::NotWhsec(2)
        );
        let keys = WebhookKeys::standard(SECRET).expect("secret");
        assert!(!format!("{keys:?}").contains("MfKQ"));
    }
}
