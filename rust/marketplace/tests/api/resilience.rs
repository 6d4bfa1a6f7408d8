use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::helpers::{Backend, Marketplace, closed_port};

/// Short, so the down-time checks are quick, yet far above a local answer.
const DEADLINE: Duration = Duration::from_secs(1);
/// How long a restarted service may take to be used again.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_stopped_service_gives_503_in_time_and_a_restarted_one_is_used_again() {
    let backend = Backend::start().await;
    let addr = backend.addr;
    let marketplace = Marketplace::start(addr, DEADLINE).await;
    assert_eq!(marketplace.get("/").await.status, StatusCode::OK);

    backend.stop().await;
    let started = Instant::now();
    let down = marketplace.get("/").await;
    let elapsed = started.elapsed();
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(
        down.body
            .contains("Recommendations are unavailable right now, please try again shortly"),
        "{}",
        down.body
    );
    assert!(
        elapsed < DEADLINE + Duration::from_millis(500),
        "took {elapsed:?}"
    );
    assert_eq!(marketplace.get("/healthz").await.status, StatusCode::OK);

    let _restarted = Backend::start_on(addr).await;
    let page = marketplace
        .poll_until("/", StatusCode::OK, RECOVERY_LIMIT)
        .await;
    assert_eq!(page.list_items(), 3, "{}", page.body);
}

#[tokio::test]
async fn the_marketplace_starts_before_the_service_and_uses_it_once_it_is_up() {
    let addr = closed_port().await;
    let marketplace = Marketplace::start(addr, DEADLINE).await;
    let started = Instant::now();
    assert_eq!(
        marketplace.get("/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(started.elapsed() < DEADLINE + Duration::from_millis(500));

    let _backend = Backend::start_on(addr).await;
    let page = marketplace
        .poll_until("/category/self-help", StatusCode::OK, RECOVERY_LIMIT)
        .await;
    assert_eq!(page.list_items(), 3, "{}", page.body);
}

#[tokio::test]
async fn a_service_that_never_answers_gives_503_at_the_deadline() {
    // Bound but never accepting: connections wait in the backlog unanswered.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let deadline = Duration::from_millis(300);
    let marketplace = Marketplace::start(silent.local_addr().unwrap(), deadline).await;
    let started = Instant::now();
    let page = marketplace.get("/").await;
    let elapsed = started.elapsed();
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        elapsed >= deadline / 2 && elapsed < deadline * 4,
        "took {elapsed:?}"
    );
}
