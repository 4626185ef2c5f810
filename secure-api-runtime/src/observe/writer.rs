//! Where log lines go: appended to a shared buffer by the thread that logs
//! them (a lock, a copy, no system call), and written out by a thread of
//! their own at least every [`FLUSH_EVERY`], or as soon as [`WAKE_AT`]
//! bytes wait. A request never waits for the terminal or the disk, and the
//! writer wakes on a clock or a full batch, not on every line. No line is
//! dropped: past [`MAX_PENDING`] bytes waiting (the writer thread has
//! fallen behind), the thread that logs writes the batch out itself. The
//! buffers are kept from one batch to the next, never grown again from
//! nothing.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The longest a logged line waits before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The bytes waiting that wake the writer thread before its period ends.
pub const WAKE_AT: usize = 64 << 10;

/// The most bytes waiting before the thread that logs writes them itself.
pub const MAX_PENDING: usize = 8 << 20;

struct Shared {
    /// Lines logged and not yet written.
    pending: Mutex<Vec<u8>>,
    /// The buffer a thread that logs swaps in when it writes a batch itself.
    spare: Mutex<Vec<u8>>,
    /// Where lines are written; held while a batch is written, so batches
    /// keep their order.
    out: Mutex<Box<dyn Write + Send>>,
    /// What the writer thread is woken for, with its wake-up.
    state: Mutex<Wanted>,
    wake: Condvar,
}

/// Why the writer thread wakes before its period ends.
#[derive(Default)]
struct Wanted {
    /// The guard was dropped: write what waits, then stop.
    stopping: bool,
    /// A batch of [`WAKE_AT`] bytes waits.
    batch: bool,
}

impl Shared {
    /// Writes out whatever is waiting.
    fn flush(&self, spare: &mut Vec<u8>) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *pending, spare);
        }
        if !spare.is_empty() {
            // A log line that cannot be written has nowhere to be reported.
            let _ = out.write_all(spare).and_then(|()| out.flush());
            spare.clear();
        }
    }
}

/// A `tracing-subscriber` writer that hands each line to a batch written
/// out by a thread of its own (cheap to clone).
/// [`Telemetry::init_logging`](super::Telemetry::init_logging) uses it for
/// standard error; a subscriber of your own can too.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::observe::writer::BatchWriter;
///
/// let (writer, guard) = BatchWriter::new(std::io::stderr()).expect("a thread for the log");
/// let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("written within 50 ms"));
/// drop(guard); // writes what is still waiting
/// ```
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter").finish_non_exhaustive()
    }
}

/// Stops the writer thread when dropped, after writing what is waiting.
#[must_use = "the batches are written while the guard lives"]
pub struct BatchGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for BatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchGuard").finish_non_exhaustive()
    }
}

impl BatchWriter {
    /// A writer of batches to `out`, and the guard that keeps its thread.
    ///
    /// # Errors
    ///
    /// When the writer thread cannot be started.
    pub fn new(out: impl Write + Send + 'static) -> io::Result<(Self, BatchGuard)> {
        Self::every(FLUSH_EVERY, out)
    }

    /// [`new`](Self::new), with the writer thread's period.
    fn every(period: Duration, out: impl Write + Send + 'static) -> io::Result<(Self, BatchGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(64 * 1024)),
            spare: Mutex::new(Vec::new()),
            out: Mutex::new(Box::new(out)),
            state: Mutex::new(Wanted::default()),
            wake: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("secure-api-log".to_owned())
                .spawn(move || {
                    let mut spare = Vec::with_capacity(64 * 1024);
                    loop {
                        let stopping = {
                            let state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
                            let (mut state, _) = shared
                                .wake
                                .wait_timeout_while(state, period, |wanted| {
                                    !wanted.stopping && !wanted.batch
                                })
                                .unwrap_or_else(PoisonError::into_inner);
                            state.batch = false;
                            state.stopping
                        };
                        shared.flush(&mut spare);
                        if stopping {
                            break;
                        }
                    }
                })?
        };
        let guard = BatchGuard {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        Ok((Self { shared }, guard))
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopping = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's line, handed to the batch.
pub struct Line<'a>(&'a Shared);

impl std::fmt::Debug for Line<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line").finish_non_exhaustive()
    }
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let waiting = {
            let mut pending = self
                .0
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            pending.extend_from_slice(bytes);
            pending.len()
        };
        if waiting >= MAX_PENDING {
            let mut spare = self.0.spare.lock().unwrap_or_else(PoisonError::into_inner);
            self.0.flush(&mut spare);
        } else if waiting >= WAKE_AT && waiting - bytes.len() < WAKE_AT {
            // This line made the batch: the writer thread writes it now.
            self.0
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .batch = true;
            self.0.wake.notify_all();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<Vec<u8>>>);

    impl Write for Out {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if let Ok(mut out) = self.0.lock() {
                out.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Out {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().map(|b| b.clone()).unwrap_or_default())
                .unwrap_or_default()
        }
    }

    #[test]
    fn lines_are_written_in_order_within_the_flush_period() {
        let out = Out::default();
        let (writer, _guard) = BatchWriter::new(out.clone()).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..3 {
            let _ = writeln!(writer.make_writer(), "line {i}");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.text().lines().count() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(out.text(), "line 0\nline 1\nline 2\n");
    }

    #[test]
    fn dropping_the_guard_writes_what_is_waiting() {
        let out = Out::default();
        let (writer, guard) = BatchWriter::new(out.clone()).unwrap_or_else(|e| panic!("{e}"));
        let _ = writeln!(writer.make_writer(), "last words");
        drop(guard);
        assert_eq!(out.text(), "last words\n");
    }

    #[test]
    fn batches_written_by_the_thread_that_logs_reuse_their_buffers() {
        let out = Out::default();
        // The writer thread never wakes on its own here, so only the
        // thread that logs writes.
        let (writer, _guard) = BatchWriter::every(Duration::from_secs(3600), out.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let line = vec![b'x'; MAX_PENDING];
        for _ in 0..2 {
            let _ = writer.make_writer().write(&line);
        }
        assert_eq!(out.text().len(), 2 * MAX_PENDING);
        // The buffer swapped in by the next full batch is the one the last
        // batch was written from, its room kept (not grown from nothing).
        let room = writer
            .shared
            .spare
            .lock()
            .map(|spare| spare.capacity())
            .unwrap_or_default();
        assert!(room >= MAX_PENDING, "{room}");
    }

    #[test]
    fn a_batch_of_wake_at_bytes_is_written_by_the_writer_thread() {
        let out = Out::default();
        // A period no test waits for: only the wake-up writes the batch.
        let (writer, _guard) = BatchWriter::every(Duration::from_secs(3600), out.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = writer.make_writer().write(&vec![b'x'; WAKE_AT - 1]);
        let _ = writer.make_writer().write(b"\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.text().len() < WAKE_AT && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(out.text().len(), WAKE_AT);
    }

    #[test]
    fn a_full_batch_is_written_by_the_thread_that_logs_it() {
        let out = Out::default();
        let (writer, _guard) = BatchWriter::new(out.clone()).unwrap_or_else(|e| panic!("{e}"));
        let line = vec![b'x'; MAX_PENDING];
        let _ = writer.make_writer().write(&line);
        // Written before the writer thread's period could have passed.
        assert_eq!(out.text().len(), MAX_PENDING);
    }
}
