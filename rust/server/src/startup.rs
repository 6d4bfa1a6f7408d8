use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use recommendations_proto::recommendations_server::RecommendationsServer;
use recommender::{Catalog, CatalogError};
use service_kit::BindError;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::Config;
use crate::service::RecommendationService;

/// Why the server could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The `--catalog` file is unreadable or invalid.
    #[error("cannot load the catalogue: {0}")]
    Catalog(#[from] CatalogError),
    /// The listening address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The embedded descriptors could not be served by reflection.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed while serving.
    #[error("serving failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A server with its catalogue loaded, its services built and its port bound,
/// ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    routes: Routes,
    books: usize,
}

impl Application {
    /// Loads the catalogue, builds every service and binds the listener, so
    /// that all start-up errors surface before anything is served and port 0
    /// resolves to a real port.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let catalog = match &config.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::notes(),
        };
        let books = catalog.iter().count();

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<RecommendationsServer<RecommendationService>>()
            .await;
        let routes = Routes::new(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .add_service(RecommendationsServer::new(RecommendationService::new(
                Arc::new(catalog),
            )));

        let (listener, local_addr) = service_kit::bind(config.listen).await?;
        Ok(Self {
            listener,
            local_addr,
            routes,
            books,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting calls, lets the
    /// calls in flight finish and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        tracing::info!(addr = %self.local_addr, books = self.books, "listening");
        // Without TCP_NODELAY, small responses wait on Nagle's algorithm and the
        // peer's delayed ACK: tens of milliseconds per call.
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        Server::builder()
            .trace_fn(|request| tracing::info_span!("grpc", path = %request.uri().path()))
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(incoming, async {
                shutdown.await;
                tracing::info!("shutting down: finishing calls in flight");
            })
            .await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Reflection over the contract and the health service, for tools such as
/// grpcurl and `buf curl`.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(recommendations_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}
