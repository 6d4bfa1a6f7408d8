//! gRPC-Web for the marketplace's pages: `POST /Recommendations/Recommend`
//! on the marketplace's own origin, so a page needs no CORS. Each call is
//! forwarded to the Recommendations service over the marketplace's one
//! channel, so it gets what the shelves get: TLS, `dns:///` balancing, the
//! deadline, the metrics and the request id.

use std::time::Duration;

use recommendations_proto::recommendations_server::{self, RecommendationsServer};
use recommendations_proto::{RecommendationRequest, RecommendationResponse};
use tonic::metadata::MetadataMap;
use tonic_web::{GrpcWebLayer, GrpcWebService};
use tower::Layer;

use crate::recommendations::Recommendations;
use crate::request_id;

/// The path of the contract's one method, where the marketplace answers it.
pub const RECOMMEND_PATH: &str = "/Recommendations/Recommend";

/// The contract's service, each call forwarded to the Recommendations service.
#[derive(Debug, Clone)]
pub struct Forwarder {
    recommendations: Recommendations,
}

impl Forwarder {
    /// Forwards over `recommendations`.
    #[must_use]
    pub fn new(recommendations: Recommendations) -> Self {
        Self { recommendations }
    }
}

#[tonic::async_trait]
impl recommendations_server::Recommendations for Forwarder {
    async fn recommend(
        &self,
        request: tonic::Request<RecommendationRequest>,
    ) -> Result<tonic::Response<RecommendationResponse>, tonic::Status> {
        let deadline = caller_deadline(request.metadata());
        // The request's id (its own or a fresh one) was set as a header by
        // the router's layers, so it is in the metadata.
        let request_id = request
            .metadata()
            .get(request_id::HEADER.as_str())
            .and_then(|id| id.to_str().ok())
            .map(str::to_owned);
        let answer = self
            .recommendations
            .forward(request.into_inner(), request_id.as_deref(), deadline)
            .await?;
        Ok(tonic::Response::new(answer))
    }
}

/// The service the router mounts at [`RECOMMEND_PATH`]: gRPC-Web in and out
/// (tonic-web), the contract's server inside.
#[must_use]
pub fn service(
    recommendations: Recommendations,
) -> GrpcWebService<RecommendationsServer<Forwarder>> {
    GrpcWebLayer::new().layer(RecommendationsServer::new(Forwarder::new(recommendations)))
}

/// The caller's deadline, from its `grpc-timeout` header. A malformed one is
/// ignored, as if absent: the marketplace's own deadline still bounds the call.
fn caller_deadline(metadata: &MetadataMap) -> Option<Duration> {
    service_kit::parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataValue;

    use super::*;

    #[test]
    fn the_callers_deadline_is_read_from_its_grpc_timeout_metadata() {
        let mut metadata = MetadataMap::new();
        assert_eq!(caller_deadline(&metadata), None);
        metadata.insert("grpc-timeout", MetadataValue::from_static("250m"));
        assert_eq!(caller_deadline(&metadata), Some(Duration::from_millis(250)));
        metadata.insert("grpc-timeout", MetadataValue::from_static("10s"));
        assert_eq!(caller_deadline(&metadata), None);
    }
}
