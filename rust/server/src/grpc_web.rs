use std::fmt::{self, Display};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http::{Request, Response, header};
use http_body_util::Either;
use pin_project_lite::pin_project;
use tonic::body::Body;
use tonic_web::{GrpcWebLayer, ResponseFuture};
use tower::{BoxError, Layer, Service};

use crate::content_type::is_grpc_web;

/// Marks a request that arrived as gRPC-Web and was translated to gRPC, so
/// that the content-type check admits it over HTTP/1.1.
#[derive(Debug, Clone, Copy)]
pub struct ArrivedAsGrpcWeb;

/// Translates gRPC-Web to gRPC on the way in, and the answer back on the way
/// out, with tonic-web; every other request passes untouched.
///
/// It goes in front of everything else but the request ids, so that the
/// access log, the metrics, the concurrency limit, the content-type check and
/// every service see one protocol, and the status in the trailers, whichever
/// the caller spoke. Unlike tonic-web's own layer used server-wide, it leaves
/// requests that are not gRPC-Web to the content-type check, which refuses
/// them with a status that says why, instead of a bare HTTP 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcWebEdgeLayer;

impl<S> Layer<S> for GrpcWebEdgeLayer {
    type Service = GrpcWebEdge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcWebEdge { inner }
    }
}

/// The service [`GrpcWebEdgeLayer`] makes.
#[derive(Debug, Clone)]
pub struct GrpcWebEdge<S> {
    inner: S,
}

impl<S, ResBody> Service<Request<Body>> for GrpcWebEdge<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError> + Display,
{
    type Response = Response<EdgeBody<ResBody>>;
    type Error = S::Error;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone made ready by `poll_ready` serves this call.
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        let web = request
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(is_grpc_web);
        if web {
            request.extensions_mut().insert(ArrivedAsGrpcWeb);
            EdgeFuture {
                answer: Answer::Web {
                    answer: GrpcWebLayer::new().layer(ready).call(request),
                },
            }
        } else {
            EdgeFuture {
                answer: Answer::Grpc {
                    answer: ready.call(request),
                },
            }
        }
    }
}

/// The body of an answer under [`GrpcWebEdge`]: tonic-web's, translated
/// back to gRPC-Web, or the service's own. Not boxed into a `tonic` body as
/// tonic-web's is: that was an allocation, and a dynamic call for each of
/// the answer's frames (about 190 instructions a call).
pub type EdgeBody<B> = Either<Body, B>;

pin_project! {
    /// A call's answer under [`GrpcWebEdge`]: translated back to gRPC-Web
    /// when it came as that, else as it is. Not boxed, as it is made for
    /// every call.
    pub struct EdgeFuture<F> {
        #[pin]
        answer: Answer<F>,
    }
}

pin_project! {
    #[project = AnswerProjection]
    enum Answer<F> {
        // tonic-web's, which translates it back.
        Web { #[pin] answer: ResponseFuture<F> },
        Grpc { #[pin] answer: F },
    }
}

impl<F> fmt::Debug for EdgeFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.answer {
            Answer::Web { .. } => "EdgeFuture(gRPC-Web)",
            Answer::Grpc { .. } => "EdgeFuture(gRPC)",
        })
    }
}

impl<F, ResBody, E> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError> + Display,
{
    type Output = Result<Response<EdgeBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().answer.project() {
            AnswerProjection::Web { answer } => answer
                .poll(cx)
                .map(|answered| Ok(answered?.map(Either::Left))),
            AnswerProjection::Grpc { answer } => answer
                .poll(cx)
                .map(|answered| Ok(answered?.map(Either::Right))),
        }
    }
}
