//! Everything that can stop a page, and the one place it becomes an HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tonic::Code;

use crate::recommendations::RecommendationsError;
use crate::selection::BadQuery;

/// Seconds a client is told to wait before retrying when the service is down.
const RETRY_AFTER_SECONDS: &str = "5";

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The query string asks for something the page cannot give; the message
    /// says what to fix and is shown to the reader.
    #[error("{0}")]
    BadQuery(String),
    /// `/category/{slug}` with a slug that names no category.
    #[error("no category is called {0:?}")]
    UnknownCategory(String),
    /// No page at this path.
    #[error("no page at {0}")]
    NotFound(String),
    /// The Recommendations service gave no books.
    #[error(transparent)]
    Recommendations(#[from] RecommendationsError),
    /// A template failed to render: a bug of ours, never shown in detail.
    #[error("cannot render the page: {0}")]
    Render(#[from] tera::Error),
}

/// What the reader is told: the status, a headline and what to do next.
struct Outcome {
    status: StatusCode,
    headline: &'static str,
    message: String,
}

const UNAVAILABLE: &str = "Recommendations are unavailable right now, please try again shortly.";

impl From<BadQuery> for PageError {
    fn from(BadQuery(message): BadQuery) -> Self {
        PageError::BadQuery(message)
    }
}

impl PageError {
    /// The one mapping from errors to statuses and reader-facing words.
    /// Details of the service's failures go to the log, never to the page.
    fn outcome(&self) -> Outcome {
        let outcome = |status, headline, message: &str| Outcome {
            status,
            headline,
            message: message.to_owned(),
        };
        match self {
            PageError::BadQuery(message) => {
                outcome(StatusCode::BAD_REQUEST, "Bad request", message)
            }
            PageError::UnknownCategory(slug) => Outcome {
                status: StatusCode::NOT_FOUND,
                headline: "No such category",
                message: format!(
                    "There is no category called \u{201c}{slug}\u{201d}. \
                     Pick one of the shelves above: mystery, science fiction or self-help."
                ),
            },
            PageError::NotFound(_) => outcome(
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no page here. The shelves above lead to the books.",
            ),
            PageError::Recommendations(RecommendationsError::Timeout(_)) => outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "Recommendations unavailable",
                UNAVAILABLE,
            ),
            PageError::Recommendations(RecommendationsError::Status(status)) => {
                match status.code() {
                    Code::InvalidArgument => outcome(
                        StatusCode::BAD_REQUEST,
                        "Bad request",
                        "The Recommendations service refused this request: \
                         check the reader number and the number of books.",
                    ),
                    Code::NotFound => outcome(
                        StatusCode::NOT_FOUND,
                        "Nothing found",
                        "The Recommendations service does not know this category.",
                    ),
                    // Down, slow, overloaded or unreachable (tonic reports
                    // connection failures as UNAVAILABLE or UNKNOWN): transient.
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Cancelled
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::Unknown => outcome(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Recommendations unavailable",
                        UNAVAILABLE,
                    ),
                    _ => outcome(
                        StatusCode::BAD_GATEWAY,
                        "Recommendations failed",
                        "The Recommendations service could not answer, please try again later.",
                    ),
                }
            }
            PageError::Render(_) => outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "This page could not be shown, please try again later.",
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let Outcome {
            status,
            headline,
            message,
        } = self.outcome();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "page failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "page refused");
        }
        let body = crate::pages::render_error(headline, &message).unwrap_or_else(|error| {
            // Only reachable through a template bug, which the tests catch;
            // still answer with the right status and no details.
            tracing::error!(%error, "cannot render the error page");
            format!(
                "<!doctype html><title>{}</title><p>{headline}</p>",
                status.as_u16()
            )
        });
        let mut response = (status, Html(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn status_of(error: PageError) -> StatusCode {
        error.into_response().status()
    }

    fn grpc(code: Code) -> PageError {
        PageError::Recommendations(RecommendationsError::Status(tonic::Status::new(
            code,
            "secret internals",
        )))
    }

    #[test]
    fn service_failures_map_to_the_statuses_the_reader_can_act_on() {
        assert_eq!(
            status_of(grpc(Code::Unavailable)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(grpc(Code::DeadlineExceeded)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(grpc(Code::InvalidArgument)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status_of(grpc(Code::NotFound)), StatusCode::NOT_FOUND);
        assert_eq!(status_of(grpc(Code::Internal)), StatusCode::BAD_GATEWAY);
        let timeout = RecommendationsError::Timeout(Duration::from_secs(1));
        assert_eq!(status_of(timeout.into()), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn no_failure_of_the_service_becomes_a_500() {
        for code in (0..=16)
            .map(Code::from_i32)
            .filter(|&code| code != Code::Ok)
        {
            assert_ne!(
                status_of(grpc(code)),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{code:?}"
            );
        }
    }

    #[test]
    fn an_unavailable_page_says_to_retry_and_hides_the_details() {
        let response = grpc(Code::Unavailable).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS);
        let outcome = grpc(Code::Unavailable).outcome();
        assert_eq!(outcome.message, UNAVAILABLE);
        assert!(!outcome.message.contains("secret"));
    }

    #[test]
    fn a_bad_query_shows_what_to_fix() {
        let outcome = PageError::BadQuery("max must be from 1 to 20".to_owned()).outcome();
        assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
        assert_eq!(outcome.message, "max must be from 1 to 20");
        let outcome = PageError::from(BadQuery("user must be a number".to_owned())).outcome();
        assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
        assert_eq!(outcome.message, "user must be a number");
    }
}
