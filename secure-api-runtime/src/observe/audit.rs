//! The audit trail: one structured `tracing` event per request, allowed
//! and refused alike, on the [`AUDIT_TARGET`] target.
//!
//! An event names the request id, method, route pattern (never the raw
//! path), principal (`sub`, and `issuer` for a provider's token), client
//! address, the rule that decided, the outcome, the status and the
//! duration; a `roles` or `scopes` refusal also names what the route asks
//! for (`needs`, comma separated). No token, secret or body is ever one of its fields.
//!
//! A handler that decides by a rule of its own (a login checking a
//! password) says so with [`allowed`] or [`refused`], and names the account
//! it acted on with [`account`]: the request's one event then carries them.
//!
//! ```
//! use secure_api_runtime::observe::audit;
//! use secure_api_runtime::prelude::*;
//!
//! #[post("/api/unlock")]
//! #[registered(owner = "platform", lifecycle = production)]
//! #[public]
//! async fn unlock(form: web::Json<Unlock>) -> Result<HttpResponse, Problem> {
//!     audit::account(&form.door);
//!     if form.code != "1234" {
//!         audit::refused("door_code", "wrong_code");
//!         return Err(Problem::forbidden("wrong code"));
//!     }
//!     audit::allowed("door_code");
//!     Ok(HttpResponse::NoContent().finish())
//! }
//!
//! #[derive(serde::Deserialize, garde::Validate, Input)]
//! #[serde(deny_unknown_fields)]
//! struct Unlock {
//!     #[garde(length(max = 32))]
//!     door: String,
//!     #[garde(length(max = 8))]
//!     code: String,
//! }
//! ```

use actix_web::http::{Method, StatusCode};

use super::context::{self, Context, Outcome};
use super::format::{self, Format, Members, Name};

/// The `tracing` target of audit events.
pub const AUDIT_TARGET: &str = "secure_api::audit";

/// The route field of a request no secured route matched.
pub const UNMATCHED: &str = "unmatched";

/// Records that the handler let the current request through by `rule`.
/// Outside a request, does nothing.
pub fn allowed(rule: &'static str) {
    context::decide(|decision| {
        decision.rule = rule;
        decision.reason = None;
        decision.outcome = Outcome::Allowed;
    });
}

/// Records that the handler refused the current request by `rule`, for
/// `reason` (a short code, such as `bad_credentials`). Outside a request,
/// does nothing.
pub fn refused(rule: &'static str, reason: &'static str) {
    context::refused(rule, reason);
}

/// Names the account the current request acts on when no token names its
/// caller (a login's username): the event's `account` field. Never pass a
/// secret.
pub fn account(name: &str) {
    context::decide(|decision| decision.account = Some(name.to_owned()));
}

/// A member's [`Name`] in each line format.
macro_rules! name {
    ($name:literal) => {
        Name {
            json: concat!(",\"", $name, "\":"),
            text: concat!(" ", $name, "="),
        }
    };
}

/// Whether the request's audit event has a subscriber: it is `info` when
/// the request was allowed, `warn` when refused. Without one, nothing is
/// prepared, not even the duration.
pub(crate) fn wanted(context: &Context) -> bool {
    if context.decision.borrow().outcome == Outcome::Refused {
        tracing::level_enabled!(tracing::Level::WARN)
    } else {
        tracing::level_enabled!(tracing::Level::INFO)
    }
}

/// Emits the request's one audit event, when it is [`wanted`].
pub(crate) fn emit(context: &Context, method: &Method, status: StatusCode, seconds: f64) {
    emit_as(context, method, status, seconds, format::in_use());
}

/// [`emit`], with the members written ahead in `format`
/// ([`format::ahead`]) when there is one.
fn emit_as(
    context: &Context,
    method: &Method,
    status: StatusCode,
    seconds: f64,
    format: Option<Format>,
) {
    let decision = context.decision.borrow();
    let route = decision.route.unwrap_or(UNMATCHED);
    let caller = decision.caller.as_deref();
    let principal = caller
        .map(|caller| caller.sub.as_str())
        .or(decision.sub.as_deref())
        .unwrap_or("-");
    let issuer = caller
        .and_then(|caller| caller.issuer.as_deref())
        .unwrap_or("-");
    let account = decision.account.as_deref();
    let client = decision.client.map(IpText::new);
    let client = client.as_ref().map(IpText::as_str);
    let duration_ms = (seconds * 1_000_000.0).round() / 1000.0;
    let request_id = context.id.as_str();
    let needs = decision.needs.map(|names| names.join(","));
    let needs = needs.as_deref();
    let method = method.as_str();
    let outcome = decision.outcome.as_str();
    let status = status.as_u16();
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "secure_api::audit",
                $level,
                request_id,
                method,
                route,
                principal,
                issuer,
                account,
                client,
                rule = decision.rule,
                reason = decision.reason,
                needs,
                outcome,
                status,
                duration_ms,
                "decision"
            )
        };
    }
    let dispatch = || match decision.outcome {
        Outcome::Refused => event!(tracing::Level::WARN),
        Outcome::Allowed | Outcome::Replayed => event!(tracing::Level::INFO),
    };
    // The same members, in the same order, as the event's fields.
    let write = |members: &mut Members<'_>| {
        members.message("decision");
        members.str(name!("request_id"), request_id);
        members.str(name!("method"), method);
        members.str(name!("route"), route);
        members.str(name!("principal"), principal);
        members.str(name!("issuer"), issuer);
        members.some_str(name!("account"), account);
        members.some_str(name!("client"), client);
        members.str(name!("rule"), decision.rule);
        members.some_str(name!("reason"), decision.reason);
        members.some_str(name!("needs"), needs);
        members.str(name!("outcome"), outcome);
        members.u64(name!("status"), u64::from(status));
        members.f64(name!("duration_ms"), duration_ms);
    };
    format::ahead(format, write, dispatch);
}

/// An address as text, on the stack: IPv4 digit by digit, without the
/// general formatting machinery; IPv6 as `Display` writes it.
struct IpText {
    bytes: [u8; IpText::CAPACITY],
    len: usize,
}

impl IpText {
    /// The longest `Display` of an `IpAddr` (an IPv6 address with an IPv4
    /// tail: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
    const CAPACITY: usize = 45;

    fn new(ip: std::net::IpAddr) -> Self {
        let mut text = Self {
            bytes: [0; Self::CAPACITY],
            len: 0,
        };
        match ip {
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            std::net::IpAddr::V6(v6) => {
                use std::fmt::Write as _;
                let _ = write!(text, "{v6}");
            }
        }
        text
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("-")
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{IpText, emit_as};
    use crate::observe::RequestId;
    use crate::observe::context::{Context, Outcome};
    use crate::observe::format::Format;
    use crate::observe::format::tests::lines;
    use actix_web::http::{Method, StatusCode};
    use std::net::IpAddr;

    /// An event's line, JSON or text, without its timestamp, its members
    /// written ahead in `ahead` (or visited).
    fn line(context: &Context, status: StatusCode, json: bool, ahead: Option<Format>) -> String {
        let text = lines(json, || {
            emit_as(context, &Method::POST, status, 0.001_234_5, ahead);
        });
        // After `{"timestamp":"2026-12-05T23:32:17.123456Z",` or
        // `2026-12-05T23:32:17.123456Z`.
        let start = if json {
            text.find("\"level\"")
        } else {
            Some(27)
        };
        let Some(rest) = start.and_then(|start| text.get(start..)) else {
            panic!("no timestamp: {text}");
        };
        rest.to_owned()
    }

    #[test]
    fn members_written_ahead_are_the_ones_the_fields_give() {
        let allowed = Context::new(RequestId::generate());
        {
            let mut decision = allowed.decision.borrow_mut();
            decision.route = Some("/api/users/{id}");
            decision.sub = Some("42".to_owned());
            decision.client = "127.0.0.1".parse().ok();
            decision.rule = "owner";
        }
        let refused =
            Context::new(RequestId::accept("a\"quoted\\id").unwrap_or_else(RequestId::generate));
        {
            let mut decision = refused.decision.borrow_mut();
            decision.route = Some("/api/admin/users");
            decision.caller = Some(std::sync::Arc::new(crate::Principal {
                sub: "user \"7\"".to_owned(),
                roles: vec!["user".to_owned()],
                jti: String::new(),
                exp: 0,
                auth_time: None,
                issuer: Some("https://idp.example".to_owned()),
                scopes: Vec::new(),
            }));
            decision.account = Some("line\nbreak".to_owned());
            decision.client = "2001:db8::1".parse().ok();
            decision.rule = "roles";
            decision.reason = Some("missing_role");
            decision.needs = Some(&["admin", "auditor"]);
            decision.outcome = Outcome::Refused;
        }
        let unmatched = Context::new(RequestId::generate());
        for (context, status) in [
            (&allowed, StatusCode::OK),
            (&refused, StatusCode::FORBIDDEN),
            (&unmatched, StatusCode::NOT_FOUND),
        ] {
            let visited = line(context, status, false, None);
            let written_ahead = line(context, status, false, Some(Format::Text));
            assert_eq!(written_ahead, visited);
            let visited = line(context, status, true, None);
            let written_ahead = line(context, status, true, Some(Format::Json));
            assert_eq!(written_ahead, visited);
            let event: serde_json::Value = serde_json::from_str(&format!("{{{visited}"))
                .unwrap_or_else(|e| panic!("{e}: {visited}"));
            assert_eq!(event["message"], "decision");
            assert_eq!(event["status"], status.as_u16());
            assert_eq!(event["duration_ms"], 1.235);
            assert_eq!(event["request_id"], context.id.as_str());
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.0.100",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.128",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let Ok(ip) = ip.parse::<IpAddr>() else {
                panic!("{ip} is an address");
            };
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }
}
