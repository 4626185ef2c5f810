//! What the integration tests share: the runtime's log, captured.

// Each test file uses its own subset.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects what the runtime logs on this thread while captured.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Sends this thread's log lines here until the guard is dropped.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Sends this thread's log here as the runtime's JSON lines, from
    /// `level` up, with an event when each span closes (carrying the span's
    /// fields), until the guard is dropped.
    pub fn capture_json(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(level)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .event_format(secure_api_runtime::observe::JsonLines)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Every JSON line logged so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
