//! What every bookstore service process shares, so that the server and the
//! marketplace start, log and stop the same way: the tokio runtime, binding
//! the listener, the log format flag, the `tracing` set-up, the upkeep of the
//! Prometheus recorders, and the stop signals. With the `testing`
//! feature, it also runs either service in-process for integration tests and
//! calls it over gRPC-Web.

#![warn(missing_docs)]

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

mod plain_text;
#[cfg(feature = "testing")]
pub mod testing;

use plain_text::{PlainFields, PlainText};

/// A listening address that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why the system refused it (in use, not an address of this host, ...).
    #[source]
    pub source: std::io::Error,
}

/// Binds `addr` and returns the listener with the address actually bound, so
/// that port 0 resolves to the real port before anything is served.
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), BindError> {
    let fail = |source| BindError { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(fail)?;
    let local_addr = listener.local_addr().map_err(fail)?;
    Ok((listener, local_addr))
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines with `key=value` fields.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global `tracing` subscriber: `RUST_LOG` filters (default
/// `info`), lines go to standard error in the chosen format, coloured only
/// on a terminal so that captured logs stay plain text.
pub fn init_tracing(format: LogFormat) {
    install(format, std::io::stderr);
}

/// As [`init_tracing`], except that the lines of `buffered_target` at the
/// info level and below (an access log: one line per call) are gathered in
/// memory and written to standard error together, at most
/// [`LOG_FLUSH_INTERVAL`] later, instead of with one system call each. Every
/// other line is written at once, after the buffered ones, so the order
/// holds. Keep the guard until the process ends: dropping it writes what is
/// still buffered.
#[must_use = "dropping the guard at once stops nothing but writes the buffer; keep it until exit"]
pub fn init_tracing_buffered(format: LogFormat, buffered_target: &'static str) -> LogGuard {
    let stderr = BufferedStderr {
        buffer: Arc::new(Mutex::new(Vec::with_capacity(LOG_BUFFER_BYTES))),
        buffered_target,
    };
    install(format, stderr.clone());
    let flusher = Arc::downgrade(&stderr.buffer);
    // A thread rather than a task, so that lines keep coming out whatever the
    // runtime is doing; it ends with the process.
    let spawned = std::thread::Builder::new()
        .name("log-flush".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(LOG_FLUSH_INTERVAL);
                let Some(buffer) = flusher.upgrade() else {
                    return;
                };
                flush(&mut lock(&buffer));
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the log flushing thread: buffered lines wait for the next unbuffered one or for exit");
    }
    LogGuard {
        buffer: stderr.buffer,
    }
}

/// The longest a buffered log line waits before it is written.
pub const LOG_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// How often [`keep_metrics_up`] folds a Prometheus recorder's histogram
/// samples recorded since into their buckets, when nobody scrapes in between.
///
/// Until then every sample waits in memory. At metrics-exporter-prometheus'
/// own default of 5 s, the samples of a server answering 70,000 calls a
/// second were most of its RSS growth under load: its peak went from 6.5 MiB
/// idle to 13.2 MiB, and to 7.9 MiB with this interval (with glibc's malloc).
const METRICS_UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Folds the histogram samples of the recorder behind `handle` into their
/// buckets (`run_upkeep`) four times a second, until the task running it is
/// aborted: without it, the samples pile up in memory between scrapes.
pub async fn keep_metrics_up(handle: PrometheusHandle) {
    let mut ticks = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    loop {
        ticks.tick().await;
        handle.run_upkeep();
    }
}

/// Buffered lines are written as soon as they fill this much.
const LOG_BUFFER_BYTES: usize = 32 * 1024;

/// Generic over the writer rather than taking a `BoxMakeWriter`, which boxes
/// the writer of every line it makes.
fn install<W>(format: LogFormat, writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text if ansi => builder.init(),
        // The same lines for less CPU: see plain_text.
        LogFormat::Text => builder
            .fmt_fields(PlainFields)
            .event_format(PlainText::default())
            .init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Writes the log lines still buffered when dropped; see [`init_tracing_buffered`].
#[derive(Debug)]
pub struct LogGuard {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        flush(&mut lock(&self.buffer));
    }
}

/// Standard error, with one target's routine lines buffered.
#[derive(Debug, Clone)]
struct BufferedStderr {
    buffer: Arc<Mutex<Vec<u8>>>,
    buffered_target: &'static str,
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            buffer: &self.buffer,
            buffered: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LogLine {
            buffer: &self.buffer,
            // Levels compare by verbosity: INFO, DEBUG and TRACE.
            buffered: meta.target() == self.buffered_target && *meta.level() >= Level::INFO,
        }
    }
}

/// One log line on its way out (tracing-subscriber writes each line whole).
#[derive(Debug)]
struct LogLine<'a> {
    buffer: &'a Mutex<Vec<u8>>,
    buffered: bool,
}

impl Write for LogLine<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buffer = lock(self.buffer);
        if self.buffered {
            buffer.extend_from_slice(line);
            if buffer.len() >= LOG_BUFFER_BYTES {
                flush(&mut buffer);
            }
        } else {
            flush(&mut buffer);
            // Still holding the lock, so no buffered line can overtake it.
            std::io::stderr().write_all(line)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lock(buffer: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    // A thread that panicked mid-line leaves at worst a partial line.
    buffer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes out and empties `buffer`. A log that cannot be written has
/// nowhere to report it, so the lines are dropped.
fn flush(buffer: &mut Vec<u8>) {
    if !buffer.is_empty() {
        let _ = std::io::stderr().write_all(buffer);
        buffer.clear();
    }
}

/// An error and its sources on one line, for messages that must say why:
/// tonic's own message for a TLS problem is only "transport error".
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The tokio runtime a server runs on, with `worker_threads` workers, or by
/// default as many as the cores this process may use
/// ([`std::thread::available_parallelism`], which follows CPU affinity and
/// cgroup CPU quotas, so a container limited to one CPU gets one).
///
/// One worker means tokio's current-thread scheduler: the connection tasks
/// and the tasks of their calls take turns on one thread, and a connection
/// writes the answers of many calls in one system call (about 16 at 64 calls
/// in flight under strace), where a multi-thread runtime of one worker wrote
/// each answer on its own. Blocking work goes to tokio's blocking pool either
/// way.
///
/// The runtime always has a timer due within a quarter of a second, which
/// spares it a system call for each deadline set (see `keep_timer_wheel_set`).
pub fn runtime(worker_threads: Option<NonZeroUsize>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = worker_threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    };
    let runtime = builder.enable_all().build()?;
    runtime.spawn(keep_timer_wheel_set());
    Ok(runtime)
}

/// How often [`keep_timer_wheel_set`] wakes: well under the deadlines calls
/// are given (the marketplace's is 2 s).
const TIMER_WHEEL_KEEPER_PERIOD: std::time::Duration = std::time::Duration::from_millis(250);

/// Keeps a timer set in the runtime's timer wheel, forever.
///
/// tokio's time driver wakes its own thread, with a system call (a write to
/// its eventfd), whenever a timer is set that falls due before the earliest
/// one it saw when it last went to sleep, and always when it saw none
/// (tokio-rs/tokio#5207, still so in tokio 1.54). Each call sets a deadline,
/// and a server between bursts of calls has no timer left: behind the
/// marketplace, our server without `--metrics-listen` (whose histogram
/// upkeep is such a timer) made 1.7 of those system calls a page, for
/// nothing. With this timer always due within [`TIMER_WHEEL_KEEPER_PERIOD`],
/// only timers due sooner than that still wake the driver.
async fn keep_timer_wheel_set() {
    let mut ticks = tokio::time::interval(TIMER_WHEEL_KEEPER_PERIOD);
    loop {
        ticks.tick().await;
    }
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM (what process managers send).
///
/// The handlers are installed when this is called, not when the future is first
/// polled, so a signal that arrives while the server is still starting to serve
/// is a graceful stop rather than the default death. Call it inside a runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let (mut interrupt, mut terminate) = match (interrupt, terminate) {
                (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "cannot listen for stop signals");
                    return std::future::pending().await;
                }
            };
            tokio::select! {
                _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "stop requested"),
                _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "stop requested"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            return std::future::pending().await;
        }
        tracing::info!(signal = "Ctrl-C", "stop requested");
    }
}

/// A gRPC deadline from its `grpc-timeout` header value: 1 to 8 digits and a
/// unit (`H`, `M`, `S`, `m`, `u` or `n`), as the gRPC over HTTP/2 protocol
/// writes it. `None` for a malformed value, which callers treat as absent.
#[must_use]
pub fn parse_grpc_timeout(value: &str) -> Option<std::time::Duration> {
    use std::time::Duration;

    if !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::MakeWriter;

    use super::{BufferedStderr, parse_grpc_timeout};

    #[test]
    fn access_lines_wait_in_the_buffer_until_another_line_is_written() {
        let stderr = BufferedStderr {
            buffer: Arc::new(Mutex::new(Vec::new())),
            buffered_target: "access",
        };
        let access = tracing::Metadata::new(
            "handled",
            "access",
            tracing::Level::INFO,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CALLSITE)),
            tracing::metadata::Kind::EVENT,
        );
        stderr
            .make_writer_for(&access)
            .write_all(b"call 1\n")
            .unwrap();
        stderr
            .make_writer_for(&access)
            .write_all(b"call 2\n")
            .unwrap();
        assert_eq!(*stderr.buffer.lock().unwrap(), b"call 1\ncall 2\n");
        stderr.make_writer().write_all(b"stopping\n").unwrap();
        assert!(stderr.buffer.lock().unwrap().is_empty());
    }

    struct Callsite;
    static CALLSITE: Callsite = Callsite;
    impl tracing::callsite::Callsite for Callsite {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unreachable!("not registered")
        }
    }

    #[test]
    fn one_worker_is_the_current_thread_scheduler() {
        use tokio::runtime::RuntimeFlavor;

        let flavor = |workers: Option<usize>| {
            super::runtime(workers.and_then(std::num::NonZeroUsize::new))
                .unwrap()
                .handle()
                .runtime_flavor()
        };
        assert_eq!(flavor(Some(1)), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(Some(3)), RuntimeFlavor::MultiThread);
        let cores = std::thread::available_parallelism().unwrap().get();
        let by_default = if cores == 1 {
            RuntimeFlavor::CurrentThread
        } else {
            RuntimeFlavor::MultiThread
        };
        assert_eq!(flavor(None), by_default);
    }

    /// The write system calls this process has made, all threads together.
    #[cfg(target_os = "linux")]
    fn writes_so_far() -> u64 {
        let io = std::fs::read_to_string("/proc/self/io").unwrap();
        io.lines()
            .find_map(|line| line.strip_prefix("syscw: "))
            .and_then(|count| count.parse().ok())
            .expect("/proc/self/io has syscw")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn setting_a_deadline_does_not_wake_the_runtime_with_a_system_call() {
        use std::future::Future;
        use std::task::Poll;

        const DEADLINES: u64 = 1000;
        let runtime = super::runtime(std::num::NonZeroUsize::new(1)).unwrap();
        let writes = runtime.block_on(async {
            // Once asleep and awake again, every timer of this future is gone.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let before = writes_so_far();
            for _ in 0..DEADLINES {
                let deadline = tokio::time::sleep(Duration::from_secs(10));
                tokio::pin!(deadline);
                // A sleep is set in the timer wheel when first polled.
                std::future::poll_fn(|cx| {
                    assert!(deadline.as_mut().poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
            }
            writes_so_far() - before
        });
        // Other tests' threads may write meanwhile; without the kept timer,
        // each deadline writes to the driver's eventfd.
        assert!(
            writes < DEADLINES / 10,
            "{writes} writes for {DEADLINES} deadlines"
        );
    }

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("5n"), Some(Duration::from_nanos(5)));
    }

    #[test]
    fn malformed_grpc_timeouts_are_ignored() {
        for value in [
            "",
            "S",
            "10",
            "10s",
            "123456789S",
            "-1S",
            "1.5S",
            "ten S",
            "é",
        ] {
            assert_eq!(parse_grpc_timeout(value), None, "{value:?}");
        }
    }
}
