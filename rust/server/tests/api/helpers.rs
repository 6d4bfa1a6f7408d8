use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_server::{Application, Config, StartupError};
use service_kit::testing::{Spawned, spawn};
use tonic::transport::{Channel, Endpoint};

/// The server running in this process until `stop` is called.
pub(crate) type TestServer = Spawned<StartupError>;

/// Starts the server with the notes' catalogue on a free port.
pub(crate) async fn spawn_server() -> TestServer {
    spawn_server_with(Config::listening_on("127.0.0.1:0".parse().unwrap())).await
}

pub(crate) async fn spawn_server_with(config: Config) -> TestServer {
    let app = Application::build(&config).await.expect("server starts");
    spawn(app.local_addr(), |stop| app.run_until(stop))
}

/// Starts the server on a catalogue file of one book, Deep Work (id 100,
/// self-help), so that its answers show the file replaced the notes' books.
pub(crate) async fn spawn_server_with_one_book() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.json");
    std::fs::write(
        &path,
        r#"{"books": [{"id": 100, "category": "SELF_HELP", "title": "Deep Work"}]}"#,
    )
    .unwrap();
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.catalog = Some(path);
    // The catalogue is read at start-up: the file may go with `dir`.
    spawn_server_with(config).await
}

/// A connection to the test server.
pub(crate) async fn channel(server: &TestServer) -> Channel {
    Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .expect("connects to the test server")
}

/// The generated client, connected to the test server.
pub(crate) async fn client(server: &TestServer) -> RecommendationsClient<Channel> {
    RecommendationsClient::new(channel(server).await)
}
