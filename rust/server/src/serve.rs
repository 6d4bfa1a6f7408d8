use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use socket2::{SockRef, Socket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tower::{BoxError, Service};

/// How long a client may take over the TLS handshake before it is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long accepting waits after a failure that is not the connection's own
/// (out of file descriptors, say), rather than failing again at once.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// How long a connection the server has finished with stays half-open,
/// reading and discarding, for the client to close its side (see
/// [`linger`]): long enough for a slow client to read the rest of a large
/// answer, short beside the 30 seconds Kubernetes grants a stopping pod.
const LINGER: Duration = Duration::from_secs(5);

/// The connection settings of the gRPC listener.
#[derive(Debug, Clone, Copy)]
pub struct Http2Settings {
    /// The most calls one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// How long a connection may be silent before it is pinged.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
}

/// Serves connections with hyper: HTTP/2, and HTTP/1.1 for gRPC-Web, with
/// or without TLS.
///
/// Not tonic's `Server`: besides connections, it wraps every call in layers
/// of its own (a second timer for the `grpc-timeout`, the connection's
/// details in the request's extensions, a boxed service cloned for every
/// call, a boxed response body) that this server has no use for, as its own
/// layers answer the deadline. Serving the same services on hyper directly
/// took a call from 51,700 to 49,500 instructions at 16 calls in flight and
/// from 50,900 to 48,700 at 64 (plain release builds, callgrind).
///
/// hyper's HTTP/2 defaults apply but for the `date` header, which answers
/// over HTTP/2 go without (1,050 instructions a call less). Among those
/// defaults is hyper's limit on the streams a client may make the server
/// reset for errors (1,024 a connection), which tonic's `Server` turns off.
#[derive(Clone)]
pub struct Transport {
    http: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("http", &self.http)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Transport {
    /// Plaintext when `tls` is `None`.
    #[must_use]
    pub fn new(settings: Http2Settings, tls: Option<Arc<ServerConfig>>) -> Self {
        let mut http = auto::Builder::new(TokioExecutor::new());
        // hyper enforces its HTTP/1 header read timeout only with a timer.
        http.http1().timer(TokioTimer::new());
        // No `date` header on HTTP/2, as gRPC's own servers (grpc-go, gRPC
        // C-core) send none: no gRPC client reads it, and hyper would read
        // the clock, add the header and have HPACK encode it on every answer.
        http.http2()
            .timer(TokioTimer::new())
            .auto_date_header(false)
            .max_concurrent_streams(settings.max_concurrent_streams)
            .keep_alive_interval(settings.keepalive_interval)
            .keep_alive_timeout(settings.keepalive_timeout);
        Self {
            http,
            tls: tls.map(TlsAcceptor::from),
        }
    }

    /// Accepts connections on `listener` and serves `service` on each until
    /// `shutdown` completes; then closes the listener, asks every connection
    /// to finish (HTTP/2 `GOAWAY`), and returns once the calls in flight
    /// have been answered.
    pub async fn serve(
        self,
        listener: TcpListener,
        service: impl HttpService,
        shutdown: impl Future<Output = ()>,
    ) {
        let connections = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        accept_failed(&error).await;
                        continue;
                    }
                },
            };
            tokio::spawn(self.clone().connection(
                stream,
                TowerToHyperService::new(service.clone()),
                connections.watcher(),
                // Held while the connection lingers, so that stopping waits
                // for that too.
                connections.watcher(),
            ));
        }
        // The listener closes here, so that new clients are refused at once
        // rather than left waiting.
        drop(listener);
        connections.shutdown().await;
    }

    /// Serves one connection, after its TLS handshake when TLS is on, then
    /// lingers on its socket.
    async fn connection(
        self,
        stream: TcpStream,
        service: TowerToHyperService<impl HttpService>,
        watcher: Watcher,
        _lingering: Watcher,
    ) {
        // Without TCP_NODELAY, small responses wait on Nagle's algorithm and
        // the peer's delayed ACK: tens of milliseconds per call.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        // A second handle on the socket keeps it open once hyper, done with
        // the connection, drops its own.
        let socket = SockRef::from(&stream).try_clone();
        match &self.tls {
            None => self.http_over(stream, service, watcher).await,
            Some(acceptor) => {
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => self.http_over(stream, service, watcher).await,
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            }
        }
        match socket {
            Ok(socket) => linger(socket).await,
            Err(error) => tracing::debug!(%error, "cannot keep the socket to linger on"),
        }
    }

    async fn http_over(
        &self,
        io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
        service: TowerToHyperService<impl HttpService>,
        watcher: Watcher,
    ) {
        let connection = self.http.serve_connection(TokioIo::new(io), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(error = %service_kit::error_chain(&*error), "connection failed");
        }
    }
}

/// A tower service of HTTP requests that [`Transport`] can serve: what hyper
/// asks of a service and of its answers' bodies, named once.
pub trait HttpService:
    Service<
        Request<Incoming>,
        Response = Response<Self::AnswerBody>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The body of the service's answers.
    type AnswerBody: http_body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type AnswerBody = B;
}

/// Closes the server's side of a connection it has finished with (TCP `FIN`)
/// and reads and discards whatever the client still sends until the client
/// closes too, or [`LINGER`] has passed.
///
/// Closing the socket outright would lose the end of the last answer: the
/// client keeps sending while it reads a large answer (HTTP/2 `WINDOW_UPDATE`
/// frames, for one), and the kernel answers data sent to a closed socket with
/// a reset, which drops the answer's bytes not yet delivered. A call answered
/// during a graceful stop then failed with `UNAVAILABLE` at the client.
async fn linger(socket: Socket) {
    // tokio needs a non-blocking socket, and a duplicated handle is not one
    // on every system.
    let stream = socket
        .set_nonblocking(true)
        .and_then(|()| TcpStream::from_std(socket.into()));
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(error) => return tracing::debug!(%error, "cannot linger on the socket"),
    };
    // hyper has sent the `FIN` already unless the connection failed.
    let _ = stream.shutdown().await;
    let mut discard = [0; 4096];
    // Until the client closes (a read of 0 bytes) or the connection fails.
    let drain = async { while let Ok(1..) = stream.read(&mut discard).await {} };
    if tokio::time::timeout(LINGER, drain).await.is_err() {
        tracing::debug!("the client did not close the connection in time");
    }
}

/// Logs a failed accept, and pauses unless only that one connection failed.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) {
        tracing::debug!(%error, "a connection failed before it was accepted");
        return;
    }
    tracing::warn!(%error, "cannot accept connections; trying again shortly");
    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::Full;
    use hyper::body::Bytes;
    use tokio::net::TcpSocket;
    use tokio::sync::{Notify, oneshot};

    use super::*;

    /// Larger than the client's receive buffer, so that the answer's end is
    /// still in the server's send buffer when the client writes again.
    const ANSWER_LEN: usize = 64 * 1024;

    #[tokio::test]
    async fn a_client_that_writes_after_the_last_answer_of_a_stop_still_gets_all_of_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Bytes::from(vec![b'a'; ANSWER_LEN]);
        let called = Arc::new(Notify::new());
        let service = tower::service_fn({
            let (answer, called) = (answer.clone(), called.clone());
            move |_: Request<Incoming>| {
                called.notify_one();
                let answer = Full::new(answer.clone());
                async move { Ok::<_, Infallible>(Response::new(answer)) }
            }
        });
        let settings = Http2Settings {
            max_concurrent_streams: 10,
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
        };
        let (stop, stopping) = oneshot::channel::<()>();
        let server = tokio::spawn(
            Transport::new(settings, None).serve(listener, service, async {
                let _ = stopping.await;
            }),
        );

        let client = TcpSocket::new_v4().unwrap();
        client.set_recv_buffer_size(4096).unwrap();
        let mut client = client.connect(addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        called.notified().await;
        stop.send(()).unwrap();
        // Time for the server to answer and finish with the connection; the
        // client writes only then, as an HTTP/2 client sends WINDOW_UPDATE
        // frames while it reads.
        tokio::time::sleep(Duration::from_millis(300)).await;
        client.write_all(b"more").await.unwrap();

        let mut received = Vec::new();
        let read = client.read_to_end(&mut received).await;
        assert!(
            read.is_ok() && received.ends_with(&answer),
            "{} bytes received, then {read:?}",
            received.len()
        );
        drop(client);
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops once the client has closed")
            .unwrap();
    }
}
