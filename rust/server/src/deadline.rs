use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderName, Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tonic::Status;
use tower::{Layer, Service};

/// Answers `DEADLINE_EXCEEDED` when a call's `grpc-timeout` passes, as the
/// gRPC protocol asks of a server, and drops the call's work.
///
/// tonic's own deadline, outside every layer, answers `CANCELLED` ("Timeout
/// expired"): clients then see a code that says someone gave up rather than
/// that time ran out, and whichever of the two answers reached a client
/// first decided which it saw. This layer's timer is set a millisecond
/// short of tonic's, so it always fires first; the access log and the
/// metrics, outside it, then record the call as `DeadlineExceeded`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline { inner }
    }
}

/// The service [`DeadlineLayer`] makes. Place it inside the access log, so
/// that the log and the metrics see the status it answers.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
}

/// The header that carries a call's deadline, as a timeout.
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// How much sooner than tonic's timer this one fires.
const AHEAD_OF_TONIC: Duration = Duration::from_millis(1);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Deadline<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = WithinDeadline<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let timeout = request
            .headers()
            .get(&GRPC_TIMEOUT)
            .and_then(|value| value.to_str().ok())
            .and_then(service_kit::parse_grpc_timeout);
        WithinDeadline {
            answer: self.inner.call(request),
            timer: timeout
                .map(|timeout| tokio::time::sleep(timeout.saturating_sub(AHEAD_OF_TONIC))),
            timeout: timeout.unwrap_or_default(),
        }
    }
}

pin_project! {
    /// A call's answer under [`Deadline`], or `DEADLINE_EXCEEDED` if its
    /// timer fires first. Not boxed, as it is made for every call.
    #[derive(Debug)]
    pub struct WithinDeadline<F> {
        #[pin]
        answer: F,
        // None when the call has no deadline.
        #[pin]
        timer: Option<Sleep>,
        timeout: Duration,
    }
}

impl<F, ResBody, E> Future for WithinDeadline<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The answer first, as tokio's `timeout` does: one ready in time wins.
        if let Poll::Ready(answered) = this.answer.poll(cx) {
            return Poll::Ready(answered);
        }
        let Some(timer) = this.timer.as_pin_mut() else {
            return Poll::Pending;
        };
        std::task::ready!(timer.poll(cx));
        Poll::Ready(Ok(Status::deadline_exceeded(format!(
            "the call's deadline of {:?} passed before its answer was ready",
            this.timeout
        ))
        .into_http()))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tonic::Code;
    use tower::ServiceExt;

    use super::*;

    fn call_with(timeout: Option<&'static str>, work: Duration) -> Response<String> {
        let slow = tower::service_fn(move |_: Request<()>| async move {
            tokio::time::sleep(work).await;
            Ok::<_, Infallible>(Response::new("answer".to_owned()))
        });
        let mut request = Request::new(());
        if let Some(timeout) = timeout {
            request
                .headers_mut()
                .insert("grpc-timeout", timeout.parse().unwrap());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime
            .block_on(DeadlineLayer.layer(slow).oneshot(request))
            .unwrap()
    }

    #[test]
    fn a_call_past_its_deadline_is_answered_deadline_exceeded() {
        let response = call_with(Some("50m"), Duration::from_secs(1));
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert!(status.message().contains("50ms"), "{}", status.message());
    }

    #[test]
    fn calls_within_their_deadline_or_without_one_get_their_answer() {
        assert_eq!(
            call_with(Some("2S"), Duration::from_millis(10)).body(),
            "answer"
        );
        assert_eq!(call_with(None, Duration::from_millis(10)).body(), "answer");
        assert_eq!(
            call_with(Some("1m"), Duration::ZERO).body(),
            "answer",
            "work that is ready at once beats even a tiny deadline"
        );
        assert_eq!(
            call_with(Some("bogus"), Duration::from_millis(10)).body(),
            "answer"
        );
    }
}
