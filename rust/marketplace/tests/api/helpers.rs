use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use recommendations_server::{
    Application as Server, Config as ServerConfig, StartupError as ServerError,
};
pub(crate) use service_kit::testing::closed_port;
use service_kit::testing::{Spawned, spawn};

/// How long any one HTTP exchange in these tests may take before it is a failure.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(15);

/// The Recommendations server, running in this process.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    server: Spawned<ServerError>,
}

impl Backend {
    /// The notes' catalogue on a free port.
    pub(crate) async fn start() -> Self {
        Self::start_with(ServerConfig::listening_on("127.0.0.1:0".parse().unwrap())).await
    }

    /// The notes' catalogue on `addr`.
    pub(crate) async fn start_on(addr: SocketAddr) -> Self {
        Self::start_with(ServerConfig::listening_on(addr)).await
    }

    /// A catalogue file's books on a free port.
    pub(crate) async fn start_with_catalog(path: &Path) -> Self {
        let mut config = ServerConfig::listening_on("127.0.0.1:0".parse().unwrap());
        config.catalog = Some(path.to_owned());
        Self::start_with(config).await
    }

    async fn start_with(config: ServerConfig) -> Self {
        let server = Server::build(&config).await.unwrap();
        let server = spawn(server.local_addr(), |stop| server.run_until(stop));
        Self {
            addr: server.addr,
            server,
        }
    }

    /// Stops the server and waits until it no longer serves.
    pub(crate) async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

/// The marketplace, running in this process; it stops when dropped.
pub(crate) struct Marketplace {
    pub(crate) addr: SocketAddr,
    client: Client<HttpConnector, Empty<Bytes>>,
    /// Dropping it stops the marketplace.
    _app: Spawned<marketplace::StartupError>,
}

/// A page as a browser would get it.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The number of list items, counted as the notes' test counts them.
    pub(crate) fn list_items(&self) -> usize {
        self.body.matches("<li>").count()
    }
}

impl Marketplace {
    /// A marketplace on a free port using the Recommendations service at `backend`.
    pub(crate) async fn start(backend: SocketAddr, deadline: Duration) -> Self {
        let config =
            marketplace::Config::new("127.0.0.1:0".parse().unwrap(), format!("http://{backend}"))
                .with_deadline(deadline);
        let app = marketplace::Application::build(&config).await.unwrap();
        let app = spawn(app.local_addr(), |stop| app.run_until(stop));
        Self {
            addr: app.addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _app: app,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        self.get_with_headers(path, &[]).await
    }

    pub(crate) async fn get_with_headers(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = Request::get(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let exchange = async {
            let response = self
                .client
                .request(request.body(Empty::new()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Page {
                status,
                headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        };
        tokio::time::timeout(EXCHANGE_LIMIT, exchange)
            .await
            .unwrap_or_else(|_| panic!("GET {path} took over {EXCHANGE_LIMIT:?}"))
    }

    /// Fetches `path` until it answers `status`, for at most `limit`.
    pub(crate) async fn poll_until(&self, path: &str, status: StatusCode, limit: Duration) -> Page {
        let started = Instant::now();
        loop {
            let page = self.get(path).await;
            if page.status == status {
                return page;
            }
            assert!(
                started.elapsed() < limit,
                "GET {path} still answers {} after {limit:?}",
                page.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A title as the autoescaping templates write it.
pub(crate) fn escaped(title: &str) -> String {
    tera::escape_html(title)
}
