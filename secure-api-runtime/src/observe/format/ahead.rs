//! An audit event's members written ahead: the audit trail knows its
//! event's values before it dispatches it, so it writes them once in the
//! format of the lines in use, and the formatter copies them in one piece
//! instead of visiting each field through `tracing`'s dynamic calls. What is
//! written ahead is byte for byte what visiting the fields writes (the
//! audit module's tests compare the two).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

use super::json::json_string;
use super::push_u64;
use super::text::{debug_f64, debug_string};

/// A line format members can be written ahead for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// [`JsonLines`](super::JsonLines).
    Json = 1,
    /// [`TextLines`](super::TextLines) without colours.
    Text = 2,
}

/// The formats that have written a line in this process, one bit each.
static IN_USE: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// The members of the audit event being dispatched on this thread, and
    /// their format; empty at any other time.
    static AHEAD: RefCell<(Option<Format>, String)> = const { RefCell::new((None, String::new())) };
}

/// Notes that `format` writes lines in this process.
pub(super) fn note_in_use(format: Format) {
    let bit = format as u8;
    if IN_USE.load(Ordering::Relaxed) & bit == 0 {
        IN_USE.fetch_or(bit, Ordering::Relaxed);
    }
}

/// The one format lines are written in, if exactly one has written any.
pub(crate) fn in_use() -> Option<Format> {
    const JSON: u8 = Format::Json as u8;
    const TEXT: u8 = Format::Text as u8;
    match IN_USE.load(Ordering::Relaxed) {
        JSON => Some(Format::Json),
        TEXT => Some(Format::Text),
        _ => None,
    }
}

/// Runs `dispatch`, which dispatches one event on the audit target, with
/// that event's members written ahead by `write` in `format` (when there
/// is one). They must be what visiting the event's fields writes, in the
/// same order, the message first.
pub(crate) fn ahead(
    format: Option<Format>,
    write: impl FnOnce(&mut Members<'_>),
    dispatch: impl FnOnce(),
) {
    let Some(format) = format else {
        return dispatch();
    };
    let written = AHEAD.with(|ahead| {
        let Ok(mut ahead) = ahead.try_borrow_mut() else {
            return false;
        };
        let (slot, line) = &mut *ahead;
        line.clear();
        write(&mut Members { format, line });
        *slot = Some(format);
        true
    });
    dispatch();
    if written {
        AHEAD.with(|ahead| {
            if let Ok(mut ahead) = ahead.try_borrow_mut() {
                ahead.0 = None;
                ahead.1.clear();
            }
        });
    }
}

/// Appends the members written ahead in `format` for the audit event being
/// dispatched, if any: whether it did.
pub(super) fn copy(format: Format, line: &mut String) -> bool {
    AHEAD.with(|ahead| match ahead.try_borrow() {
        Ok(ahead) if ahead.0 == Some(format) => {
            line.push_str(&ahead.1);
            true
        }
        _ => false,
    })
}

/// A member's name as each format writes it before the value:
/// `,"name":` in JSON, ` name=` in text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Name {
    pub(crate) json: &'static str,
    pub(crate) text: &'static str,
}

/// Writes an event's members as the line format does.
pub(crate) struct Members<'a> {
    format: Format,
    line: &'a mut String,
}

impl Members<'_> {
    /// The event's message, first: printable ASCII.
    #[inline]
    pub(crate) fn message(&mut self, text: &'static str) {
        debug_assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)));
        match self.format {
            Format::Json => {
                self.line.push_str(",\"message\":");
                json_string(self.line, text);
            }
            Format::Text => self.line.push_str(text),
        }
    }

    /// A string member.
    #[inline]
    pub(crate) fn str(&mut self, name: Name, value: &str) {
        match self.format {
            Format::Json => {
                self.line.push_str(name.json);
                json_string(self.line, value);
            }
            Format::Text => {
                self.line.push_str(name.text);
                debug_string(self.line, value);
            }
        }
    }

    /// A string member when there is a value (as a `None` field is left out).
    #[inline]
    pub(crate) fn some_str(&mut self, name: Name, value: Option<&str>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    /// A whole number.
    #[inline]
    pub(crate) fn u64(&mut self, name: Name, value: u64) {
        self.line.push_str(self.name(name));
        push_u64(self.line, value);
    }

    /// A number with a fraction.
    #[inline]
    pub(crate) fn f64(&mut self, name: Name, value: f64) {
        self.line.push_str(self.name(name));
        match self.format {
            Format::Json => super::json::push_f64(self.line, value),
            Format::Text => debug_f64(self.line, value),
        }
    }

    fn name(&self, name: Name) -> &'static str {
        match self.format {
            Format::Json => name.json,
            Format::Text => name.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Format, Name, ahead};
    use crate::observe::format::tests::lines;

    #[test]
    fn members_written_ahead_are_the_ones_copied() {
        const WRITTEN: Name = Name {
            json: ",\"written\":",
            text: " written=",
        };
        const LEFT: Name = Name {
            json: ",\"left\":",
            text: " left=",
        };
        const COUNT: Name = Name {
            json: ",\"count\":",
            text: " count=",
        };
        const MS: Name = Name {
            json: ",\"ms\":",
            text: " ms=",
        };
        for (json, format) in [(true, Format::Json), (false, Format::Text)] {
            let text = lines(json, || {
                ahead(
                    Some(format),
                    |members| {
                        members.message("ahead");
                        members.str(WRITTEN, "yes");
                        members.some_str(LEFT, None);
                        members.u64(COUNT, u64::MAX);
                        members.f64(MS, 1.5);
                    },
                    || tracing::info!(target: "secure_api::audit", visited = true, "decision"),
                );
                // Once dispatched, they are gone.
                tracing::info!(target: "secure_api::audit", visited = true, "decision");
            });
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            let expected = if json {
                ",\"message\":\"ahead\",\"written\":\"yes\",\"count\":18446744073709551615,\"ms\":1.5}"
            } else {
                "secure_api::audit: ahead written=\"yes\" count=18446744073709551615 ms=1.5"
            };
            assert!(lines[0].ends_with(expected), "{text}");
            assert!(!lines[0].contains("visited"), "{text}");
            assert!(lines[1].contains("visited"), "{text}");
        }
    }

    #[test]
    fn nothing_is_written_ahead_without_a_format() {
        let text = lines(true, || {
            ahead(
                None,
                |members| members.message("ahead"),
                || tracing::info!(target: "secure_api::audit", visited = true, "decision"),
            );
        });
        assert!(text.contains("\"visited\":true"), "{text}");
    }
}
