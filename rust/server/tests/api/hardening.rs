use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use recommendations_proto::RecommendationRequest;
use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_server::Config;
use service_kit::testing::grpc_web::{frame, post};
use tempfile::TempDir;
use tokio::task::JoinSet;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{TestServer, channel, client, spawn_server, spawn_server_with};

fn request(max_results: i32) -> RecommendationRequest {
    RecommendationRequest {
        user_id: 7,
        category: 0,
        max_results,
    }
}

/// A catalogue of `size` mystery books in a temporary file.
pub(crate) fn big_catalogue(size: i32) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let books = (1..=size)
        .map(|id| format!(r#"{{"id":{id},"category":"MYSTERY","title":"Book {id}"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(&path, format!(r#"{{"books":[{books}]}}"#)).unwrap();
    (dir, path)
}

fn config() -> Config {
    Config::listening_on("127.0.0.1:0".parse().unwrap())
}

#[tokio::test]
async fn a_page_above_the_limit_is_served_as_the_limit() {
    let (_dir, path) = big_catalogue(500);
    let mut config = config();
    config.catalog = Some(path);
    config.max_page = 40;
    let server = spawn_server_with(config).await;
    let mut client = client(&server).await;

    for (asked, served) in [(i32::MAX, 40), (41, 40), (40, 40), (39, 39), (0, 0)] {
        let books = client
            .recommend(request(asked))
            .await
            .unwrap()
            .into_inner()
            .recommendations;
        assert_eq!(books.len(), served, "asked for {asked}");
    }
    let status = client.recommend(request(-1)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "max_results must be zero or more, got -1");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_calls_below_the_limit_all_succeed() {
    // 4 connections of at most 50 streams each cannot exceed 256 calls at once.
    let mut config = config();
    config.max_concurrent_streams = NonZeroU32::new(50).unwrap();
    let server = spawn_server_with(config).await;
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(channel(&server).await);
    }

    let mut calls = JoinSet::new();
    for n in 0..4_000 {
        let mut client = RecommendationsClient::new(channels[n % channels.len()].clone());
        calls.spawn(async move { client.recommend(request(3)).await.map(drop) });
    }
    let mut failures = Vec::new();
    while let Some(result) = calls.join_next().await {
        if let Err(status) = result.unwrap() {
            failures.push(status);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    server.stop().await.unwrap();
}

/// Starts many slow calls at once against a server that runs one at a time.
async fn overload(server: &TestServer, calls: usize) -> (usize, usize, Vec<Duration>) {
    let channel = channel(server).await;
    let mut running = JoinSet::new();
    for _ in 0..calls {
        let mut client = RecommendationsClient::new(channel.clone());
        running.spawn(async move {
            let started = Instant::now();
            let result = client.recommend(request(i32::MAX)).await;
            (result.map(drop), started.elapsed())
        });
    }
    let (mut answered, mut shed, mut shed_latencies) = (0, 0, Vec::new());
    while let Some(joined) = running.join_next().await {
        match joined.unwrap() {
            (Ok(()), _) => answered += 1,
            (Err(status), took) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert_eq!(
                    status.message(),
                    "the server is at its limit of 1 concurrent calls; retry with backoff"
                );
                shed += 1;
                shed_latencies.push(took);
            }
        }
    }
    (answered, shed, shed_latencies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_limit_are_shed_at_once_with_unavailable() {
    // Large pages on a large category: each call takes milliseconds.
    let (_dir, path) = big_catalogue(200_000);
    let mut config = config();
    config.catalog = Some(path);
    config.max_page = 200_000;
    config.max_concurrent_calls = NonZeroUsize::new(1).unwrap();
    let server = spawn_server_with(config).await;

    let (answered, shed, latencies) = overload(&server, 32).await;

    println!("32 concurrent calls with --max-concurrent-calls 1: {answered} answered, {shed} shed");
    assert_eq!(answered + shed, 32);
    assert!(answered >= 1);
    assert!(shed >= 1, "nothing was shed");
    let slowest = latencies.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(2),
        "a shed call took {slowest:?}"
    );

    // Health is not limited, and the server serves again once the load is gone.
    let mut health = HealthClient::new(channel(&server).await);
    let check = HealthCheckRequest {
        service: "Recommendations".to_owned(),
    };
    health.check(check).await.unwrap();
    let mut client = client(&server).await;
    client.recommend(request(3)).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn health_answers_while_every_recommend_slot_is_taken() {
    let (_dir, path) = big_catalogue(200_000);
    let mut config = config();
    config.catalog = Some(path);
    config.max_page = 200_000;
    config.max_concurrent_calls = NonZeroUsize::new(1).unwrap();
    let server = spawn_server_with(config).await;
    let channel: Channel = channel(&server).await;

    let mut slow = RecommendationsClient::new(channel.clone());
    let hog = tokio::spawn(async move { slow.recommend(request(i32::MAX)).await });
    let mut health = HealthClient::new(channel);
    for _ in 0..20 {
        let check = HealthCheckRequest {
            service: String::new(),
        };
        health.check(check).await.unwrap();
    }
    hog.await.unwrap().unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_id_is_returned_and_one_is_made_when_missing() {
    let server = spawn_server().await;
    let mut client = client(&server).await;

    let mut given = tonic::Request::new(request(1));
    given
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("order-4711"));
    let answer = client.recommend(given).await.unwrap();
    assert_eq!(answer.metadata().get("x-request-id").unwrap(), "order-4711");

    let answer = client.recommend(request(1)).await.unwrap();
    let made = answer
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(made.len(), 36, "a UUID: {made}");

    // Errors carry it too (a trailers-only response).
    let mut refused = tonic::Request::new(request(-1));
    refused
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("bad-one"));
    let status = client.recommend(refused).await.unwrap_err();
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "bad-one");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn answers_over_http2_carry_no_date_header_as_grpcs_own_servers_send_none() {
    let server = spawn_server().await;
    let mut client = client(&server).await;
    let answer = client.recommend(request(1)).await.unwrap();
    assert!(answer.metadata().get("content-type").is_some());
    assert_eq!(answer.metadata().get("date"), None);
    let status = client.recommend(request(-1)).await.unwrap_err();
    assert_eq!(status.metadata().get("date"), None);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_server_itself_answers_deadline_exceeded_when_a_deadline_passes() {
    // A raw POST has no timer of its own, unlike a tonic or grpcio client,
    // so the answer is the server's. A 1 ms deadline leaves the server no
    // time at all. A page of 200,000 books goes to the blocking pool and
    // takes far longer (a whole call for one, about 0.4 s in a test build);
    // a page of 5,000 was once ready before the timer's first tick, and was
    // answered in full.
    let (_dir, path) = big_catalogue(200_000);
    let mut config = config();
    config.catalog = Some(path);
    config.max_page = 200_000;
    let server = spawn_server_with(config).await;

    let answer = post(
        server.addr,
        "/Recommendations/Recommend",
        "application/grpc-web",
        &[("grpc-timeout", "1m")],
        frame(&request(200_000)),
    )
    .await;

    let status = answer.decode().status;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("deadline"), "{status:?}");
    // Without a deadline, a call on the same path gets its whole page.
    let books = client(&server)
        .await
        .recommend(request(5_000))
        .await
        .unwrap()
        .into_inner()
        .recommendations;
    assert_eq!(books.len(), 5_000);
    server.stop().await.unwrap();
}
