//! [`JsonLines`]: one JSON object a line.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::ahead::{self, Format};
use super::{REQUEST_ID_FIELD, push_three_decimals, push_u64, timestamp, with_line};
use crate::observe::audit::AUDIT_TARGET;
use crate::observe::context;

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
        ahead::note_in_use(Format::Json);
        with_line(|line| {
            json_line(ctx, line, event)?;
            w.write_str(line)
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
    if meta.target() != AUDIT_TARGET || !ahead::copy(Format::Json, line) {
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

/// `value` as a JSON number, as `Display` writes it; NaN and the
/// infinities, which JSON has no number for, as strings.
pub(super) fn push_f64(line: &mut String, value: f64) {
    if push_three_decimals(line, value, false) {
        return;
    }
    let _ = if value.is_finite() {
        write!(line, "{value}")
    } else {
        write!(line, "\"{value}\"")
    };
}

/// `text` as a JSON string. Most text has nothing to escape: one pass,
/// then one copy.
pub(super) fn json_string(line: &mut String, text: &str) {
    line.reserve(text.len() + 2);
    line.push('"');
    if plain(text) {
        line.push_str(text);
    } else {
        escape_into(line, text);
    }
    line.push('"');
}

/// Whether `text` has nothing to escape in a JSON string. Every byte is
/// looked at, without stopping at the first to escape, so the loop runs
/// many bytes at a time.
pub(super) fn plain(text: &str) -> bool {
    text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\')
    })
}

/// Writes what it is given escaped for the inside of a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if plain(text) {
            self.0.push_str(text);
        } else {
            escape_into(self.0, text);
        }
        Ok(())
    }
}

/// `text` escaped for the inside of a JSON string.
fn escape_into(line: &mut String, text: &str) {
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
        line.push_str(&text[start..i]);
        if escaped.is_empty() {
            let _ = write!(line, "\\u{byte:04x}");
        } else {
            line.push_str(escaped);
        }
        start = i + 1;
    }
    line.push_str(&text[start..]);
}

#[cfg(test)]
mod tests {
    use crate::observe::RequestId;
    use crate::observe::context::{Context, sync_scope};
    use crate::observe::format::tests::lines;

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

    /// Asserts that the line of an event whose last field is `name` ends
    /// with that field written as `Display` writes `value`.
    fn assert_last_field(name: &str, value: impl std::fmt::Display, log: impl FnOnce()) {
        let text = lines(true, log);
        assert!(
            text.contains(&format!(",\"{name}\":{value}}}")),
            "{value}: {text}"
        );
    }

    #[test]
    fn whole_numbers_are_written_as_display_writes_them() {
        for value in [0_i64, 7, -7, 10, 1_234_567, i64::MAX, i64::MIN] {
            assert_last_field("n", value, || {
                tracing::info!(target: "tests", n = value, "counted");
            });
        }
        for value in [0_u64, 9, 100, u64::MAX] {
            assert_last_field("n", value, || {
                tracing::info!(target: "tests", n = value, "counted");
            });
        }
    }

    #[test]
    fn milliseconds_to_the_microsecond_are_written_as_display_writes_them() {
        let values = [
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
        ]
        .map(|micros| {
            #[allow(clippy::cast_precision_loss)]
            let value = micros as f64 / 1000.0;
            value
        });
        // Then values that take the general path.
        for value in values.into_iter().chain([0.1234, -2.5, -0.0, 1.0e300]) {
            assert_last_field("ms", value, || {
                tracing::info!(target: "tests", ms = value, "timed");
            });
        }
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
}
