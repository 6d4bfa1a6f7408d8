use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use recommendations_proto::recommendations_server::RecommendationsServer;
use recommender::{Catalog, CatalogError};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::Config;
use crate::service::RecommendationService;

/// Why the server could not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot load the catalogue: {0}")]
    Catalog(#[from] CatalogError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A server with its catalogue loaded and its port bound, ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    catalog: Arc<Catalog>,
}

impl Application {
    /// Loads the catalogue and binds the listener, so that errors surface
    /// before anything is served and port 0 resolves to a real port.
    pub async fn build(config: &Config) -> Result<Self, ServerError> {
        let catalog = match &config.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::notes(),
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        Ok(Self {
            listener,
            local_addr,
            catalog: Arc::new(catalog),
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
    ) -> Result<(), ServerError> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<RecommendationsServer<RecommendationService>>()
            .await;

        tracing::info!(addr = %self.local_addr, books = self.catalog.iter().count(), "listening");
        let recommendations = RecommendationsServer::new(RecommendationService::new(self.catalog));

        // Without TCP_NODELAY, small responses wait on Nagle's algorithm and the
        // peer's delayed ACK: tens of milliseconds per call.
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        Server::builder()
            .trace_fn(|request| tracing::info_span!("grpc", path = %request.uri().path()))
            .add_service(health_service)
            .add_service(reflection_v1()?)
            .add_service(reflection_v1alpha()?)
            .add_service(recommendations)
            .serve_with_incoming_shutdown(incoming, async {
                shutdown.await;
                tracing::info!("shutting down: finishing calls in flight");
            })
            .await?;
        tracing::info!("stopped");
        Ok(())
    }
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(recommendations_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

fn reflection_v1() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    ServerError,
> {
    Ok(reflection_builder().build_v1()?)
}

fn reflection_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    ServerError,
> {
    Ok(reflection_builder().build_v1alpha()?)
}
