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

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::context;

/// The field that names the request an event belongs to.
const REQUEST_ID_FIELD: &str = "request_id";

/// Whether a [`JsonLines`] formatter has written a line in this process.
static JSON_LINES_IN_USE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The members of the audit event being dispatched on this thread, as
    /// JSON written ahead by [`ahead`]; empty at any other time.
    static AHEAD: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Whether a [`JsonLines`] formatter has written a line in this process:
/// then writing an audit event's members ahead ([`ahead`]) saves visiting
/// them one by one.
pub(crate) fn json_lines_in_use() -> bool {
    JSON_LINES_IN_USE.load(Ordering::Relaxed)
}

/// Runs `dispatch`, which dispatches one event on the audit target, with
/// that event's members written ahead by `write`: a [`JsonLines`] formatter
/// copies them in one piece instead of visiting each field. They must be
/// what visiting the event's fields writes, in the same order.
pub(crate) fn ahead(write: impl FnOnce(&mut Members<'_>), dispatch: impl FnOnce()) {
    let written = AHEAD.with(|ahead| {
        let Ok(mut ahead) = ahead.try_borrow_mut() else {
            return false;
        };
        ahead.clear();
        write(&mut Members { line: &mut ahead });
        true
    });
    dispatch();
    if written {
        AHEAD.with(|ahead| {
            if let Ok(mut ahead) = ahead.try_borrow_mut() {
                ahead.clear();
            }
        });
    }
}

/// Appends the members written ahead for the audit event being
/// dispatched, if any: whether it did.
fn members_ahead(line: &mut String) -> bool {
    AHEAD.with(|ahead| match ahead.try_borrow() {
        Ok(ahead) if !ahead.is_empty() => {
            line.push_str(&ahead);
            true
        }
        _ => false,
    })
}

/// Writes an event's members as [`JsonLines`] does, each `,"name":value`;
/// each method takes the `,"name":` part whole.
pub(crate) struct Members<'a> {
    line: &'a mut String,
}

impl Members<'_> {
    /// A string member.
    pub(crate) fn str(&mut self, name: &'static str, value: &str) {
        if plain(value) {
            self.line.reserve(name.len() + value.len() + 2);
            self.line.push_str(name);
            self.line.push('"');
            self.line.push_str(value);
            self.line.push('"');
        } else {
            self.line.push_str(name);
            json_string(self.line, value);
        }
    }

    /// A string member when there is a value (as a `None` field is left out).
    pub(crate) fn some_str(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    /// A whole number.
    pub(crate) fn u64(&mut self, name: &'static str, value: u64) {
        self.line.push_str(name);
        push_u64(self.line, value);
    }

    /// A number with a fraction.
    pub(crate) fn f64(&mut self, name: &'static str, value: f64) {
        self.line.push_str(name);
        push_f64(self.line, value);
    }
}

/// One JSON object a line: `timestamp`, `level`, `target`, the event's
/// fields (its message as `message`), `request_id` while a request is
/// served, and, when spans are enabled, the current one as `span` and all
/// of them, outermost first, as `spans` (each its `name` and fields; span
/// fields are JSON when the subscriber formats them with
/// `tracing_subscriber::fmt::format::JsonFields`).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if !json_lines_in_use() {
            JSON_LINES_IN_USE.store(true, Ordering::Relaxed);
        }
        // The line is built in a buffer of this thread's and handed on in
        // one piece: each small write to `w` would be a dynamic call.
        thread_local! {
            static LINE: RefCell<String> = RefCell::new(String::with_capacity(1024));
        }
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                json_line(ctx, &mut line, event)?;
                w.write_str(&line)
            }
            // A field's `Debug` that logs while its line is being built.
            Err(_) => {
                let mut line = String::new();
                json_line(ctx, &mut line, event)?;
                w.write_str(&line)
            }
        })
    }
}

/// An event as one JSON line.
fn json_line<S, N>(ctx: &FmtContext<'_, S, N>, line: &mut String, event: &Event<'_>) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    timestamp(line)?;
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push_str("\",\"target\":");
    json_string(line, meta.target());
    if meta.target() != super::audit::AUDIT_TARGET || !members_ahead(line) {
        event.record(&mut JsonFieldWriter { line });
    }
    if meta.fields().field(REQUEST_ID_FIELD).is_none() {
        context::with_current_id(|id| {
            line.push_str(",\"request_id\":");
            json_string(line, id);
        });
    }
    if let Some(scope) = ctx.event_scope() {
        let spans: Vec<_> = scope.from_root().collect();
        if let Some(current) = spans.last() {
            line.push_str(",\"span\":");
            json_span::<S, N>(line, current);
        }
        line.push_str(",\"spans\":[");
        for (i, span) in spans.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            json_span::<S, N>(line, span);
        }
        line.push(']');
    }
    line.push_str("}\n");
    Ok(())
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

/// A span as a JSON object: its name and its recorded fields.
fn json_span<S, N>(line: &mut String, span: &tracing_subscriber::registry::SpanRef<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    line.push_str("{\"name\":");
    json_string(line, span.name());
    let extensions = span.extensions();
    if let Some(fields) = extensions.get::<FormattedFields<N>>() {
        let text = fields.fields.as_str();
        match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            // Fields formatted as a JSON object: its members join the span's.
            Some(members) if !members.trim().is_empty() => {
                line.push(',');
                line.push_str(members);
            }
            Some(_) => {}
            // Fields formatted as text by another field formatter.
            None if !text.is_empty() => {
                line.push_str(",\"fields\":");
                json_string(line, text);
            }
            None => {}
        }
    }
    line.push('}');
}

/// Writes each field of an event as `,"name":value`.
struct JsonFieldWriter<'a> {
    line: &'a mut String,
}

impl JsonFieldWriter<'_> {
    /// `,"name":`, in whole pieces (a field's name is nearly always an
    /// identifier, with nothing to escape).
    fn name(&mut self, field: &Field) {
        let name = field.name();
        if plain(name) {
            self.line.reserve(name.len() + 4);
            self.line.push_str(",\"");
            self.line.push_str(name);
            self.line.push_str("\":");
        } else {
            self.line.push(',');
            json_string(self.line, name);
            self.line.push(':');
        }
    }
}

/// `value` as `Display` writes it, for a value with at most three decimals
/// below 2^53 (a duration in milliseconds to the microsecond): digits,
/// without the general float formatting. `None` for any other value.
fn three_decimals(value: f64) -> Option<(u64, u32)> {
    let thousandths = (value * 1000.0).round();
    if !(0.0..9.0e15).contains(&thousandths) || thousandths / 1000.0 != value {
        return None;
    }
    // Within 0 and 2^53, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let thousandths = thousandths as u64;
    // Below 1000, so the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    Some((thousandths / 1000, (thousandths % 1000) as u32))
}

impl Visit for JsonFieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        json_string(self.line, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.name(field);
        if value < 0 {
            self.line.push('-');
        }
        push_u64(self.line, value.unsigned_abs());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.name(field);
        push_u64(self.line, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.name(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.name(field);
        push_f64(self.line, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.name(field);
        self.line.push('"');
        let _ = write!(JsonEscaped(self.line), "{value:?}");
        self.line.push('"');
    }
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

/// `value` as a JSON number, as `Display` writes it; NaN and the
/// infinities, which JSON has no number for, as strings.
fn push_f64(line: &mut String, value: f64) {
    if let Some((whole, fraction)) = three_decimals(value) {
        push_u64(line, whole);
        if fraction != 0 {
            let digits = [fraction / 100, fraction / 10 % 10, fraction % 10];
            let shown = 3 - digits.iter().rev().take_while(|d| **d == 0).count();
            line.push('.');
            for digit in &digits[..shown] {
                line.push(char::from_digit(*digit, 10).unwrap_or('0'));
            }
        }
        return;
    }
    let _ = if value.is_finite() {
        write!(line, "{value}")
    } else {
        write!(line, "\"{value}\"")
    };
}

/// `text` as a JSON string.
fn json_string(line: &mut String, text: &str) {
    line.reserve(text.len() + 2);
    line.push('"');
    let _ = JsonEscaped(line).write_str(text);
    line.push('"');
}

/// Whether `text` has nothing to escape in a JSON string. Every byte is
/// looked at, without stopping at the first to escape, so the loop runs
/// many bytes at a time.
fn plain(text: &str) -> bool {
    text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\')
    })
}

/// Writes what it is given escaped for the inside of a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Most text has nothing to escape: one pass, then one copy.
        if plain(text) {
            self.0.push_str(text);
            return Ok(());
        }
        let mut start = 0;
        for (i, byte) in text.bytes().enumerate() {
            let escaped = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(&text[start..i]);
            if escaped.is_empty() {
                let _ = write!(self.0, "\\u{byte:04x}");
            } else {
                self.0.push_str(escaped);
            }
            start = i + 1;
        }
        self.0.push_str(&text[start..]);
        Ok(())
    }
}

/// One readable line an event: the time, the level, the enabled spans
/// with their fields, the target, the message and fields, and
/// `request_id=` while a request is served.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextLines;

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        SystemTime.format_time(&mut w)?;
        write!(w, " {:>5} ", meta.level())?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                w.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(w, "{{{fields}}}")?;
                }
                w.write_char(':')?;
            }
            w.write_char(' ')?;
        }
        write!(w, "{}: ", meta.target())?;
        ctx.format_fields(w.by_ref(), event)?;
        if meta.fields().field(REQUEST_ID_FIELD).is_none() {
            context::with_current_id(|id| write!(w, " request_id={id}")).unwrap_or(Ok(()))?;
        }
        writeln!(w)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::JsonFields;

    use super::*;
    use crate::observe::RequestId;
    use crate::observe::context::{Context, sync_scope};

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
    fn a_json_line_is_one_object_with_every_field_escaped() {
        let text = lines(true, || {
            let id = RequestId::accept("req-1").unwrap_or_else(RequestId::generate);
            sync_scope(Context::new(id), || {
                tracing::info!(
                    target: "tests",
                    name = "quote \" backslash \\ newline \n bell \u{7}",
                    count = 3_u64,
                    delta = -2_i64,
                    ratio = 0.5_f64,
                    nan = f64::NAN,
                    ok = true,
                    debug = ?Some("x"),
                    "a \"quoted\" name" = 1_u64,
                    "hello"
                );
            });
            tracing::warn!(target: "tests", "outside any request");
        });
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert_eq!(events.len(), 2, "{text}");
        let first = &events[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["target"], "tests");
        assert_eq!(first["message"], "hello");
        assert_eq!(first["name"], "quote \" backslash \\ newline \n bell \u{7}");
        assert_eq!(first["count"], 3);
        assert_eq!(first["delta"], -2);
        assert_eq!(first["ratio"], 0.5);
        assert_eq!(first["nan"], "NaN");
        assert_eq!(first["ok"], true);
        assert_eq!(first["debug"], "Some(\"x\")");
        assert_eq!(first["a \"quoted\" name"], 1);
        assert_eq!(first["request_id"], "req-1");
        assert!(
            first["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        assert!(events[1].get("request_id").is_none(), "{}", events[1]);
    }

    #[test]
    fn an_audit_events_members_written_ahead_are_the_ones_copied() {
        let text = lines(true, || {
            ahead(
                |members| {
                    members.str(",\"written\":", "ahead");
                    members.some_str(",\"left\":", None);
                    members.u64(",\"count\":", 18_446_744_073_709_551_615);
                    members.f64(",\"ms\":", 1.5);
                },
                || tracing::info!(target: "secure_api::audit", visited = true, "decision"),
            );
            // Once dispatched, they are gone.
            tracing::info!(target: "secure_api::audit", visited = true, "decision");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with(",\"written\":\"ahead\",\"count\":18446744073709551615,\"ms\":1.5}"),
            "{text}"
        );
        assert!(!lines[0].contains("visited"), "{text}");
        assert!(lines[1].contains("\"visited\":true"), "{text}");
    }

    #[test]
    fn whole_numbers_are_written_as_display_writes_them() {
        for value in [0_i64, 7, -7, 10, 1_234_567, i64::MAX, i64::MIN] {
            let text = lines(
                true,
                || tracing::info!(target: "tests", n = value, "counted"),
            );
            assert!(
                text.contains(&format!(",\"n\":{value}}}")),
                "{value}: {text}"
            );
        }
        for value in [0_u64, 9, 100, u64::MAX] {
            let text = lines(
                true,
                || tracing::info!(target: "tests", n = value, "counted"),
            );
            assert!(
                text.contains(&format!(",\"n\":{value}}}")),
                "{value}: {text}"
            );
        }
    }

    #[test]
    fn milliseconds_to_the_microsecond_are_written_as_display_writes_them() {
        for micros in [
            0_u64,
            1,
            10,
            100,
            137,
            1_000,
            1_500,
            12_345,
            999_999,
            86_400_000_000,
        ] {
            #[allow(clippy::cast_precision_loss)]
            let value = micros as f64 / 1000.0;
            let text = lines(
                true,
                || tracing::info!(target: "tests", ms = value, "timed"),
            );
            assert!(
                text.contains(&format!(",\"ms\":{value}}}")),
                "{micros} µs: {text}"
            );
        }
        // Any other value takes the general path.
        for value in [0.1234, -2.5, 1.0e300] {
            let text = lines(
                true,
                || tracing::info!(target: "tests", ms = value, "timed"),
            );
            assert!(
                text.contains(&format!(",\"ms\":{value}}}")),
                "{value}: {text}"
            );
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

    #[test]
    fn an_events_own_request_id_is_not_repeated() {
        let text = lines(true, || {
            sync_scope(Context::new(RequestId::generate()), || {
                tracing::info!(target: "tests", request_id = "its-own", "audit");
            });
        });
        assert_eq!(text.matches("\"request_id\"").count(), 1, "{text}");
        assert!(text.contains("\"request_id\":\"its-own\""), "{text}");
    }

    #[test]
    fn spans_are_listed_with_their_fields() {
        let text = lines(true, || {
            let outer = tracing::debug_span!("outer", request_id = "r-9");
            let _outer = outer.enter();
            let inner = tracing::debug_span!("inner", step = "roles");
            let _inner = inner.enter();
            tracing::info!(target: "tests", "inside");
        });
        let event: serde_json::Value =
            serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(event["span"]["name"], "inner");
        assert_eq!(event["span"]["step"], "roles");
        assert_eq!(event["spans"][0]["name"], "outer");
        assert_eq!(event["spans"][0]["request_id"], "r-9");
    }

    #[test]
    fn a_text_line_names_spans_target_fields_and_the_request() {
        let text = lines(false, || {
            sync_scope(
                Context::new(RequestId::accept("req-2").unwrap_or_else(RequestId::generate)),
                || {
                    let span = tracing::debug_span!("secure_api.step", step = "owner");
                    let _span = span.enter();
                    tracing::warn!(target: "tests", rule = "owner", "refused");
                },
            );
        });
        let line = text.trim_end();
        assert!(line.contains(" WARN secure_api.step{step=\"owner\"}: tests: refused rule=\"owner\" request_id=req-2"), "{line}");
        assert_eq!(text.lines().count(), 1);
    }
}
