//! The routes: the shelves, the health check and the stylesheet.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use recommender::Category;

use crate::error::PageError;
use crate::pages::{self, BookView, CategoryPage};
use crate::recommendations::Recommendations;

/// The reader a page is for when neither the query nor a cookie says (the notes' user 1).
pub const DEFAULT_USER: i32 = 1;
/// How many books a page shows unless `max` says otherwise (the notes' 3).
pub const DEFAULT_MAX: i32 = 3;
/// The `max` a reader may ask for.
pub const MAX_RESULTS: RangeInclusive<i32> = 1..=20;

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

/// The marketplace's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/category/{slug}", get(category))
        .route("/healthz", get(healthz))
        .route("/static/style.css", get(stylesheet))
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// `/`: the mystery shelf, as the notes' homepage.
async fn home(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    shelf(&state, Category::Mystery, query, &headers).await
}

/// `/category/{slug}`: one shelf.
async fn category(
    State(state): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let slug = slug.map_or_else(|_| String::new(), |Path(slug)| slug);
    let category = pages::category_from_slug(&slug).ok_or(PageError::UnknownCategory(slug))?;
    shelf(&state, category, query, &headers).await
}

async fn shelf(
    state: &AppState,
    category: Category,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let Query(query) = query.map_err(|rejection| {
        PageError::BadQuery(format!(
            "The query string cannot be read: {}",
            rejection.body_text()
        ))
    })?;
    let selection = Selection::from_request(&query, headers)?;
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
    let mut response = Html(html).into_response();
    if selection.remember_user {
        // Remember a reader chosen in the query, so that `/` shows their books next time.
        let cookie = format!(
            "user={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
            selection.user
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Who a page is for and how many books it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Selection {
    user: i32,
    max: i32,
    /// The reader came from the query and differs from the cookie's.
    remember_user: bool,
}

impl Selection {
    /// `user` from the query, else from the `user` cookie, else 1; `max`
    /// from the query, else 3. A bad value in the query is the reader's to
    /// fix; a bad cookie is ignored, as the reader cannot see it.
    fn from_request(
        query: &HashMap<String, String>,
        headers: &HeaderMap,
    ) -> Result<Self, PageError> {
        let cookie_user = cookie_user(headers);
        let (user, remember_user) = match query.get("user") {
            Some(text) => {
                let user = text.trim().parse::<i32>().map_err(|_| {
                    PageError::BadQuery(format!(
                        "The reader number `user` must be a whole number, got \u{201c}{text}\u{201d}."
                    ))
                })?;
                (user, cookie_user != Some(user))
            }
            None => (cookie_user.unwrap_or(DEFAULT_USER), false),
        };
        let max = match query.get("max") {
            Some(text) => text
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|max| MAX_RESULTS.contains(max))
                .ok_or_else(|| {
                    PageError::BadQuery(format!(
                        "The number of books `max` must be a whole number from {} to {}, got \u{201c}{text}\u{201d}.",
                        MAX_RESULTS.start(),
                        MAX_RESULTS.end()
                    ))
                })?,
            None => DEFAULT_MAX,
        };
        Ok(Self {
            user,
            max,
            remember_user,
        })
    }
}

/// The reader in the `user` cookie, if there is a readable one.
fn cookie_user(headers: &HeaderMap) -> Option<i32> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "user")
        .and_then(|(_, value)| value.trim().parse().ok())
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

/// One log line per request, with its status and duration.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis(),
        "served"
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// State whose Recommendations service is not running.
    async fn state_without_service() -> AppState {
        let url = format!("http://{}", crate::test_support::closed_port().await);
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

    fn selection(query: &[(&str, &str)], cookie: Option<&str>) -> Result<Selection, PageError> {
        let query = query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        Selection::from_request(&query, &headers)
    }

    #[test]
    fn without_query_or_cookie_the_page_is_the_notes_one() {
        let chosen = selection(&[], None).unwrap();
        assert_eq!(
            (chosen.user, chosen.max, chosen.remember_user),
            (1, 3, false)
        );
    }

    #[test]
    fn the_cookie_chooses_the_reader_when_the_query_does_not() {
        let chosen = selection(&[], Some("theme=dark; user=42")).unwrap();
        assert_eq!((chosen.user, chosen.remember_user), (42, false));
    }

    #[test]
    fn the_query_wins_over_the_cookie_and_is_remembered() {
        let chosen = selection(&[("user", "7"), ("max", "5")], Some("user=42")).unwrap();
        assert_eq!(
            (chosen.user, chosen.max, chosen.remember_user),
            (7, 5, true)
        );
        let same = selection(&[("user", "42")], Some("user=42")).unwrap();
        assert!(!same.remember_user);
    }

    #[test]
    fn an_unreadable_cookie_is_ignored() {
        assert_eq!(selection(&[], Some("user=abc")).unwrap().user, DEFAULT_USER);
    }

    #[test]
    fn negative_and_extreme_readers_are_valid() {
        assert_eq!(selection(&[("user", "-5")], None).unwrap().user, -5);
        assert_eq!(
            selection(&[("user", "2147483647")], None).unwrap().user,
            i32::MAX
        );
        assert!(selection(&[("user", "2147483648")], None).is_err());
    }
}
