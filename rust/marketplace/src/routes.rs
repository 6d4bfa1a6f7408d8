//! The routes: the shelves, the health check and the stylesheet, and the
//! request log around them.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use recommendations_proto::BookCategory;
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::PageError;
use crate::pages::{self, BookView, CategoryPage};
use crate::recommendations::Recommendations;
use crate::selection::Selection;
use crate::shelves;

/// What every handler shares: the Recommendations handle (one channel).
#[derive(Debug, Clone)]
pub struct AppState {
    recommendations: Recommendations,
}

impl AppState {
    /// State over a Recommendations handle.
    #[must_use]
    pub fn new(recommendations: Recommendations) -> Self {
        Self { recommendations }
    }
}

/// The marketplace's routes over `state`, logging one line per request.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/category/{slug}", get(category))
        .route("/healthz", get(healthz))
        .route("/static/style.css", get(stylesheet))
        .fallback(not_found)
        .layer(
            // One info line per request, when it is answered: method and URI
            // (from the span), status and latency. Failed pages are logged
            // with their cause where they fail, so 5xx answers add no line.
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                )
                .on_failure(()),
        )
        .with_state(state)
}

/// `/`: the mystery shelf, as the notes' homepage.
async fn home(
    State(state): State<AppState>,
    uri: Uri,
    cookies: CookieJar,
) -> Result<(CookieJar, Html<String>), PageError> {
    shelf(&state, BookCategory::Mystery, &uri, cookies).await
}

/// `/category/{slug}`: one shelf.
async fn category(
    State(state): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
    uri: Uri,
    cookies: CookieJar,
) -> Result<(CookieJar, Html<String>), PageError> {
    let slug = slug.map_or_else(|_| String::new(), |Path(slug)| slug);
    let category = shelves::from_slug(&slug).ok_or(PageError::UnknownCategory(slug))?;
    shelf(&state, category, &uri, cookies).await
}

/// The page of `category` for the reader and count the request selects.
async fn shelf(
    state: &AppState,
    category: BookCategory,
    uri: &Uri,
    cookies: CookieJar,
) -> Result<(CookieJar, Html<String>), PageError> {
    let selection = Selection::from_request(uri, &cookies)?;
    let books = state
        .recommendations
        .recommend(selection.user, category, selection.max)
        .await?
        .into_iter()
        .map(|book| BookView {
            id: book.id,
            title: book.title,
        })
        .collect();
    let html = pages::render_category(&CategoryPage {
        category,
        user: selection.user,
        max: selection.max,
        books,
    })?;
    Ok((selection.remember(cookies), Html(html)))
}

/// `/healthz`: the marketplace itself is up (whether the service is, the shelves show).
async fn healthz() -> &'static str {
    "ok"
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLESHEET,
    )
}

async fn not_found(uri: Uri) -> PageError {
    PageError::NotFound(uri.path().to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::body::{Body, to_bytes};
    use axum::http::{HeaderMap, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// State whose Recommendations service is not running.
    async fn state_without_service() -> AppState {
        let url = format!("http://{}", service_kit::testing::closed_port().await);
        AppState::new(Recommendations::connect_lazy(&url, Duration::from_secs(2)).unwrap())
    }

    async fn get(uri: &str) -> (StatusCode, HeaderMap, String) {
        get_with_headers(uri, &[]).await
    }

    async fn get_with_headers(
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router(state_without_service().await)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn healthz_answers_ok_even_when_the_service_is_down() {
        let (status, _, body) = get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "ok");
    }

    #[tokio::test]
    async fn a_service_that_is_down_gives_a_503_page_quickly() {
        let started = Instant::now();
        let (status, headers, body) = get("/").await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::RETRY_AFTER], "5");
        assert!(
            body.contains("Recommendations are unavailable right now, please try again shortly"),
            "{body}"
        );
        assert!(!body.contains("<li>") && !body.contains("<li "), "{body}");
        assert!(!body.to_lowercase().contains("tcp connect"), "{body}");
    }

    #[tokio::test]
    async fn every_shelf_reports_a_service_that_is_down() {
        for path in [
            "/category/mystery",
            "/category/science-fiction",
            "/category/self-help",
        ] {
            let (status, _, _) = get(path).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        }
    }

    #[tokio::test]
    async fn a_max_that_is_not_a_number_is_a_400_saying_what_to_fix() {
        let (status, headers, body) = get("/?max=lots").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            body.contains("must be a whole number from 1 to 20"),
            "{body}"
        );
        assert!(body.contains("lots"), "{body}");
    }

    #[tokio::test]
    async fn a_max_out_of_range_is_a_400() {
        for uri in [
            "/?max=0",
            "/?max=21",
            "/?max=-3",
            "/category/self-help?max=99999999999",
        ] {
            let (status, _, body) = get(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(body.contains("from 1 to 20"), "{uri}: {body}");
        }
    }

    #[tokio::test]
    async fn a_user_that_is_not_a_number_is_a_400_with_the_value_escaped() {
        let (status, _, body) = get("/?user=%3Cb%3E").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("`user` must be a whole number"), "{body}");
        assert!(
            body.contains("&lt;b&gt;") && !body.contains("<b>"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn an_unknown_category_is_a_404_page() {
        let (status, _, body) = get("/category/romance").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("There is no category called"), "{body}");
        assert!(body.contains("romance"), "{body}");
    }

    #[tokio::test]
    async fn an_unknown_path_is_a_404_page() {
        let (status, _, body) = get("/nowhere").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body.contains("<title>Page not found · Online Books For You</title>"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn the_stylesheet_is_served_as_css() {
        let (status, headers, body) = get("/static/style.css").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert!(body.contains(".books"), "{body}");
    }
}
