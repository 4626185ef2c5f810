//! Reads `#[limit]` specs at compile time: quotas such as
//! `"30/minute; 5/second"` and sizes such as `"64KiB"`.

/// One quota: `count` requests per `period_secs`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Quota {
    pub count: u32,
    pub period_secs: u64,
}

const PERIODS: [(&str, u64); 4] = [
    ("second", 1),
    ("minute", 60),
    ("hour", 3600),
    ("day", 86_400),
];

/// `"30/minute; 5/second"` → quotas, or why the spec is not valid.
pub(crate) fn quotas(spec: &str) -> Result<Vec<Quota>, String> {
    let mut quotas: Vec<Quota> = Vec::new();
    for part in spec.split(';') {
        let part = part.trim();
        if part.is_empty() {
            return Err("a quota between `;` is empty".to_owned());
        }
        let Some((count, period)) = part.split_once('/') else {
            return Err(format!("`{part}` is not `<count>/<period>`"));
        };
        let count: u32 = match count.trim().parse() {
            Ok(0) | Err(_) => {
                return Err(format!("`{}` is not a count of at least 1", count.trim()));
            }
            Ok(count) => count,
        };
        let period = period.trim();
        let Some((_, period_secs)) = PERIODS.iter().find(|(name, _)| *name == period) else {
            let names = PERIODS.map(|(n, _)| n);
            let hint = crate::errors::did_you_mean(period, names)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "`{period}` is not a period{hint}; use `second`, `minute`, `hour` or `day`"
            ));
        };
        if quotas.iter().any(|q| q.period_secs == *period_secs) {
            return Err(format!("two quotas per {period}"));
        }
        quotas.push(Quota {
            count,
            period_secs: *period_secs,
        });
    }
    Ok(quotas)
}

const UNITS: [(&str, u64); 4] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

/// Decimal units, refused: readers take `KB` for 1,000 or 1,024 bytes
/// alike. Each with its binary unit and its size in bytes.
const AMBIGUOUS: [(&str, &str, u64); 3] = [
    ("GB", "GiB", 1_000_000_000),
    ("MB", "MiB", 1_000_000),
    ("KB", "KiB", 1_000),
];

/// The largest body cap a route may declare.
pub(crate) const MAX_BODY: u64 = 1 << 30;

/// `"64KiB"` → bytes, or why the size is not valid.
pub(crate) fn size(spec: &str) -> Result<u64, String> {
    let spec = spec.trim();
    if let Some((number, (unit, binary, bytes))) = AMBIGUOUS.iter().find_map(|entry| {
        spec.strip_suffix(entry.0)
            .map(|n| (n.trim(), entry))
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }) {
        let count = number.parse::<u64>().unwrap_or(0);
        let binary_bytes = UNITS
            .iter()
            .find(|(name, _)| name == binary)
            .and_then(|(_, multiplier)| count.checked_mul(*multiplier));
        let decimal_bytes = count.checked_mul(*bytes);
        return Err(match (binary_bytes, decimal_bytes) {
            (Some(b), Some(d)) => format!(
                "`{unit}` could mean powers of 1,000 or of 1,024: write `{number}{binary}` ({b} bytes) or `{d}B`"
            ),
            _ => format!("`{unit}` could mean powers of 1,000 or of 1,024: use `{binary}` or `B`"),
        });
    }
    let Some((number, multiplier)) = UNITS
        .iter()
        .find_map(|(unit, multiplier)| spec.strip_suffix(unit).map(|n| (n.trim(), *multiplier)))
    else {
        return Err(format!(
            "`{spec}` has no unit; use `B`, `KiB`, `MiB` or `GiB`"
        ));
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a whole number"))?;
    let bytes = number
        .checked_mul(multiplier)
        .filter(|b| (1..=MAX_BODY).contains(b));
    bytes.ok_or_else(|| format!("`{spec}` is not between 1 B and 1 GiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quota_lists() {
        assert_eq!(
            quotas("30/minute; 5/second"),
            Ok(vec![
                Quota {
                    count: 30,
                    period_secs: 60
                },
                Quota {
                    count: 5,
                    period_secs: 1
                }
            ])
        );
        assert_eq!(
            quotas(" 1000 / day "),
            Ok(vec![Quota {
                count: 1000,
                period_secs: 86_400
            }])
        );
    }

    #[test]
    fn refuses_malformed_quotas() {
        for spec in [
            "",
            "30",
            "0/minute",
            "-1/minute",
            "30/minutes",
            "30/fortnight",
            "5/second; 6/second",
            "5/second;",
            "x/hour",
        ] {
            assert!(quotas(spec).is_err(), "{spec}");
        }
        assert!(quotas("30/minutes").is_err_and(|e| e.contains("did you mean `minute`")));
    }

    #[test]
    fn reads_sizes() {
        assert_eq!(size("64KiB"), Ok(65_536));
        assert_eq!(size("1 MiB"), Ok(1_048_576));
        assert_eq!(size("512B"), Ok(512));
        assert!(size("10KB").is_err_and(|e| e.contains("`10KiB` (10240 bytes) or `10000B`")));
        assert!(size("2 MB").is_err_and(|e| e.contains("`2MiB`")));
        for spec in ["64", "0B", "2GiB", "KiB", "1.5MiB", "64kib"] {
            assert!(size(spec).is_err(), "{spec}");
        }
    }
}
