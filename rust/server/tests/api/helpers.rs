use std::net::SocketAddr;

use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_server::{Application, Config, ServerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// A server running in this process until `stop` is called.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<Result<(), ServerError>>,
}

/// Starts the server with the notes' catalogue on a free port.
pub(crate) async fn spawn_server() -> TestServer {
    spawn_server_with(Config::listening_on("127.0.0.1:0".parse().unwrap())).await
}

pub(crate) async fn spawn_server_with(config: Config) -> TestServer {
    let app = Application::build(&config).await.expect("server starts");
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel();
    let serving = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        stop,
        serving,
    }
}

impl TestServer {
    pub(crate) async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("connects to the test server")
    }

    pub(crate) async fn client(&self) -> RecommendationsClient<Channel> {
        RecommendationsClient::new(self.channel().await)
    }

    /// Signals shutdown and waits for the server to finish.
    pub(crate) async fn stop(self) -> Result<(), ServerError> {
        let _ = self.stop.send(());
        self.serving.await.expect("the server task does not panic")
    }
}
