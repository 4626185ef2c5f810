//! `#[registered(owner = "team", lifecycle = ..)]`: the route's inventory
//! entry. Dates are checked here, and the header values of a deprecated
//! route (RFC 9745 `Deprecation`, RFC 8594 `Sunset`) are computed here, so
//! the runtime only copies them.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use crate::errors::{Gathered, did_you_mean, error};

const HELP: &str = "write `#[registered(owner = \"team\", lifecycle = production)]`, or `lifecycle = deprecated(sunset = \"2027-06-30\", successor = \"/api/v2/users\")` or `lifecycle = retired`";

/// A parsed `#[registered(..)]`.
pub(crate) struct Registration {
    pub owner: LitStr,
    pub lifecycle: Lifecycle,
}

pub(crate) enum Lifecycle {
    Production,
    Deprecated {
        since: Option<(LitStr, Date)>,
        sunset: (LitStr, Date),
        successor: Option<LitStr>,
    },
    Retired,
}

/// A calendar date.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    /// `YYYY-MM-DD`, a real day of the Gregorian calendar.
    fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(format!("`{text}` is not a `YYYY-MM-DD` date"));
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
            return Err(format!("`{text}` is not a `YYYY-MM-DD` date"));
        }
        let (year, month, day): (i64, u32, u32) = match (y.parse(), m.parse(), d.parse()) {
            (Ok(y), Ok(m), Ok(d)) => (y, m, d),
            _ => return Err(format!("`{text}` is not a `YYYY-MM-DD` date")),
        };
        if !(1..=12).contains(&month) {
            return Err(format!("`{text}` has no month {month}"));
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days_in_month {
            return Err(format!(
                "`{text}` is not a day: {y}-{m} has {days_in_month} days"
            ));
        }
        if year < 1970 {
            return Err(format!("`{text}` is before 1970"));
        }
        Ok(Self { year, month, day })
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    fn days(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Midnight UTC, in seconds since the epoch.
    pub(crate) fn timestamp(self) -> i64 {
        self.days() * 86_400
    }

    /// The HTTP-date of midnight UTC: `Wed, 30 Jun 2027 00:00:00 GMT`.
    pub(crate) fn http_date(self) -> String {
        const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let weekday = WEEKDAYS[usize::try_from(self.days().rem_euclid(7)).unwrap_or(0)];
        let month = MONTHS[usize::try_from(self.month - 1).unwrap_or(0)];
        format!(
            "{weekday}, {:02} {month} {} 00:00:00 GMT",
            self.day, self.year
        )
    }
}

pub(crate) fn parse(input: ParseStream<'_>, span: Span) -> syn::Result<Registration> {
    if input.is_empty() {
        return Err(error(
            span,
            "`#[registered]` needs the route's owner and lifecycle",
            HELP,
        ));
    }
    let mut owner = None;
    let mut lifecycle = None;
    let mut gathered = Gathered::default();
    while !input.is_empty() {
        gathered.option(input, || {
            let name: Ident = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            match name.to_string().as_str() {
                "owner" if owner.is_none() => {
                    let value: LitStr = input
                        .parse()
                        .map_err(|e| error(e.span(), "the owner is a string literal", HELP))?;
                    if value.value().trim().is_empty() {
                        return Err(error(value.span(), "the owner is empty", HELP));
                    }
                    owner = Some(value);
                }
                "lifecycle" if lifecycle.is_none() => lifecycle = Some(parse_lifecycle(input)?),
                "owner" | "lifecycle" => {
                    return Err(error(
                        name.span(),
                        format!("duplicate option `{name}` in `#[registered]`"),
                        HELP,
                    ));
                }
                other => {
                    let hint = did_you_mean(other, ["owner", "lifecycle"])
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(error(
                        name.span(),
                        format!("unknown option `{other}` in `#[registered]`{hint}"),
                        HELP,
                    ));
                }
            }
            Ok(())
        });
        if !gathered.comma(input) {
            break;
        }
    }
    // An option written wrong is not also reported missing.
    gathered.finish()?;
    let Some(owner) = owner else {
        return Err(error(
            span,
            "`#[registered]` needs the route's `owner`",
            HELP,
        ));
    };
    let Some(lifecycle) = lifecycle else {
        return Err(error(
            span,
            "`#[registered]` needs the route's `lifecycle`",
            HELP,
        ));
    };
    Ok(Registration { owner, lifecycle })
}

fn parse_lifecycle(input: ParseStream<'_>) -> syn::Result<Lifecycle> {
    let name: Ident = input.call(Ident::parse_any)?;
    match name.to_string().as_str() {
        "production" => Ok(Lifecycle::Production),
        "retired" => Ok(Lifecycle::Retired),
        "deprecated" => parse_deprecated(input, name.span()),
        other => {
            let hint = did_you_mean(other, ["production", "deprecated", "retired"])
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            Err(error(
                name.span(),
                format!("`{other}` is not a lifecycle{hint}"),
                "use `production`, `deprecated(sunset = \"YYYY-MM-DD\", successor = \"...\")` or `retired`",
            ))
        }
    }
}

fn parse_deprecated(input: ParseStream<'_>, span: Span) -> syn::Result<Lifecycle> {
    let help = "write `deprecated(sunset = \"2027-06-30\", successor = \"/api/v2/users\")`; `since = \"YYYY-MM-DD\"` may add the day it was deprecated";
    if !input.peek(syn::token::Paren) {
        return Err(error(span, "`deprecated` needs its sunset date", help));
    }
    let content;
    syn::parenthesized!(content in input);
    let mut since = None;
    let mut sunset = None;
    let mut successor = None;
    let mut gathered = Gathered::default();
    while !content.is_empty() {
        gathered.option(&content, || {
            let name: Ident = content.call(Ident::parse_any)?;
            content.parse::<Token![=]>()?;
            let value: LitStr = content
                .parse()
                .map_err(|e| error(e.span(), format!("`{name}` is a string literal"), help))?;
            let date = || Date::parse(&value.value()).map_err(|e| error(value.span(), e, help));
            match name.to_string().as_str() {
                "sunset" if sunset.is_none() => sunset = Some((value.clone(), date()?)),
                "since" if since.is_none() => since = Some((value.clone(), date()?)),
                "successor" if successor.is_none() => {
                    let text = value.value();
                    if text.trim().is_empty() || text.chars().any(|c| c.is_control() || c == '>') {
                        return Err(error(
                            value.span(),
                            "the successor is a path or URL without spaces or `>`",
                            help,
                        ));
                    }
                    successor = Some(value);
                }
                "sunset" | "since" | "successor" => {
                    return Err(error(
                        name.span(),
                        format!("duplicate option `{name}` in `deprecated`"),
                        help,
                    ));
                }
                other => {
                    let hint = did_you_mean(other, ["sunset", "since", "successor"])
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(error(
                        name.span(),
                        format!("unknown option `{other}` in `deprecated`{hint}"),
                        help,
                    ));
                }
            }
            Ok(())
        });
        if !gathered.comma(&content) {
            break;
        }
    }
    gathered.finish()?;
    let Some(sunset) = sunset else {
        return Err(error(span, "`deprecated` needs its sunset date", help));
    };
    if let Some((since_lit, since_date)) = &since
        && *since_date > sunset.1
    {
        return Err(error(
            since_lit.span(),
            format!(
                "the route is deprecated on {} but sunset on {}, before it",
                since_lit.value(),
                sunset.0.value()
            ),
            "set `since` on or before `sunset`",
        ));
    }
    Ok(Lifecycle::Deprecated {
        since,
        sunset,
        successor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_and_formatted() {
        let date = |s| Date::parse(s).map(|d| (d.timestamp(), d.http_date()));
        assert_eq!(
            date("1970-01-01"),
            Ok((0, "Thu, 01 Jan 1970 00:00:00 GMT".to_owned()))
        );
        assert_eq!(
            date("2027-06-30"),
            Ok((1_814_313_600, "Wed, 30 Jun 2027 00:00:00 GMT".to_owned()))
        );
        assert_eq!(
            date("2028-02-29").map(|d| d.1),
            Ok("Tue, 29 Feb 2028 00:00:00 GMT".to_owned())
        );
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-06-31",
            "27-06-30",
            "2027/06/30",
            "2027-6-30",
            "1969-12-31",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }
}
