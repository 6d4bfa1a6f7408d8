//! gRPC-Web over HTTP/1.1 on the server's one port, beside gRPC: raw POSTs,
//! framed and decoded by hand as a browser's client does.

use std::num::NonZeroUsize;

use axum::body::Bytes;
use http::{StatusCode, Version, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use recommendations_proto::{BookCategory, RecommendationRequest, RecommendationResponse};
use recommendations_server::Config;
use service_kit::testing::grpc_web::{frame, post};
use tokio::task::JoinSet;
use tonic::Code;

use crate::hardening::big_catalogue;
use crate::helpers::{client, spawn_server, spawn_server_with, spawn_server_with_one_book};

const RECOMMEND: &str = "/Recommendations/Recommend";

fn request(user_id: i32, category: i32, max_results: i32) -> RecommendationRequest {
    RecommendationRequest {
        user_id,
        category,
        max_results,
    }
}

#[tokio::test]
async fn a_grpc_web_post_over_http1_gets_the_books_a_grpc_call_gets() {
    let server = spawn_server().await;
    let asked = request(1, BookCategory::Mystery.into(), 3);

    let answer = post(
        server.addr,
        RECOMMEND,
        "application/grpc-web+proto",
        &[("x-request-id", "web-42")],
        frame(&asked),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.version, Version::HTTP_11);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/grpc-web+proto"
    );
    assert_eq!(answer.headers["x-request-id"], "web-42");
    let call = answer.decode();
    assert_eq!((call.status.code(), call.status.message()), (Code::Ok, ""));
    let web: RecommendationResponse = call.unary();
    // The same port still speaks gRPC, with the same answer.
    let grpc = client(&server)
        .await
        .recommend(asked)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(web.recommendations.len(), 3);
    assert_eq!(web, grpc);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_category_over_grpc_web_is_not_found_with_the_notes_message() {
    let server = spawn_server().await;

    let answer = post(
        server.addr,
        RECOMMEND,
        "application/grpc-web",
        &[],
        frame(&request(1, 7, 3)),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/grpc-web+proto"
    );
    let call = answer.decode();
    assert!(call.messages.is_empty(), "{call:?}");
    assert_eq!(call.status.code(), Code::NotFound);
    assert_eq!(call.status.message(), "Category not found");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http1_requests_that_are_not_grpc_web_are_refused_saying_why() {
    let server = spawn_server().await;
    let body = frame(&request(1, 0, 3));

    let json = post(server.addr, RECOMMEND, "application/json", &[], Vec::new()).await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json.headers["grpc-status"], "3");
    let grpc = post(server.addr, RECOMMEND, "application/grpc", &[], body).await;
    assert_eq!(grpc.status, StatusCode::BAD_REQUEST);
    assert_eq!(grpc.headers["grpc-status"], "3");
    let message = grpc.headers["grpc-message"].to_str().unwrap();
    assert!(message.starts_with("gRPC%20needs%20HTTP/2"), "{message}");

    // gRPC clients are not disturbed.
    client(&server)
        .await
        .recommend(request(1, 0, 3))
        .await
        .unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_web_calls_are_counted_like_grpc_calls() {
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let app = recommendations_server::Application::build(&config)
        .await
        .unwrap();
    let metrics = app.metrics_addr().unwrap();
    let server = service_kit::testing::spawn(app.local_addr(), |stop| app.run_until(stop));
    for category in [0, 7] {
        let answer = post(
            server.addr,
            RECOMMEND,
            "application/grpc-web",
            &[],
            frame(&request(1, category, 3)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .get(format!("http://{metrics}/metrics").parse().unwrap())
        .await
        .unwrap();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&text).unwrap();
    for code in ["OK", "NotFound"] {
        let line = format!(
            "grpc_server_handled_total{{grpc_service=\"Recommendations\",\
             grpc_method=\"Recommend\",grpc_type=\"unary\",grpc_code=\"{code}\"}} 1"
        );
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_with_a_catalogue_file_answers_grpc_web_from_it() {
    let server = spawn_server_with_one_book().await;

    let answer = post(
        server.addr,
        RECOMMEND,
        "application/grpc-web+proto",
        &[],
        frame(&request(1, BookCategory::SelfHelp.into(), 5)),
    )
    .await;

    let books = answer
        .decode()
        .unary::<RecommendationResponse>()
        .recommendations;
    assert_eq!(books.len(), 1);
    assert_eq!(books[0].title, "Deep Work");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_calls_beyond_the_limit_are_shed_with_unavailable() {
    // Whole pages of a large category: each call takes milliseconds.
    let (_dir, path) = big_catalogue(200_000);
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.catalog = Some(path);
    config.max_page = 200_000;
    config.max_concurrent_calls = NonZeroUsize::new(1).unwrap();
    let server = spawn_server_with(config).await;

    let mut calls = JoinSet::new();
    for _ in 0..16 {
        let addr = server.addr;
        calls.spawn(async move {
            let answer = post(
                addr,
                RECOMMEND,
                "application/grpc-web+proto",
                &[],
                frame(&request(1, 0, i32::MAX)),
            )
            .await;
            answer.decode()
        });
    }
    let (mut answered, mut shed) = (0, 0);
    while let Some(call) = calls.join_next().await {
        let call = call.unwrap();
        match call.status.code() {
            Code::Ok => answered += 1,
            Code::Unavailable => {
                assert_eq!(
                    call.status.message(),
                    "the server is at its limit of 1 concurrent calls; retry with backoff"
                );
                shed += 1;
            }
            other => panic!("status {other}: {call:?}"),
        }
    }
    assert!(
        answered >= 1 && shed >= 1,
        "{answered} answered, {shed} shed"
    );
    server.stop().await.unwrap();
}
