use std::sync::Arc;

use recommendations_proto::recommendations_server::Recommendations;
use recommendations_proto::{BookRecommendation, RecommendationRequest, RecommendationResponse};
use recommender::{Catalog, Category, RecommendError};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::config::{DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_PAGE};
use crate::observe::REQUEST_ID;
use crate::shed::CallSlots;

/// The `Recommendations` service over a shared catalogue.
#[derive(Debug, Clone)]
pub struct RecommendationService {
    catalog: Arc<Catalog>,
    max_page: i32,
    /// Calls that may run at once; beyond them, calls are shed.
    slots: CallSlots,
    /// Selections that may run on the blocking pool at once, finished or abandoned.
    blocking_selections: Arc<Semaphore>,
}

impl RecommendationService {
    /// The service answering from `catalog`, with the default limits.
    #[must_use]
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            max_page: DEFAULT_MAX_PAGE,
            slots: CallSlots::new(DEFAULT_MAX_CONCURRENT_CALLS),
            blocking_selections: Arc::new(Semaphore::new(DEFAULT_MAX_CONCURRENT_CALLS.get())),
        }
    }

    /// At most `max_page` books per call: larger requests are served as this
    /// many (AIP-158 coercion). Must be at least 1.
    #[must_use]
    pub fn with_max_page(self, max_page: i32) -> Self {
        assert!(max_page >= 1, "max_page must be at least 1, got {max_page}");
        Self { max_page, ..self }
    }

    /// At most as many calls as `slots` has run at once, and as many large
    /// selections on the blocking pool, finished or abandoned.
    #[must_use]
    pub fn with_call_slots(self, slots: CallSlots) -> Self {
        Self {
            blocking_selections: Arc::new(Semaphore::new(slots.limit())),
            slots,
            ..self
        }
    }

    /// Answers one `Recommend` call: the trait's method, without the box
    /// `async_trait` puts its future in (the server boxes this future once,
    /// in [`RecommendMethod`](crate::recommend::RecommendMethod)).
    // At debug level: a span per call at info would cost more than the
    // answer; the call's debug `grpc` span names it in every debug line.
    #[tracing::instrument(
        name = "recommend",
        level = "debug",
        skip_all,
        fields(
            user_id = request.get_ref().user_id,
            category = request.get_ref().category,
            max_results = request.get_ref().max_results,
        )
    )]
    pub async fn answer(
        &self,
        request: Request<RecommendationRequest>,
    ) -> Result<Response<RecommendationResponse>, Status> {
        // Held until the answer is ready, or the call is dropped.
        let _slot = self.slots.take()?;
        let (metadata, _, message) = request.into_parts();
        let RecommendationRequest {
            user_id,
            category,
            max_results,
        } = message;
        tracing::debug!("received");
        // AIP-158: a page larger than the limit is served as the limit, so no
        // request costs more than `max_page` books. Negative values pass
        // through to the core, which refuses them as before.
        let page = max_results.min(self.max_page);
        if page < max_results {
            tracing::debug!(page, "max_results coerced to the page limit");
        }
        let select = {
            let catalog = Arc::clone(&self.catalog);
            move || recommendations_for(&catalog, user_id, category, page)
        };
        // Selection costs O(page): microseconds for the default limit, answered
        // here. A server configured with a larger --max-page runs big pages on
        // the blocking pool so they do not hold a runtime worker. A blocking
        // task cannot be stopped: when its caller cancels or its deadline
        // passes, tonic drops this future and the task runs on to the end of
        // its (bounded) page, its answer discarded. The permit moved into the
        // task keeps such orphans to --max-concurrent-calls at a time, so
        // cancelling in a loop cannot pile up work; waiting for the permit is
        // itself cancellable.
        let recommendations = if page <= INLINE_SELECTION_LIMIT {
            select()
        } else {
            let permit = Arc::clone(&self.blocking_selections)
                .acquire_owned()
                .await
                .map_err(|_| Status::unavailable("the server is shutting down"))?;
            tokio::task::spawn_blocking(move || {
                let answer = select();
                drop(permit);
                answer
            })
            .await
            .map_err(|_| Status::internal("the selection was interrupted"))?
        }
        .map_err(|error| {
            let request_id = metadata
                .get(REQUEST_ID.as_str())
                .and_then(|id| id.to_str().ok());
            status_for(&error, request_id.unwrap_or("-"))
        })?;
        tracing::debug!(returned = recommendations.len(), "answered");
        Ok(Response::new(RecommendationResponse { recommendations }))
    }
}

#[tonic::async_trait]
impl Recommendations for RecommendationService {
    async fn recommend(
        &self,
        request: Request<RecommendationRequest>,
    ) -> Result<Response<RecommendationResponse>, Status> {
        self.answer(request).await
    }
}

/// Requests for at most this many books are answered on the async worker.
const INLINE_SELECTION_LIMIT: i32 = 1024;

fn recommendations_for(
    catalog: &Catalog,
    user_id: i32,
    category: i32,
    max_results: i32,
) -> Result<Vec<BookRecommendation>, RecommendError> {
    let category = Category::try_from(category)?;
    let books = catalog.recommend(user_id, category, max_results)?;
    Ok(books
        .into_iter()
        .map(|book| BookRecommendation {
            id: book.id,
            title: book.title.clone(),
        })
        .collect())
}

/// The one place core errors become gRPC statuses. Both are the caller's
/// mistake, so the message says what to fix and nothing internal. The log
/// line names the call by its request id, as its access line does.
fn status_for(error: &RecommendError, request_id: &str) -> Status {
    match error {
        RecommendError::UnknownCategory(unknown) => {
            // The notes' message goes to the caller; the log says which number.
            tracing::info!(request_id, error = %unknown, "refused");
            Status::not_found(error.to_string())
        }
        RecommendError::NegativeMaxResults(_) => {
            tracing::info!(request_id, %error, "refused");
            Status::invalid_argument(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn service() -> RecommendationService {
        RecommendationService::new(Arc::new(Catalog::notes()))
    }

    async fn call(
        user_id: i32,
        category: i32,
        max_results: i32,
    ) -> Result<RecommendationResponse, Status> {
        let request = Request::new(RecommendationRequest {
            user_id,
            category,
            max_results,
        });
        service().recommend(request).await.map(Response::into_inner)
    }

    #[tokio::test]
    async fn the_notes_unit_test_gets_one_book() {
        let response = call(1, 0, 1).await.unwrap();
        assert_eq!(response.recommendations.len(), 1);
    }

    #[tokio::test]
    async fn answers_match_the_core() {
        let response = call(42, 2, 2).await.unwrap();
        let expected: Vec<_> = Catalog::notes()
            .recommend(42, Category::SelfHelp, 2)
            .unwrap()
            .into_iter()
            .map(|book| (book.id, book.title.clone()))
            .collect();
        let actual: Vec<_> = response
            .recommendations
            .into_iter()
            .map(|book| (book.id, book.title))
            .collect();
        assert_eq!(actual, expected);
    }

    #[tokio::test]
    async fn an_unknown_category_is_not_found_with_the_notes_message() {
        let status = call(1, 3, 1).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "Category not found");
    }

    #[tokio::test]
    async fn a_page_over_the_limit_is_coerced_to_the_limit() {
        let big = Catalog::from_json(
            &format!(
                r#"{{"books":[{}]}}"#,
                (1..=50)
                    .map(|id| format!(r#"{{"id":{id},"category":"MYSTERY","title":"B{id}"}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "generated",
        )
        .unwrap();
        let service = RecommendationService::new(Arc::new(big.clone())).with_max_page(7);
        let ask = |max_results| {
            service.recommend(Request::new(RecommendationRequest {
                user_id: 9,
                category: 0,
                max_results,
            }))
        };
        let ids = |response: Response<RecommendationResponse>| {
            response
                .into_inner()
                .recommendations
                .into_iter()
                .map(|book| book.id)
                .collect::<Vec<_>>()
        };
        let limit: Vec<_> = big
            .recommend(9, Category::Mystery, 7)
            .unwrap()
            .iter()
            .map(|book| book.id)
            .collect();
        assert_eq!(ids(ask(i32::MAX).await.unwrap()), limit);
        assert_eq!(ids(ask(8).await.unwrap()), limit);
        assert_eq!(ids(ask(7).await.unwrap()), limit);
        assert_eq!(ids(ask(3).await.unwrap()), limit[..3]);
        let status = ask(-1).await.unwrap_err();
        assert_eq!(status.message(), "max_results must be zero or more, got -1");
    }

    #[tokio::test]
    async fn a_negative_max_results_is_an_invalid_argument() {
        let status = call(1, 0, -1).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "max_results must be zero or more, got -1");
    }
}
