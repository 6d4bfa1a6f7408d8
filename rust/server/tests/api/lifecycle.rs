use recommendations_proto::RecommendationRequest;
use recommendations_server::{Application, Config, StartupError};
use tonic::transport::Endpoint;

use crate::helpers::{client, spawn_server};

#[tokio::test]
async fn a_stopped_server_returns_cleanly_and_refuses_new_connections() {
    let server = spawn_server().await;
    let addr = server.addr;
    let mut client = client(&server).await;
    client
        .recommend(RecommendationRequest {
            user_id: 1,
            category: 0,
            max_results: 3,
        })
        .await
        .unwrap();

    server.stop().await.unwrap();

    let reconnect = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    assert!(
        reconnect.is_err(),
        "the port should be closed after shutdown"
    );
}

#[tokio::test]
async fn a_bad_catalogue_stops_start_up_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        r#"{"books": [{"id": 1, "category": "POETRY", "title": "x"}]}"#,
    )
    .unwrap();
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.catalog = Some(path.clone());

    let error = Application::build(&config).await.unwrap_err();

    assert!(matches!(error, StartupError::Catalog(_)));
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("book 1 (id 1): unknown category \"POETRY\""),
        "{message}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_reported_with_the_address() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();

    let error = Application::build(&Config::listening_on(addr))
        .await
        .unwrap_err();

    assert!(matches!(error, StartupError::Bind(_)));
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {addr}"))
    );
}
