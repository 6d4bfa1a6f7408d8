use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use recommendations_proto::recommendations_server::RecommendationsServer;
use recommender::{Catalog, CatalogError};
use service_kit::BindError;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::codegen::BoxFuture;
use tonic::server::NamedService;
use tonic::service::Routes;
use tower::ServiceBuilder;
use tower_http::validate_request::ValidateRequestHeaderLayer;

use crate::Config;
use crate::content_type::refuse_non_grpc;
use crate::deadline::DeadlineLayer;
use crate::grpc_web::GrpcWebEdgeLayer;
use crate::metrics::Metrics;
use crate::observe::ObserveLayer;
use crate::routing::Services;
use crate::serve::{Http2Settings, Transport};
use crate::service::RecommendationService;
use crate::shed::CallSlots;
use crate::tls::{TlsError, TlsFiles};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The `--catalog` file is unreadable or invalid.
    #[error("cannot load the catalogue: {0}")]
    Catalog(#[from] CatalogError),
    /// The TLS flags are inconsistent, or their files unreadable or unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listening address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The embedded descriptors could not be served by reflection.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// A server with its catalogue loaded, its services built and its ports bound,
/// ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    transport: Transport,
    services: Services,
    books: usize,
    /// `off`, `on` or `mutual`, for the log.
    tls: &'static str,
    metrics: Option<MetricsEndpoint>,
}

/// The admin listener for `/metrics`.
#[derive(Debug)]
struct MetricsEndpoint {
    metrics: Metrics,
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl Application {
    /// Loads the catalogue and the TLS files, builds every service and binds
    /// the listeners, so that all start-up errors surface before anything is
    /// served and port 0 resolves to a real port.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let catalog = match &config.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::notes(),
        };
        let books = catalog.iter().count();

        let tls_files = TlsFiles::from_config(config)?;
        let tls_config = tls_files.as_ref().map(TlsFiles::load).transpose()?;
        let tls = match &tls_files {
            None => "off",
            Some(files) if files.is_mutual() => "mutual",
            Some(_) => "on",
        };
        let transport = Transport::new(
            Http2Settings {
                max_concurrent_streams: config.max_concurrent_streams.get(),
                keepalive_interval: Duration::from_secs(config.http2_keepalive_interval.get()),
                keepalive_timeout: Duration::from_secs(config.http2_keepalive_timeout.get()),
            },
            tls_config,
        );

        let metrics = config.metrics_listen.map(|_| Metrics::new());
        let recommendations = RecommendationService::new(Arc::new(catalog))
            .with_max_page(config.max_page)
            .with_call_slots(CallSlots::new(config.max_concurrent_calls).counted(
                metrics.clone(),
                RecommendationsServer::<RecommendationService>::NAME,
            ));
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<RecommendationsServer<RecommendationService>>()
            .await;
        let services = Services::new(
            recommendations,
            Routes::new(health_service)
                .add_service(reflection().build_v1()?)
                .add_service(reflection().build_v1alpha()?),
        );

        let (listener, local_addr) = service_kit::bind(config.listen).await?;
        let metrics = match (config.metrics_listen, metrics) {
            (Some(addr), Some(metrics)) => {
                let (listener, local_addr) = service_kit::bind(addr).await?;
                Some(MetricsEndpoint {
                    metrics,
                    listener,
                    local_addr,
                })
            }
            _ => None,
        };
        Ok(Self {
            listener,
            local_addr,
            transport,
            services,
            books,
            tls,
            metrics,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address `/metrics` is served on, when `--metrics-listen` is given.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|endpoint| endpoint.local_addr)
    }

    /// Serves until `shutdown` completes, then stops accepting calls, lets the
    /// calls in flight finish and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        tracing::info!(addr = %self.local_addr, books = self.books, tls = %self.tls, "listening");
        let (stopping, stopped) = tokio::sync::watch::channel(());
        let metrics = self
            .metrics
            .as_ref()
            .map(|endpoint| endpoint.metrics.clone());
        let admin = self.metrics.map(|endpoint| {
            tracing::info!(addr = %endpoint.local_addr, "metrics");
            let mut stopped = stopped.clone();
            tokio::spawn(endpoint.metrics.serve(endpoint.listener, async move {
                let _ = stopped.changed().await;
            }))
        });
        // Outermost first: gRPC-Web is translated to gRPC before anything
        // looks at the call, so that both protocols get request ids and are
        // logged, counted, limited and checked alike; requests that are
        // neither are refused inside, so that they are logged and counted,
        // and so is a deadline's DEADLINE_EXCEEDED, answered innermost.
        let services = ServiceBuilder::new()
            // The answer's future is boxed so that the task hyper spawns for
            // each call stays small. tokio aligns tasks to 128 bytes, and
            // with the whole answer inline a task fell into a size class that
            // made mimalloc free and take fresh pages over and over at 64
            // calls in flight: 2,600 instructions a call more than the box.
            .map_future(|answer| -> BoxFuture<_, Infallible> { Box::pin(answer) })
            .map_request(|request: Request<Incoming>| request.map(Body::new))
            .layer(GrpcWebEdgeLayer)
            .layer(ObserveLayer::new(metrics))
            .layer(ValidateRequestHeaderLayer::custom(refuse_non_grpc))
            .layer(DeadlineLayer)
            .service(self.services);
        self.transport
            .serve(self.listener, services, async {
                shutdown.await;
                tracing::info!("shutting down: finishing calls in flight");
                let _ = stopping.send(());
            })
            .await;
        if let Some(admin) = admin {
            match admin.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(%error, "the metrics listener failed"),
                Err(error) => tracing::error!(%error, "the metrics listener panicked"),
            }
        }
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
