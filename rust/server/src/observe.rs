use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Bytes;
use http::header::Entry;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;
use tower::{Layer, Service};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use crate::metrics::{Method, Metrics};

/// The `tracing` target of the access log's lines (this module's path).
pub const ACCESS_LOG_TARGET: &str = module_path!();

/// The metadata key that carries a call's request id, both ways.
///
/// Header names, here and for every lookup on the per-call path, are
/// constants rather than strings: a lookup by `&str` parses and validates the
/// name first, about 400 instructions each time.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A fresh request id: a random (v4) UUID, lowercase and hyphenated, as
/// tower-http's `MakeRequestUuid` makes them. It is written straight into
/// the header value's one allocation, which later clones share, instead of
/// formatting a `String`, parsing it into a copy, and allocating again for
/// that copy's first clone.
fn new_request_id() -> HeaderValue {
    let mut id = [0; Hyphenated::LENGTH];
    Uuid::new_v4().hyphenated().encode_lower(&mut id);
    HeaderValue::from_maybe_shared(Bytes::from_owner(id))
        .expect("a hyphenated UUID is a valid header value")
}

/// The trailer (or, for a bare status, header) that carries a call's status.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// Observes every call: one access log line with its path and request id
/// when it ends, its metrics, and at debug level a `grpc` span with the same
/// fields around all it logs. It gives a call without an `x-request-id` a
/// fresh one (the service passes it on in its own logs and errors) and sends
/// the call's id back in the answer's headers.
///
/// The span is at debug level, as tower-http's `TraceLayer` makes its own:
/// at info it cost about 4,000 instructions a call, 6% of the server's (the
/// span's creation, the formatting of its fields, entering and leaving it at
/// every poll).
///
/// A call ends at its gRPC status: in the response headers when the answer is
/// a bare status, else in the trailers after the body. A call whose future or
/// body is dropped first (the client cancelled, its deadline passed, the
/// connection broke) ends as `CANCELLED`, so the in-flight gauge always comes
/// back down and no call goes unlogged.
///
/// Making the id here, and sending it back, rather than with tower-http's
/// `SetRequestIdLayer` and `PropagateRequestIdLayer`, spares two layers'
/// work and the allocations of the extension maps they keep the id in, which
/// nothing here reads. The id goes back marked sensitive, so that HTTP/2
/// sends it as a literal rather than adding every new id to the connection's
/// header compression table (about 1,400 instructions more an answer).
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Option<Metrics>,
}

impl ObserveLayer {
    /// Observes calls, and counts them in `metrics` when given.
    #[must_use]
    pub fn new(metrics: Option<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`ObserveLayer`] makes.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Option<Metrics>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Observe<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let request_id = request
            .headers_mut()
            .entry(REQUEST_ID)
            .or_insert_with(new_request_id)
            .clone();
        let call = Call::start(&request, request_id, self.metrics.clone());
        Observed {
            answer: self.inner.call(request),
            call: Some(call),
        }
    }
}

pin_project! {
    /// A call's answer under [`Observe`], polled in the call's span. Not
    /// boxed, as it is made for every call.
    #[derive(Debug)]
    pub struct Observed<F> {
        #[pin]
        answer: F,
        // Taken when the answer is in. Dropped before, it ends the call as
        // cancelled.
        call: Option<Call>,
    }
}

impl<F, ResBody, E> Future for Observed<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ObservedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = {
            let call = this.call.as_ref().expect("polled after its answer was in");
            let _entered = call.span.enter();
            std::task::ready!(this.answer.poll(cx))
        };
        let call = this.call.take().expect("checked above");
        // An error drops `call`, which ends it as cancelled.
        Poll::Ready(answer.map(|response| call.watch(response)))
    }
}

/// One call, from its start until its status is known or it is abandoned.
#[derive(Debug)]
struct Call {
    method: Method,
    /// For the access line, when the method is not a served one (whose
    /// path is a constant): cheap to keep (reference-counted bytes).
    unknown_path: Option<PathAndQuery>,
    request_id: HeaderValue,
    span: tracing::Span,
    started: Instant,
    metrics: Option<Metrics>,
    ended: bool,
}

impl Call {
    fn start<B>(request: &Request<B>, request_id: HeaderValue, metrics: Option<Metrics>) -> Self {
        let path = request.uri().path();
        let method = Method::of_path(path);
        if let Some(metrics) = &metrics {
            metrics.started(method);
        }
        Self {
            method,
            span: tracing::debug_span!("grpc", path, request_id = printable(&request_id)),
            unknown_path: match method.path() {
                Some(_) => None,
                None => request.uri().path_and_query().cloned(),
            },
            request_id,
            started: Instant::now(),
            metrics,
            ended: false,
        }
    }

    /// Sends the request id back, then ends the call now if the headers
    /// carry its status, else hands it to the body, which ends it at the
    /// trailers.
    fn watch<B>(mut self, mut response: Response<B>) -> Response<ObservedBody<B>> {
        if let Entry::Vacant(entry) = response.headers_mut().entry(REQUEST_ID) {
            let mut id = self.request_id.clone();
            id.set_sensitive(true);
            entry.insert(id);
        }
        let call = match status_in(response.headers()) {
            Some(code) => {
                self.end(code);
                None
            }
            None => Some(self),
        };
        response.map(|inner| ObservedBody { inner, call })
    }

    fn end(&mut self, code: Code) {
        if self.ended {
            return;
        }
        self.ended = true;
        let elapsed = self.started.elapsed();
        if let Some(metrics) = &self.metrics {
            metrics.handled(self.method, code, elapsed);
        }
        tracing::info!(
            parent: &self.span,
            path = self
                .method
                .path()
                .or_else(|| self.unknown_path.as_ref().map(PathAndQuery::path))
                .unwrap_or(""),
            request_id = printable(&self.request_id),
            code = ?code,
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "handled"
        );
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.end(Code::Cancelled);
    }
}

/// A request id as the log shows it: `-` when it is not visible ASCII.
fn printable(request_id: &HeaderValue) -> &str {
    request_id.to_str().unwrap_or("-")
}

/// The gRPC status in a header or trailer block, if there is one.
fn status_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(&GRPC_STATUS)
        .map(|status| Code::from_bytes(status.as_bytes()))
}

/// A response body that ends its call when the trailers pass through.
#[derive(Debug)]
pub struct ObservedBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> Body for ObservedBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        let code = match &frame {
            Some(Ok(frame)) => frame.trailers_ref().and_then(status_in),
            // A stream that ends or fails without a status is not a proper gRPC answer.
            Some(Err(_)) | None => Some(Code::Unknown),
        };
        if let Some(code) = code
            && let Some(mut call) = self.call.take()
        {
            call.end(code);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_request_ids_are_distinct_random_uuids_in_their_usual_form() {
        let ids: Vec<String> = (0..3)
            .map(|_| new_request_id().to_str().unwrap().to_owned())
            .collect();
        for id in &ids {
            let uuid = Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(*id, uuid.hyphenated().to_string(), "lowercase, hyphenated");
        }
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{ids:?}"
        );
    }
}
