use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Args;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The flags of `recommendations healthcheck`.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// `HOST:PORT` of the server to ask. Without it, the port of `--listen`
    /// (or `RECOMMENDATIONS_LISTEN`) on this host.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    /// The service to ask about; the empty default is the whole server.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub service: String,

    /// Longest wait for the answer, connecting included, in milliseconds.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..=600_000)
    )]
    pub timeout_ms: u64,
}

/// Why the server is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// `--addr` does not make a URI.
    #[error("{addr} is not a HOST:PORT address: {source}")]
    Address {
        /// The address given.
        addr: String,
        /// Why it was refused.
        #[source]
        source: tonic::transport::Error,
    },
    /// No answer: nothing listens, or it did not answer in time.
    #[error("{addr} did not answer the health check: {message}")]
    Unreachable {
        /// Where the server was asked.
        addr: String,
        /// The status or transport error, with its causes.
        message: String,
    },
    /// An answer other than SERVING.
    #[error("{addr} answered {status:?} for service {service:?}")]
    NotServing {
        /// Where the server was asked.
        addr: String,
        /// The service asked about.
        service: String,
        /// What it answered.
        status: ServingStatus,
    },
}

impl HealthcheckArgs {
    /// The address to ask: `--addr`, or `listen` with an unspecified IP
    /// (`[::]`, `0.0.0.0`) replaced by the loopback address, which a
    /// dual-stack listener also accepts.
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

    /// Asks the health service at `self.target(listen)`; `Ok` with the
    /// address asked when it answers SERVING.
    pub async fn check(&self, listen: SocketAddr) -> Result<String, HealthcheckError> {
        let addr = self.target(listen);
        let timeout = Duration::from_millis(self.timeout_ms);
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|source| HealthcheckError::Address {
                addr: addr.clone(),
                source,
            })?
            .connect_timeout(timeout)
            .timeout(timeout);
        let unreachable = |message: String| HealthcheckError::Unreachable {
            addr: addr.clone(),
            message,
        };
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| unreachable(service_kit::error_chain(&error)))?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: self.service.clone(),
            })
            .await
            .map_err(|status| unreachable(format!("{:?}: {}", status.code(), status.message())))?;
        match response.into_inner().status() {
            ServingStatus::Serving => Ok(addr),
            status => Err(HealthcheckError::NotServing {
                addr,
                service: self.service.clone(),
                status,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(addr: Option<&str>) -> HealthcheckArgs {
        HealthcheckArgs {
            addr: addr.map(str::to_owned),
            service: String::new(),
            timeout_ms: 100,
        }
    }

    #[test]
    fn an_unspecified_listen_address_is_asked_on_loopback() {
        assert_eq!(
            args(None).target("[::]:50051".parse().unwrap()),
            "127.0.0.1:50051"
        );
        assert_eq!(
            args(None).target("0.0.0.0:7".parse().unwrap()),
            "127.0.0.1:7"
        );
        assert_eq!(args(None).target("[::1]:8".parse().unwrap()), "[::1]:8");
    }

    #[test]
    fn addr_wins_over_listen() {
        assert_eq!(
            args(Some("recommendations:50051")).target("[::]:50051".parse().unwrap()),
            "recommendations:50051"
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_unhealthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let error = args(None).check(addr).await.unwrap_err();
        assert!(
            matches!(error, HealthcheckError::Unreachable { .. }),
            "{error}"
        );
    }
}
