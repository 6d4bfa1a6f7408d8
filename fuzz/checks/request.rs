//! What the `request` fuzz target checks on every input. The regression test
//! `rust/server/tests/fuzz_regressions.rs` includes this same file and replays
//! `fuzz/regressions/request/` through it, so `cargo test` holds every input
//! the fuzzer ever broke.

use std::sync::{Arc, LazyLock};

use prost::Message;
use recommendations_proto::RecommendationRequest;
use recommendations_proto::recommendations_server::Recommendations;
use recommendations_server::config::DEFAULT_MAX_PAGE;
use recommendations_server::service::RecommendationService;
use recommender::{Catalog, Category};
use tonic::{Code, Request};

/// One runtime for every input: building one per call would dominate the run.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
});

/// The notes' mysteries, a science-fiction shelf larger than a page, and no
/// self-help: small, over-the-limit and empty categories in one catalogue.
static CATALOG: LazyLock<Arc<Catalog>> = LazyLock::new(|| {
    let mut books: Vec<String> = Catalog::notes()
        .books(Category::Mystery)
        .iter()
        .map(|book| {
            format!(
                r#"{{"id":{},"category":"MYSTERY","title":"{}"}}"#,
                book.id, book.title
            )
        })
        .collect();
    books
        .extend((100..1_600).map(|id| {
            format!(r#"{{"id":{id},"category":"SCIENCE_FICTION","title":"Book {id}"}}"#)
        }));
    let json = format!(r#"{{"books":[{}]}}"#, books.join(","));
    Arc::new(Catalog::from_json(&json, "fuzz catalogue").expect("a valid catalogue"))
});

/// Decodes `data` as a `RecommendationRequest`, as tonic does with a call's
/// body, and answers it with the server's own service. It must never panic and
/// must give the core's books for the request (at most a page of them), or
/// `NOT_FOUND` for an unknown category, or `INVALID_ARGUMENT` for a negative
/// `max_results`. Panics on any broken expectation.
pub(crate) fn check_request(data: &[u8]) {
    // Bytes that are no request never reach the service: tonic refuses them first.
    let Ok(request) = RecommendationRequest::decode(data) else {
        return;
    };
    let service = RecommendationService::new(Arc::clone(&CATALOG));
    let answer = RUNTIME.block_on(service.recommend(Request::new(request)));
    let RecommendationRequest {
        user_id,
        category,
        max_results,
    } = request;
    let context = format!("{request:?}");
    let Ok(category) = Category::try_from(category) else {
        let status = answer.expect_err(&context);
        assert_eq!(status.code(), Code::NotFound, "{context}: {status:?}");
        return;
    };
    if max_results < 0 {
        let status = answer.expect_err(&context);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{context}: {status:?}"
        );
        return;
    }
    let books: Vec<(i32, String)> = answer
        .unwrap_or_else(|status| panic!("{context}: {status:?}"))
        .into_inner()
        .recommendations
        .into_iter()
        .map(|book| (book.id, book.title))
        .collect();
    // A page larger than the limit is served as the limit (AIP-158).
    let page = max_results.min(DEFAULT_MAX_PAGE);
    let expected: Vec<(i32, String)> = CATALOG
        .recommend(user_id, category, page)
        .expect("a known category and a non-negative page")
        .into_iter()
        .map(|book| (book.id, book.title.clone()))
        .collect();
    assert_eq!(books, expected, "{context}");
}
