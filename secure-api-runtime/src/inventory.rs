//! The route inventory (OWASP API9): every route's method, path, owner,
//! lifecycle, access policy, limits and state rule, as a table a security
//! reviewer can read. [`SecureApp::routes`](crate::SecureApp::routes) gives
//! the policies; [`table`] lays them out.

use crate::policy::{LimitKey, LimitRule, Quota, RoutePolicy};

/// A route's limits in words: `30/minute; 5/second per user, body 4096 B,
/// 4 in flight`, or `app default` when it declares no quota (see
/// [`describe_limits_for`] for an application without default quotas).
///
/// # Examples
///
/// ```
/// use secure_api_runtime::inventory::describe_limits;
/// use secure_api_runtime::policy::{LimitKey, LimitRule, Quota};
///
/// const QUOTAS: &[Quota] = &[Quota::per_minute(30), Quota::per_second(5)];
/// let rule = LimitRule {
///     quotas: QUOTAS,
///     key: LimitKey::User,
///     body: Some(4096),
///     concurrency: None,
/// };
/// assert_eq!(describe_limits(&rule), "30/minute; 5/second per user, body 4096 B");
/// assert_eq!(describe_limits(&LimitRule::NONE), "app default");
/// ```
pub fn describe_limits(rule: &LimitRule) -> String {
    describe_limits_for(rule, crate::app::DEFAULT_LIMIT)
}

/// A route's limits in words in an application whose default quotas are
/// `defaults`: a route without quotas of its own has `app default`, or
/// `none` when `defaults` is empty.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::inventory::describe_limits_for;
/// use secure_api_runtime::policy::{LimitRule, Quota};
///
/// assert_eq!(describe_limits_for(&LimitRule::NONE, &[Quota::per_minute(200)]), "app default");
/// assert_eq!(describe_limits_for(&LimitRule::NONE, &[]), "none");
/// ```
pub fn describe_limits_for(rule: &LimitRule, defaults: &[Quota]) -> String {
    let mut parts = Vec::new();
    if rule.quotas.is_empty() {
        parts.push(
            if defaults.is_empty() {
                "none"
            } else {
                "app default"
            }
            .to_owned(),
        );
    } else {
        let quotas = rule
            .quotas
            .iter()
            .map(|q| {
                let period = match q.period_secs {
                    1 => "second".to_owned(),
                    60 => "minute".to_owned(),
                    3600 => "hour".to_owned(),
                    86_400 => "day".to_owned(),
                    secs => format!("{secs}s"),
                };
                format!("{}/{period}", q.count)
            })
            .collect::<Vec<_>>()
            .join("; ");
        let key = match rule.key {
            LimitKey::Ip => "address",
            LimitKey::User => "user",
            LimitKey::IpAndUser => "address and user",
        };
        parts.push(format!("{quotas} per {key}"));
    }
    if let Some(body) = rule.body {
        parts.push(format!("body {body} B"));
    }
    if let Some(n) = rule.concurrency {
        parts.push(format!("{n} in flight"));
    }
    parts.join(", ")
}

/// The inventory as a text table, one route a row, columns aligned, for an
/// application with default quotas ([`SecureApp::route_table`] knows the
/// application's own).
///
/// [`SecureApp::route_table`]: crate::SecureApp::route_table
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[get("/health")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[public]
/// async fn health() -> &'static str {
///     "ok"
/// }
///
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
/// let app = SecureApp::new(security).service(health);
/// let table = secure_api_runtime::inventory::table(&app.routes());
/// assert!(table.lines().nth(2).is_some_and(|row| row.starts_with("GET     /health  platform  production  public")));
/// ```
pub fn table(routes: &[&RoutePolicy]) -> String {
    table_for(routes, crate::app::DEFAULT_LIMIT)
}

/// The inventory as a text table in an application whose default quotas
/// are `defaults`: routes without quotas of their own say `none` when it is
/// empty.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[get("/health")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[public]
/// async fn health() -> &'static str {
///     "ok"
/// }
///
/// let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
/// let app = SecureApp::new(security).service(health).no_default_limit();
/// assert!(app.route_table().lines().nth(2).is_some_and(|row| row.contains("public  none")));
/// ```
pub fn table_for(routes: &[&RoutePolicy], defaults: &[Quota]) -> String {
    const HEADER: [&str; 8] = [
        "METHOD",
        "PATH",
        "OWNER",
        "LIFECYCLE",
        "ACCESS",
        "LIMITS",
        "STATE",
        "HANDLER",
    ];
    let rows: Vec<[String; 8]> = routes
        .iter()
        .map(|policy| {
            let mut access = policy.describe();
            if policy.idempotent {
                access.push_str(" + idempotent");
            }
            let state = policy.state.as_ref().map_or_else(
                || "-".to_owned(),
                |s| format!("{}({}): {} => {}", s.resource, s.param, s.from, s.to),
            );
            [
                policy.method.as_str().to_owned(),
                policy.path.to_owned(),
                policy.registration.owner.to_owned(),
                policy.registration.lifecycle.describe(),
                access,
                describe_limits_for(&policy.limit, defaults),
                state,
                policy.handler.to_owned(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = vec![
        line(&HEADER.map(str::to_owned)),
        line(&widths.map(|w| "-".repeat(w))),
    ];
    out.extend(rows.iter().map(|row| line(row)));
    out.join("\n") + "\n"
}
