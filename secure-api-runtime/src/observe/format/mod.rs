//! The two log line formats, for `tracing-subscriber`'s `fmt` layer:
//! [`JsonLines`] (one JSON object a line) and [`TextLines`] (one readable
//! line an event). Each line of an event logged while a request is served
//! names that request's id (`request_id`), whether or not a span carries
//! it, so the request span can stay at `debug` and cost nothing when it is
//! filtered out.
//!
//! [`Telemetry::init_logging`](super::Telemetry::init_logging) installs
//! them. A subscriber of your own (with an OpenTelemetry layer beside, say)
//! can use them too:
//!
//! ```
//! use secure_api_runtime::observe::JsonLines;
//! use tracing_subscriber::fmt::format::JsonFields;
//!
//! let subscriber = tracing_subscriber::fmt()
//!     .event_format(JsonLines)
//!     .fmt_fields(JsonFields::new())
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || tracing::info!(order = 7, "placed"));
//! ```

mod ahead;
mod json;
mod text;

use std::cell::RefCell;
use std::fmt;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

pub(crate) use self::ahead::{Format, Members, Name, ahead, in_use};
pub use self::json::JsonLines;
pub use self::text::TextLines;

/// The field that names the request an event belongs to.
const REQUEST_ID_FIELD: &str = "request_id";

/// Calls `f` with this thread's line buffer, emptied: a line is built there
/// and handed on in one piece, as each small write to the subscriber's
/// writer would be a dynamic call. A line being built while another is (a
/// field's `Debug` that logs) gets a buffer of its own.
fn with_line(f: impl FnOnce(&mut String) -> fmt::Result) -> fmt::Result {
    thread_local! {
        static LINE: RefCell<String> = RefCell::new(String::with_capacity(1024));
    }
    LINE.with(|line| match line.try_borrow_mut() {
        Ok(mut line) => {
            line.clear();
            f(&mut line)
        }
        Err(_) => f(&mut String::new()),
    })
}

/// The current time as `SystemTime` writes it (RFC 3339, UTC, to the
/// microsecond), with the part up to the second kept per thread and
/// written again only when the second changes.
fn timestamp(line: &mut String) -> fmt::Result {
    thread_local! {
        /// The second, and its text up to the `.` before the fraction.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
        return SystemTime.format_time(&mut Writer::new(line));
    };
    let (secs, micros) = (now.as_secs(), now.subsec_micros());
    SECOND.with(|second| {
        let Ok(mut second) = second.try_borrow_mut() else {
            return SystemTime.format_time(&mut Writer::new(line));
        };
        if second.0 != secs {
            let mut text = String::with_capacity(32);
            SystemTime.format_time(&mut Writer::new(&mut text))?;
            // `2026-12-05T23:32:17.123456Z`: up to the second.
            let Some(dot) = text.find('.') else {
                line.push_str(&text);
                return Ok(());
            };
            text.truncate(dot);
            *second = (secs, text);
        }
        line.push_str(&second.1);
        let mut digits = *b".000000Z";
        let mut rest = micros;
        for digit in digits[1..7].iter_mut().rev() {
            // Below 10, so the cast is exact.
            #[allow(clippy::cast_possible_truncation)]
            let last = (rest % 10) as u8;
            *digit = b'0' + last;
            rest /= 10;
        }
        line.push_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?);
        Ok(())
    })
}

/// `value` as `Display` writes it, for a value with at most three decimals
/// below 2^53 (a duration in milliseconds to the microsecond): digits,
/// without the general float formatting. `None` for any other value
/// (negative zero among them, which `Display` writes `-0`).
fn three_decimals(value: f64) -> Option<(u64, u32)> {
    let thousandths = (value * 1000.0).round();
    if value.is_sign_negative()
        || !(0.0..9.0e15).contains(&thousandths)
        || thousandths / 1000.0 != value
    {
        return None;
    }
    // Within 0 and 2^53, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let thousandths = thousandths as u64;
    // Below 1000, so the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    Some((thousandths / 1000, (thousandths % 1000) as u32))
}

/// Writes `value` from digits when it has at most three decimals
/// ([`three_decimals`]): as `Display` writes it (`1`, `0.25`), or, with
/// `point_always`, as `Debug` does (`1.0`, `0.25`). Whether it did.
fn push_three_decimals(line: &mut String, value: f64, point_always: bool) -> bool {
    let Some((whole, fraction)) = three_decimals(value) else {
        return false;
    };
    push_u64(line, whole);
    let digits = [fraction / 100, fraction / 10 % 10, fraction % 10];
    let shown = 3 - digits.iter().rev().take_while(|d| **d == 0).count();
    let shown = if point_always { shown.max(1) } else { shown };
    if shown > 0 {
        line.push('.');
        for digit in &digits[..shown] {
            line.push(char::from_digit(*digit, 10).unwrap_or('0'));
        }
    }
    true
}

/// `value` in decimal digits, as `Display` writes it.
fn push_u64(line: &mut String, value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        // Below 10, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let last = (rest % 10) as u8;
        digits[start] = b'0' + last;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    line.push_str(std::str::from_utf8(&digits[start..]).unwrap_or("0"));
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::JsonFields;

    use super::*;

    /// The lines `log` writes through a subscriber with the JSON format
    /// (`json`) or the text one.
    pub(crate) fn lines(json: bool, log: impl FnOnce()) -> String {
        let out = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let out = Arc::clone(&out);
            move || Sink(Arc::clone(&out))
        };
        let builder = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(writer);
        if json {
            let subscriber = builder
                .event_format(JsonLines)
                .fmt_fields(JsonFields::new())
                .finish();
            tracing::subscriber::with_default(subscriber, log);
        } else {
            let subscriber = builder.event_format(TextLines).finish();
            tracing::subscriber::with_default(subscriber, log);
        }
        let bytes = out.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut out) = self.0.lock() {
                out.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_timestamp_is_rfc_3339_to_the_microsecond() {
        let mut first = String::new();
        let mut second = String::new();
        assert!(timestamp(&mut first).is_ok());
        assert!(timestamp(&mut second).is_ok());
        for text in [&first, &second] {
            // `2026-12-05T23:32:17.123456Z`
            assert_eq!(text.len(), 27, "{text}");
            assert_eq!(&text[4..5], "-", "{text}");
            assert_eq!(&text[10..11], "T", "{text}");
            assert_eq!(&text[19..20], ".", "{text}");
            assert!(text.ends_with('Z'), "{text}");
        }
        assert!(first <= second, "{first} {second}");
    }
}
