//! [`TextLines`]: one readable line an event.

use std::fmt::{self, Write as _};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::ahead::{self, Format};
use super::{REQUEST_ID_FIELD, push_three_decimals, timestamp, with_line};
use crate::observe::audit::AUDIT_TARGET;
use crate::observe::context;

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
        // Members written ahead have no colours: with colours, fields are visited.
        let coloured = w.has_ansi_escapes();
        if !coloured {
            ahead::note_in_use(Format::Text);
        }
        with_line(|line| {
            timestamp(line)?;
            line.push_str(level(meta.level()));
            if let Some(scope) = ctx.event_scope() {
                for span in scope.from_root() {
                    line.push_str(span.name());
                    let extensions = span.extensions();
                    if let Some(fields) = extensions.get::<FormattedFields<N>>()
                        && !fields.is_empty()
                    {
                        write!(line, "{{{fields}}}")?;
                    }
                    line.push(':');
                }
                line.push(' ');
            }
            line.push_str(meta.target());
            line.push_str(": ");
            let copied =
                !coloured && meta.target() == AUDIT_TARGET && ahead::copy(Format::Text, line);
            if !copied {
                w.write_str(line)?;
                line.clear();
                ctx.format_fields(w.by_ref(), event)?;
            }
            if meta.fields().field(REQUEST_ID_FIELD).is_none() {
                context::with_current_id(|id| {
                    line.push_str(" request_id=");
                    line.push_str(id);
                });
            }
            line.push('\n');
            w.write_str(line)
        })
    }
}

/// The level as ` {:>5} ` writes it.
fn level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

/// Whether `text` is written by `Debug` as itself between quotes: printable
/// ASCII with no quote or backslash.
pub(super) fn debug_plain(text: &str) -> bool {
    text.bytes().fold(true, |plain, b| {
        plain & ((0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    })
}

/// `text` as `Debug` writes it: between quotes, escaped.
pub(super) fn debug_string(line: &mut String, text: &str) {
    if debug_plain(text) {
        line.reserve(text.len() + 2);
        line.push('"');
        line.push_str(text);
        line.push('"');
    } else {
        let _ = write!(line, "{text:?}");
    }
}

/// `value` as `Debug` writes it (`1.0`, `0.25`).
pub(super) fn debug_f64(line: &mut String, value: f64) {
    if !push_three_decimals(line, value, true) {
        let _ = write!(line, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::{debug_f64, debug_string};
    use crate::observe::RequestId;
    use crate::observe::context::{Context, sync_scope};
    use crate::observe::format::tests::lines;

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

    #[test]
    fn strings_and_fractions_are_written_as_debug_writes_them() {
        for text in [
            "",
            "plain",
            "a \"quote\"",
            "back\\slash",
            "tab\there",
            "é",
            "\u{1b}[31m",
            "'",
            "~",
        ] {
            let mut line = String::new();
            debug_string(&mut line, text);
            assert_eq!(line, format!("{text:?}"));
        }
        for value in [
            0.0,
            1.0,
            0.001,
            0.25,
            1.5,
            12.345,
            86_400_000.0,
            0.1234,
            1.0e-5,
            1.0e300,
            -2.5,
            -0.0,
        ] {
            let mut line = String::new();
            debug_f64(&mut line, value);
            assert_eq!(line, format!("{value:?}"));
        }
    }
}
