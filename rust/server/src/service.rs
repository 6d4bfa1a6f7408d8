use std::sync::Arc;

use recommendations_proto::recommendations_server::Recommendations;
use recommendations_proto::{BookRecommendation, RecommendationRequest, RecommendationResponse};
use recommender::{Catalog, Category, RecommendError};
use tonic::{Request, Response, Status};

/// The `Recommendations` service over a shared catalogue.
#[derive(Debug, Clone)]
pub struct RecommendationService {
    catalog: Arc<Catalog>,
}

impl RecommendationService {
    /// The service answering from `catalog`.
    #[must_use]
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog }
    }
}

#[tonic::async_trait]
impl Recommendations for RecommendationService {
    #[tracing::instrument(
        name = "recommend",
        skip_all,
        fields(
            user_id = request.get_ref().user_id,
            category = request.get_ref().category,
            max_results = request.get_ref().max_results,
        )
    )]
    async fn recommend(
        &self,
        request: Request<RecommendationRequest>,
    ) -> Result<Response<RecommendationResponse>, Status> {
        let RecommendationRequest {
            user_id,
            category,
            max_results,
        } = request.into_inner();
        tracing::debug!("received");
        let select = {
            let catalog = Arc::clone(&self.catalog);
            move || recommendations_for(&catalog, user_id, category, max_results)
        };
        // Selection costs O(max_results): microseconds for a page of books, but
        // a huge request would hold a runtime worker and delay other calls and
        // shutdown signals, so large ones run on the blocking pool.
        let recommendations = if max_results <= INLINE_SELECTION_LIMIT {
            select()
        } else {
            tokio::task::spawn_blocking(select)
                .await
                .map_err(|_| Status::internal("the selection was interrupted"))?
        }
        .map_err(|error| status_for(&error))?;
        tracing::debug!(returned = recommendations.len(), "answered");
        Ok(Response::new(RecommendationResponse { recommendations }))
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
/// mistake, so the message says what to fix and nothing internal.
fn status_for(error: &RecommendError) -> Status {
    match error {
        RecommendError::UnknownCategory(unknown) => {
            // The notes' message goes to the caller; the log says which number.
            tracing::info!(error = %unknown, "refused");
            Status::not_found(error.to_string())
        }
        RecommendError::NegativeMaxResults(_) => {
            tracing::info!(%error, "refused");
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
    async fn a_negative_max_results_is_an_invalid_argument() {
        let status = call(1, 0, -1).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "max_results must be zero or more, got -1");
    }
}
