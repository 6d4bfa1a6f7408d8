//! Request ids: every request gets one, from its `x-request-id` header or a
//! fresh UUID; the request's log line and its response carry it, and the
//! call to the Recommendations service passes it on.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tracing::Span;

/// The header that carries the request id, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Gives a request without an id a fresh UUID; outermost, so everything
/// inside sees the id.
#[must_use]
pub fn set_layer() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(HEADER, MakeRequestUuid)
}

/// Copies the request's id to its response.
#[must_use]
pub fn propagate_layer() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(HEADER)
}

/// The request's id, when it is text (an id from the client may not be).
#[must_use]
pub fn of(request: &Request) -> Option<&str> {
    request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::header_value)
        .and_then(|value| HeaderValue::to_str(value).ok())
}

/// The span of one request: method, URI, version and request id, so the
/// request's log line names its id.
pub fn span(request: &Request) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        version = ?request.version(),
        request_id = %of(request).unwrap_or("-"),
    )
}
