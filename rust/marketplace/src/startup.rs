use std::future::Future;
use std::net::SocketAddr;

use axum::ServiceExt;
use service_kit::BindError;
use tokio::net::TcpListener;

use crate::discovery::{DNS_PREFIX, Discovery, Resolver};
use crate::recommendations::{ConnectError, InvalidUrl, Recommendations};
use crate::tls::{TlsError, TlsFiles};
use crate::{AppState, Config, router};

/// Why the marketplace could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The Recommendations URL cannot be used.
    #[error(transparent)]
    RecommendationsUrl(#[from] InvalidUrl),
    /// The TLS files for the Recommendations service cannot be used.
    #[error(transparent)]
    RecommendationsTls(#[from] TlsError),
    /// The listening address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The server failed while serving.
    #[error("serving failed: {0}")]
    Serve(#[source] std::io::Error),
}

impl From<ConnectError> for StartupError {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Url(error) => error.into(),
            ConnectError::Tls(error) => error.into(),
        }
    }
}

/// A marketplace with its listener bound and its Recommendations channel set
/// up (not yet connected), ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Checks the Recommendations URL and binds the listener, so that errors
    /// surface before anything is served and port 0 resolves to a real port.
    ///
    /// The Recommendations service need not be running: the channel connects
    /// on the first page and reconnects by itself whenever the service returns.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        Self::build_with_resolver(config, Resolver::system()).await
    }

    /// As [`build`](Self::build), with `resolver` resolving a `dns:///`
    /// URL's host instead of the system (tests give it a table).
    pub async fn build_with_resolver(
        config: &Config,
        resolver: Resolver,
    ) -> Result<Self, StartupError> {
        let url = config.recommendations_url();
        let tls = config.tls();
        let discovery = Discovery {
            interval: config.resolve_interval(),
            resolver,
        };
        let recommendations =
            Recommendations::connect_lazy_with(&url, config.deadline(), &tls, discovery)?;
        let (listener, local_addr) = service_kit::bind(config.listen).await?;
        tracing::info!(
            recommendations = %url,
            deadline_ms = config.deadline_ms,
            tls = %tls_mode(&url, &tls),
            "using the Recommendations service"
        );
        if url.starts_with(DNS_PREFIX) {
            tracing::info!(
                resolve_interval_ms = config.recommendations_resolve_interval_ms,
                "balancing over every address of the Recommendations host"
            );
        }
        Ok(Self {
            listener,
            local_addr,
            state: AppState::new(recommendations),
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting connections,
    /// lets the requests in flight finish and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!(addr = %self.local_addr, "listening");
        let upkeep = tokio::spawn(self.state.metrics().keep_up());
        let served = axum::serve(self.listener, router(self.state).into_make_service())
            .with_graceful_shutdown(async {
                shutdown.await;
                tracing::info!("shutting down: finishing requests in flight");
            })
            .await;
        upkeep.abort();
        served.map_err(StartupError::Serve)?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How the channel is secured, for the start-up log: `off`, `on` or `mutual`.
fn tls_mode(url: &str, tls: &TlsFiles) -> &'static str {
    // A dns:/// URL has no scheme: any TLS setting turns TLS on.
    let secure = url.starts_with("https://") || (url.starts_with(DNS_PREFIX) && !tls.is_empty());
    match (secure, tls.client_cert.is_some()) {
        (false, _) => "off",
        (true, false) => "on",
        (true, true) => "mutual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_marketplace_starts_while_the_recommendations_service_is_down() {
        let backend = service_kit::testing::closed_port().await;
        let config = Config::new("127.0.0.1:0".parse().unwrap(), format!("http://{backend}"));
        let app = Application::build(&config).await.unwrap();
        assert_ne!(app.local_addr().port(), 0);
    }

    #[tokio::test]
    async fn a_bad_recommendations_url_stops_the_start() {
        let config = Config::new("127.0.0.1:0".parse().unwrap(), "localhost:50051");
        let error = Application::build(&config).await.unwrap_err();
        assert!(
            matches!(error, StartupError::RecommendationsUrl(_)),
            "{error}"
        );
    }

    #[tokio::test]
    async fn tls_files_with_a_plain_http_url_stop_the_start() {
        let config = Config::new("127.0.0.1:0".parse().unwrap(), "http://localhost:50051")
            .with_tls(TlsFiles {
                ca: Some("ca.pem".into()),
                ..TlsFiles::default()
            });
        let error = Application::build(&config).await.unwrap_err();
        assert!(
            error.to_string().contains("must start with https://"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_client_key_stops_the_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "").unwrap();
        let key = dir.path().join("missing.key");
        let config = Config::new("127.0.0.1:0".parse().unwrap(), "https://localhost:50051")
            .with_tls(TlsFiles {
                client_cert: Some(cert),
                client_key: Some(key.clone()),
                ..TlsFiles::default()
            });
        let error = Application::build(&config).await.unwrap_err();
        assert!(
            matches!(error, StartupError::RecommendationsTls(_)),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot read the client key {}", key.display())),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_dns_url_starts_before_its_host_resolves() {
        let config = Config::new(
            "127.0.0.1:0".parse().unwrap(),
            "dns:///recommendations.invalid:50051",
        );
        Application::build(&config).await.unwrap();
        assert_eq!(
            tls_mode(&config.recommendations_url(), &config.tls()),
            "off"
        );
        let named = TlsFiles {
            server_name: Some("recommendations".to_owned()),
            ..TlsFiles::default()
        };
        assert_eq!(tls_mode(&config.recommendations_url(), &named), "on");
    }

    #[tokio::test]
    async fn an_https_url_starts_with_the_webpki_roots() {
        let config = Config::new("127.0.0.1:0".parse().unwrap(), "https://localhost:50051");
        Application::build(&config).await.unwrap();
    }

    #[tokio::test]
    async fn a_busy_port_is_reported_with_its_address() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let config = Config::new(addr, "http://127.0.0.1:50051");
        let error = Application::build(&config).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot listen on {addr}")),
            "{error}"
        );
    }
}
