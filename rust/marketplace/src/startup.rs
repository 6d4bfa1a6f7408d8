use std::future::Future;
use std::net::SocketAddr;

use service_kit::BindError;
use tokio::net::TcpListener;

use crate::recommendations::{InvalidUrl, Recommendations};
use crate::{AppState, Config, router};

/// Why the marketplace could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The Recommendations URL cannot be used.
    #[error(transparent)]
    RecommendationsUrl(#[from] InvalidUrl),
    /// The listening address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The server failed while serving.
    #[error("serving failed: {0}")]
    Serve(#[source] std::io::Error),
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
        let url = config.recommendations_url();
        let recommendations = Recommendations::connect_lazy(&url, config.deadline())?;
        let (listener, local_addr) = service_kit::bind(config.listen).await?;
        tracing::info!(
            recommendations = %url,
            deadline_ms = config.deadline_ms,
            "using the Recommendations service"
        );
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
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(async {
                shutdown.await;
                tracing::info!("shutting down: finishing requests in flight");
            })
            .await
            .map_err(StartupError::Serve)?;
        tracing::info!("stopped");
        Ok(())
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
