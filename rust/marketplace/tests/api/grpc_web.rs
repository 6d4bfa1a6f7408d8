//! gRPC-Web through the marketplace: raw POSTs to `/Recommendations/Recommend`
//! over HTTP/1.1, as the live page's script sends them, forwarded to the real
//! Recommendations server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_proto::{BookCategory, RecommendationRequest, RecommendationResponse};
use service_kit::testing::grpc_web::{Call, frame, post};
use tonic::Code;

use crate::helpers::{Backend, Marketplace};

const RECOMMEND: &str = "/Recommendations/Recommend";
const DEADLINE: Duration = Duration::from_secs(2);

/// POSTs `request` in gRPC-Web's framing, with `headers`, to the
/// marketplace at `addr`, as the live page's script does, and takes the
/// answer apart.
async fn call(addr: SocketAddr, request: &RecommendationRequest, headers: &[(&str, &str)]) -> Call {
    let headers = [&[("x-grpc-web", "1")], headers].concat();
    let exchange = post(
        addr,
        RECOMMEND,
        "application/grpc-web+proto",
        &headers,
        frame(request),
    );
    let answer = tokio::time::timeout(Duration::from_secs(15), exchange)
        .await
        .expect("an answer within 15 s");
    assert_eq!(answer.status, StatusCode::OK);
    answer.decode()
}

fn request(user_id: i32, category: i32, max_results: i32) -> RecommendationRequest {
    RecommendationRequest {
        user_id,
        category,
        max_results,
    }
}

#[tokio::test]
async fn a_grpc_web_call_gets_the_books_a_direct_call_gets() {
    let backend = Backend::start().await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;
    let mut direct = RecommendationsClient::connect(format!("http://{}", backend.addr))
        .await
        .unwrap();

    for (user, category, max) in [
        (1, BookCategory::Mystery, 3),
        (42, BookCategory::SelfHelp, 2),
    ] {
        let asked = request(user, category.into(), max);
        let web = call(marketplace.addr, &asked, &[("x-request-id", "live-7")]).await;
        assert_eq!((web.status.code(), web.status.message()), (Code::Ok, ""));
        assert_eq!(
            web.headers[header::CONTENT_TYPE],
            "application/grpc-web+proto"
        );
        assert_eq!(web.headers["x-request-id"], "live-7");
        let books: RecommendationResponse = web.unary();
        assert_eq!(books.recommendations.len(), usize::try_from(max).unwrap());
        assert_eq!(books, direct.recommend(asked).await.unwrap().into_inner());
    }
}

#[tokio::test]
async fn the_services_errors_come_through_with_their_code_and_message() {
    let backend = Backend::start().await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;

    let unknown = call(marketplace.addr, &request(1, 7, 3), &[]).await;
    assert_eq!(unknown.status.code(), Code::NotFound, "{unknown:?}");
    assert_eq!(unknown.status.message(), "Category not found");
    assert!(unknown.messages.is_empty());

    let negative = call(marketplace.addr, &request(1, 0, -1), &[]).await;
    assert_eq!(
        negative.status.code(),
        Code::InvalidArgument,
        "{negative:?}"
    );
    assert_eq!(
        negative.status.message(),
        "max_results must be zero or more, got -1"
    );

    let page = marketplace.get("/metrics").await;
    for line in [
        r#"grpc_client_handled_total{grpc_service="Recommendations",grpc_method="Recommend",grpc_type="unary",grpc_code="NotFound"} 1"#,
        r#"http_requests_total{method="POST",route="/Recommendations/Recommend",status="200"} 2"#,
    ] {
        assert!(page.body.contains(line), "{line} in\n{}", page.body);
    }
}

#[tokio::test]
async fn a_stopped_service_is_unavailable_with_a_readable_message() {
    let backend = Backend::start().await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;
    assert_eq!(
        call(marketplace.addr, &request(1, 0, 1), &[])
            .await
            .status
            .code(),
        Code::Ok
    );

    backend.stop().await;
    let started = Instant::now();
    let down = call(marketplace.addr, &request(1, 0, 1), &[]).await;

    assert!(started.elapsed() < DEADLINE + Duration::from_millis(500));
    assert_eq!(down.status.code(), Code::Unavailable, "{down:?}");
    assert_eq!(
        down.status.message(),
        "the Recommendations service cannot be reached right now; retry shortly"
    );
}

#[tokio::test]
async fn the_callers_timeout_shortens_the_deadline_but_never_lengthens_it() {
    // Bound but never accepting: a call waits until a deadline ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();

    let patient = Marketplace::start(addr, Duration::from_secs(10)).await;
    let started = Instant::now();
    let shortened = call(patient.addr, &request(1, 0, 1), &[("grpc-timeout", "300m")]).await;
    let took = started.elapsed();
    assert_eq!(
        shortened.status.code(),
        Code::DeadlineExceeded,
        "{shortened:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let hurried = Marketplace::start(addr, Duration::from_millis(300)).await;
    let started = Instant::now();
    let kept = call(hurried.addr, &request(1, 0, 1), &[("grpc-timeout", "60S")]).await;
    let took = started.elapsed();
    assert_eq!(kept.status.code(), Code::DeadlineExceeded, "{kept:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        kept.status.message(),
        "the Recommendations service gave no answer within 300 ms"
    );
}

#[tokio::test]
async fn a_get_of_the_grpc_web_path_is_refused_with_405() {
    let backend = Backend::start().await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;
    let page = marketplace.get(RECOMMEND).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_live_page_and_its_script_are_served() {
    let backend = Backend::start().await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;
    let page = marketplace.get("/live").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"<form id="ask""#), "{}", page.body);
    assert!(
        page.body.contains(r#"src="/static/live.js""#),
        "{}",
        page.body
    );
    let script = marketplace.get("/static/live.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.headers[header::CONTENT_TYPE], "text/javascript");
    // Every page leads to it.
    assert!(marketplace.get("/").await.body.contains(r#"href="/live""#));
}
