//! The routes: the shelves, the live page and its gRPC-Web endpoint, the
//! health check, the static files and the metrics, and around them the
//! request ids, the request log and the HTTP metrics.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, Request, State};
use axum::http::{Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post_service};
use axum_extra::extract::CookieJar;
use recommendations_proto::BookCategory;
use tower::{Service, ServiceBuilder};
use tower_http::LatencyUnit;
use tower_http::request_id::RequestId;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::PageError;
use crate::grpc_web::{self, RECOMMEND_PATH};
use crate::pages::{self, BookView, CategoryPage};
use crate::recommendations::Recommendations;
use crate::request_id;
use crate::selection::Selection;
use crate::shelves;
use crate::telemetry::{self, Metrics, TrackHttpLayer};

/// The `tracing` target of the access log's lines: one per request, written
/// by tower-http's `DefaultOnResponse`.
pub const ACCESS_LOG_TARGET: &str = "tower_http::trace::on_response";

/// What every handler shares: the Recommendations handle (one channel) and
/// the metrics. Behind an `Arc`, as the router clones it for every request.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    recommendations: Recommendations,
    metrics: Metrics,
}

impl AppState {
    /// State over a Recommendations handle, with fresh metrics that its calls
    /// are recorded in too.
    #[must_use]
    pub fn new(recommendations: Recommendations) -> Self {
        let metrics = Metrics::new();
        Self(Arc::new(Shared {
            recommendations: recommendations.with_metrics(metrics.clone()),
            metrics,
        }))
    }

    /// The metrics `/metrics` shows.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.0.metrics.clone()
    }
}

/// The marketplace's routes over `state`, logging one line per request.
pub fn router(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    // The router boxes every route again for each `layer` call, and clones
    // the boxes for every request: so only what must run per route is
    // layered on the routes, in one call. That is the copy of the request id
    // to the response (before the route adds its `content-length`) and the
    // metrics, which need the matched route; the rest wraps the router.
    let routes = Router::new()
        .route("/", get(home))
        .route("/category/{slug}", get(category))
        .route("/live", get(live))
        // Only POST: any other method is a 405, before tonic-web sees it.
        .route(
            RECOMMEND_PATH,
            post_service(grpc_web::service(state.0.recommendations.clone())),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(telemetry::render))
        .route("/static/style.css", get(stylesheet))
        .route("/static/live.js", get(live_script))
        .fallback(not_found)
        .layer(
            ServiceBuilder::new()
                .layer(request_id::propagate_layer())
                .layer(TrackHttpLayer::new(state.0.metrics.clone())),
        )
        .with_state(state);
    // Outermost first: the request id is set, then the request is logged
    // and routed; `axum::serve` wants axum's response body.
    ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(request_id::set_layer())
        .layer(
            // One info line per request, when it is answered: method, URI
            // and request id (from the span), status and latency. Failed
            // pages are logged with their cause where they fail, so 5xx
            // answers add no line.
            TraceLayer::new_for_http()
                .make_span_with(request_id::span)
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                )
                .on_failure(()),
        )
        .service(routes)
}

/// `/`: the mystery shelf, as the notes' homepage.
async fn home(
    State(state): State<AppState>,
    id: Option<Extension<RequestId>>,
    uri: Uri,
    cookies: CookieJar,
) -> Result<(CookieJar, Html<String>), PageError> {
    shelf(&state, id, BookCategory::Mystery, &uri, cookies).await
}

/// `/category/{slug}`: one shelf.
async fn category(
    State(state): State<AppState>,
    id: Option<Extension<RequestId>>,
    slug: Result<Path<String>, PathRejection>,
    uri: Uri,
    cookies: CookieJar,
) -> Result<(CookieJar, Html<String>), PageError> {
    let slug = slug.map_or_else(|_| String::new(), |Path(slug)| slug);
    let category = shelves::from_slug(&slug).ok_or(PageError::UnknownCategory(slug))?;
    shelf(&state, id, category, &uri, cookies).await
}

/// The page of `category` for the reader and count the request selects;
/// the call to the service carries the request's id.
async fn shelf(
    state: &AppState,
    id: Option<Extension<RequestId>>,
    category: BookCategory,
    uri: &Uri,
    cookies: CookieJar,
) -> Result<(CookieJar, Html<String>), PageError> {
    let selection = Selection::from_request(uri, &cookies)?;
    let id = id
        .as_ref()
        .and_then(|Extension(id)| id.header_value().to_str().ok());
    let books = state
        .0
        .recommendations
        .recommend_with_request_id(id, selection.user, category, selection.max)
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

/// `/live`: the browser asks the service itself, through
/// [`RECOMMEND_PATH`]; the page is the same for everyone.
async fn live() -> Result<Html<String>, PageError> {
    Ok(Html(pages::render_live()?))
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

async fn live_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::LIVE_SCRIPT,
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

    /// Keeps the target and level of every event, and nothing else.
    #[derive(Clone, Default)]
    struct Events(Arc<std::sync::Mutex<Vec<(String, Level)>>>);

    impl tracing::Subscriber for Events {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let metadata = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((metadata.target().to_owned(), *metadata.level()));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test]
    async fn each_request_logs_one_access_line_with_the_access_log_target() {
        // main.rs buffers the lines of this target.
        let events = Events::default();
        let _default = tracing::subscriber::set_default(events.clone());
        let (status, _, _) = get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
        let access: Vec<_> = events
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, _)| target == ACCESS_LOG_TARGET)
            .cloned()
            .collect();
        assert_eq!(access, [(ACCESS_LOG_TARGET.to_owned(), Level::INFO)]);
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
    async fn a_request_id_from_the_client_is_returned() {
        let (_, headers, _) = get_with_headers("/healthz", &[("x-request-id", "abc-123")]).await;
        assert_eq!(headers[request_id::HEADER], "abc-123");
    }

    #[tokio::test]
    async fn a_request_without_an_id_gets_a_fresh_one() {
        let (_, first, _) = get("/").await;
        let (_, second, _) = get("/").await;
        let (first, second) = (&first[request_id::HEADER], &second[request_id::HEADER]);
        assert_eq!(first.len(), 36, "{first:?}");
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn metrics_count_requests_by_route_template_and_calls_by_code() {
        let app = router(state_without_service().await);
        for uri in ["/category/mystery", "/category/romance", "/nowhere"] {
            let request = Request::get(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        for line in [
            r#"http_requests_total{method="GET",route="/category/{slug}",status="503"} 1"#,
            r#"http_requests_total{method="GET",route="/category/{slug}",status="404"} 1"#,
            r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            r#"grpc_client_handled_total{grpc_service="Recommendations",grpc_method="Recommend",grpc_type="unary",grpc_code="Unavailable"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(
            !text.contains("romance") && !text.contains("nowhere"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_live_page_has_the_form_and_its_script() {
        let (status, headers, body) = get("/live").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(body.contains(r#"<form id="ask""#), "{body}");
        assert!(
            body.contains(r#"<script type="module" src="/static/live.js"></script>"#),
            "{body}"
        );
    }

    #[tokio::test]
    async fn the_live_script_is_served_as_javascript() {
        let (status, headers, body) = get("/static/live.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(body, pages::LIVE_SCRIPT);
        assert!(!body.is_empty());
    }

    #[tokio::test]
    async fn a_get_of_the_grpc_web_path_is_a_405_not_a_500() {
        let (status, headers, _) = get(RECOMMEND_PATH).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "POST");
    }

    #[tokio::test]
    async fn the_stylesheet_is_served_as_css() {
        let (status, headers, body) = get("/static/style.css").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert!(body.contains(".books"), "{body}");
    }
}
