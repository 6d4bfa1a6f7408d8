//! Running a service in-process for integration tests: on a free port, with a
//! handle to stop it, and its logs shown only when `TEST_LOG` is set.
//! [`grpc_web`] calls it as a browser would.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod grpc_web;

/// How long a stopped service may take to finish before the test fails.
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// Completes when the test stops the service, or drops its handle.
#[derive(Debug)]
pub struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A service running on a task of the test's runtime until stopped.
#[derive(Debug)]
pub struct Spawned<E> {
    /// The address it serves on.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), E>>,
}

/// Runs `serve` on a task: it is given the [`StopSignal`] to serve until.
/// `addr` is the address it bound, for the test to connect to.
pub fn spawn<E, F>(addr: SocketAddr, serve: impl FnOnce(StopSignal) -> F) -> Spawned<E>
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    init_test_tracing();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve(StopSignal(stopped)));
    Spawned { addr, stop, task }
}

impl<E> Spawned<E> {
    /// Signals shutdown and returns how serving ended, once the calls in
    /// flight have finished.
    pub async fn stop(self) -> Result<(), E> {
        let _ = self.stop.send(());
        tokio::time::timeout(STOP_LIMIT, self.task)
            .await
            .expect("the service stops in time")
            .expect("the service task does not panic")
    }
}

/// An address where nothing listens: a port the system just handed out and took back.
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    listener.local_addr().expect("a bound address")
}

/// Shows the services' logs during `cargo test` when `TEST_LOG` is set (to
/// anything but `0`); tests are silent otherwise. `RUST_LOG` filters as usual.
pub fn init_test_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|value| !value.is_empty() && value != "0") {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            // The test writer lets the harness capture each test's lines.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}
