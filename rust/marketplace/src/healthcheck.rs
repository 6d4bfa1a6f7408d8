//! `marketplace healthcheck`: one plain HTTP/1.1 GET of `/healthz`, on std's
//! blocking sockets, so that the health check needs no HTTP client crate.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use clap::Args;

/// The flags of `marketplace healthcheck`.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// `HOST:PORT` of the marketplace to ask. Without it, the port of
    /// `--listen` (or `MARKETPLACE_LISTEN`) on this host.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    /// Longest wait for connecting, and again for the answer, in milliseconds.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..=600_000)
    )]
    pub timeout_ms: u64,
}

/// Why the marketplace is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// The address does not resolve, or nothing answers there in time.
    #[error("GET http://{addr}/healthz failed: {source}")]
    Io {
        /// Where the marketplace was asked.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// An answer other than 200.
    #[error("GET http://{addr}/healthz answered {status_line:?}")]
    NotOk {
        /// Where the marketplace was asked.
        addr: String,
        /// The answer's first line.
        status_line: String,
    },
}

impl HealthcheckArgs {
    /// The address to ask: `--addr`, or `listen` with an unspecified IP
    /// (`0.0.0.0`, `[::]`) replaced by the loopback address.
    #[must_use]
    pub fn target(&self, listen: SocketAddr) -> String {
        self.addr.clone().unwrap_or_else(|| {
            let ip = if listen.ip().is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                listen.ip()
            };
            SocketAddr::new(ip, listen.port()).to_string()
        })
    }

    /// GETs `/healthz` at `self.target(listen)`; `Ok` with the address asked
    /// when it answers 200.
    pub fn check(&self, listen: SocketAddr) -> Result<String, HealthcheckError> {
        let addr = self.target(listen);
        let io = |source| HealthcheckError::Io {
            addr: addr.clone(),
            source,
        };
        let status_line = get_healthz(&addr, Duration::from_millis(self.timeout_ms)).map_err(io)?;
        // "HTTP/1.1 200 OK": the second word is the status code.
        if status_line.split_whitespace().nth(1) == Some("200") {
            Ok(addr)
        } else {
            Err(HealthcheckError::NotOk { addr, status_line })
        }
    }
}

/// The first line of the answer to `GET /healthz`.
fn get_healthz(addr: &str, timeout: Duration) -> std::io::Result<String> {
    let mut last_error = None;
    for socket_addr in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&socket_addr, timeout) {
            Ok(mut stream) => {
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                // One write: write! would send the request in pieces.
                let request =
                    format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                stream.write_all(request.as_bytes())?;
                // Only the status line matters: stop reading at its end.
                let mut answer = Vec::new();
                let mut chunk = [0; 256];
                while !answer.contains(&b'\n') {
                    match stream.read(&mut chunk)? {
                        0 => break,
                        read => answer.extend_from_slice(&chunk[..read]),
                    }
                }
                let answer = String::from_utf8_lossy(&answer);
                return Ok(answer.lines().next().unwrap_or_default().to_owned());
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the address resolves to nothing",
        )
    }))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    fn args(addr: Option<&str>) -> HealthcheckArgs {
        HealthcheckArgs {
            addr: addr.map(str::to_owned),
            timeout_ms: 1000,
        }
    }

    /// A one-shot server that answers the first request with `answer`.
    fn answering(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The whole request first, so the client's write cannot meet a closed socket.
            let mut request = Vec::new();
            let mut byte = [0; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            stream.write_all(answer.as_bytes()).unwrap();
        });
        addr
    }

    #[test]
    fn an_unspecified_listen_address_is_asked_on_loopback() {
        assert_eq!(
            args(None).target("0.0.0.0:5000".parse().unwrap()),
            "127.0.0.1:5000"
        );
        assert_eq!(
            args(Some("web:1")).target("0.0.0.0:5000".parse().unwrap()),
            "web:1"
        );
    }

    #[test]
    fn a_200_is_healthy() {
        let addr = answering("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert_eq!(args(None).check(addr).unwrap(), addr.to_string());
    }

    #[test]
    fn another_status_is_unhealthy() {
        let addr = answering("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let error = args(None).check(addr).unwrap_err();
        assert!(error.to_string().contains("503"), "{error}");
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(matches!(
            args(None).check(addr),
            Err(HealthcheckError::Io { .. })
        ));
    }
}
