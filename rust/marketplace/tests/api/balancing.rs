//! `dns:///HOST:PORT`: calls spread over every address of HOST, follow DNS
//! as addresses come and go, survive DNS failures, and leave an address
//! whose server stopped.
//!
//! Two Recommendations servers share one port, one on 127.0.0.1 and one on
//! `::1`, each with a catalogue of its own, so every page tells which server
//! answered it. `localhost` resolves to both only on some machines, so the
//! main test resolves its name through a table it changes at will (the
//! resolver seam of `Application::build_with_resolver`); the last test uses
//! the system's resolver on `localhost`, whatever it answers.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use marketplace::discovery::Resolver;
use recommendations_server::{
    Application as Server, Config as ServerConfig, StartupError as ServerError,
};
use service_kit::testing::{Spawned, spawn};

const DEADLINE: Duration = Duration::from_secs(1);
/// Short, so that the test sees several resolutions per step.
const RESOLVE_INTERVAL: Duration = Duration::from_millis(100);
/// How long a change of DNS or of a server's state may take to show in the
/// pages: a few resolutions, with room for a loaded machine.
const SETTLE: Duration = Duration::from_secs(3);
/// How long a stopped server may still get calls: its last resolution and
/// reachability check, with room for a loaded machine.
const FAILOVER_LIMIT: Duration = Duration::from_secs(1);
const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// The two servers, `A` on 127.0.0.1 and `B` on `::1`, on the same port.
struct Pair {
    port: u16,
    a: Spawned<ServerError>,
    b: Spawned<ServerError>,
    _catalogues: tempfile::TempDir,
}

impl Pair {
    async fn start() -> Self {
        let catalogues = tempfile::tempdir().unwrap();
        let (path_a, path_b) = (
            catalogue(catalogues.path(), 'A'),
            catalogue(catalogues.path(), 'B'),
        );
        // The port A got may be taken on ::1: then both try again.
        for _ in 0..20 {
            let a = serve(SocketAddr::new(V4, 0), &path_a).await.unwrap();
            let port = a.addr.port();
            match serve(SocketAddr::new(V6, port), &path_b).await {
                Ok(b) => {
                    return Self {
                        port,
                        a,
                        b,
                        _catalogues: catalogues,
                    };
                }
                Err(_) => a.stop().await.unwrap(),
            }
        }
        panic!("no port free on both 127.0.0.1 and ::1");
    }
}

/// A catalogue whose three mystery books say they come from `server`.
fn catalogue(dir: &Path, server: char) -> std::path::PathBuf {
    let books: Vec<String> = (1..=3)
        .map(|id| {
            format!(r#"{{"id": {id}, "category": "MYSTERY", "title": "Shelf {server} book {id}"}}"#)
        })
        .collect();
    let path = dir.join(format!("{server}.json"));
    std::fs::write(&path, format!(r#"{{"books": [{}]}}"#, books.join(", "))).unwrap();
    path
}

async fn serve(addr: SocketAddr, catalogue: &Path) -> Result<Spawned<ServerError>, ServerError> {
    let mut config = ServerConfig::listening_on(addr);
    config.catalog = Some(catalogue.to_owned());
    let server = Server::build(&config).await?;
    Ok(spawn(server.local_addr(), |stop| server.run_until(stop)))
}

/// What the fake DNS answers: addresses, or a failure.
#[derive(Clone)]
struct Dns(Arc<Mutex<Option<Vec<IpAddr>>>>);

impl Dns {
    fn new(addresses: &[IpAddr]) -> Self {
        Self(Arc::new(Mutex::new(Some(addresses.to_vec()))))
    }

    fn answer(&self, addresses: &[IpAddr]) {
        *self.0.lock().unwrap() = Some(addresses.to_vec());
    }

    fn fail(&self) {
        *self.0.lock().unwrap() = None;
    }

    fn resolver(&self) -> Resolver {
        let table = Arc::clone(&self.0);
        Resolver::new(move |_host, port| {
            let answer = match &*table.lock().unwrap() {
                Some(ips) => Ok(ips.iter().map(|&ip| SocketAddr::new(ip, port)).collect()),
                None => Err(io::Error::other("the name server does not answer")),
            };
            Box::pin(async move { answer })
        })
    }
}

/// The marketplace with a `dns:///` URL, in this process.
struct Marketplace {
    addr: SocketAddr,
    client: Client<HttpConnector, Empty<Bytes>>,
    _app: Spawned<marketplace::StartupError>,
}

/// Which server answered a page ('A' or 'B'), or the status of a failed one.
type Served = Result<char, StatusCode>;

impl Marketplace {
    async fn start(url: String, resolver: Resolver) -> Self {
        let config = marketplace::Config::new("127.0.0.1:0".parse().unwrap(), url)
            .with_deadline(DEADLINE)
            .with_resolve_interval(RESOLVE_INTERVAL);
        let app = marketplace::Application::build_with_resolver(&config, resolver)
            .await
            .unwrap();
        let app = spawn(app.local_addr(), |stop| app.run_until(stop));
        Self {
            addr: app.addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _app: app,
        }
    }

    /// The home page: which server's books it shows.
    async fn served(&self) -> Served {
        let request = Request::get(format!("http://{}/", self.addr))
            .body(Empty::new())
            .unwrap();
        let exchange = async {
            let response = self.client.request(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        };
        let (status, body) = tokio::time::timeout(DEADLINE * 5, exchange)
            .await
            .expect("a page within the deadline");
        if status != StatusCode::OK {
            return Err(status);
        }
        ['A', 'B']
            .into_iter()
            .find(|server| body.contains(&format!("Shelf {server} book")))
            .ok_or(status)
    }

    /// How many of `pages` pages each server answered, and the failed ones by status.
    async fn tally(&self, pages: usize) -> BTreeMap<String, usize> {
        let mut tally = BTreeMap::new();
        for _ in 0..pages {
            *tally.entry(label(self.served().await)).or_default() += 1;
        }
        tally
    }

    /// Loads pages until one comes from `server`, for at most [`SETTLE`].
    async fn until_served_by(&self, server: char) {
        let started = Instant::now();
        while self.served().await != Ok(server) {
            assert!(
                started.elapsed() < SETTLE,
                "{server} got no call in {SETTLE:?}"
            );
            tokio::time::sleep(RESOLVE_INTERVAL / 4).await;
        }
    }

    /// Loads pages for `span`: their tally, and when the last failed one started.
    async fn pages_for(&self, span: Duration) -> (BTreeMap<String, usize>, Option<Duration>) {
        let (started, mut tally, mut last_failure) = (Instant::now(), BTreeMap::new(), None);
        while started.elapsed() < span {
            let asked = started.elapsed();
            let served = self.served().await;
            if served.is_err() {
                last_failure = Some(asked);
            }
            *tally.entry(label(served)).or_default() += 1;
        }
        (tally, last_failure)
    }
}

fn label(served: Served) -> String {
    match served {
        Ok(name) => name.to_string(),
        Err(status) => format!("failed {}", status.as_u16()),
    }
}

fn count(tally: &BTreeMap<String, usize>, key: &str) -> usize {
    tally.get(key).copied().unwrap_or(0)
}

#[tokio::test]
async fn calls_spread_over_every_address_and_follow_dns_and_failures() {
    let pair = Pair::start().await;
    let dns = Dns::new(&[V4]);
    let url = format!("dns:///recommendations.test:{}", pair.port);
    let marketplace = Marketplace::start(url, dns.resolver()).await;

    // One address: every call goes to A.
    let tally = marketplace.tally(10).await;
    eprintln!("DNS has A only: {tally:?}");
    assert_eq!(count(&tally, "A"), 10, "{tally:?}");

    // Scaled out: B appears in DNS and gets its share without a restart.
    dns.answer(&[V4, V6]);
    marketplace.until_served_by('B').await;
    let tally = marketplace.tally(60).await;
    eprintln!("DNS has A and B: {tally:?}");
    assert_eq!(count(&tally, "A") + count(&tally, "B"), 60, "{tally:?}");
    assert!(
        count(&tally, "A") >= 10 && count(&tally, "B") >= 10,
        "{tally:?}"
    );

    // DNS fails: the last known addresses stay in use.
    dns.fail();
    tokio::time::sleep(RESOLVE_INTERVAL * 3).await;
    let tally = marketplace.tally(30).await;
    eprintln!("DNS fails: {tally:?}");
    assert_eq!(count(&tally, "A") + count(&tally, "B"), 30, "{tally:?}");
    assert!(
        count(&tally, "A") > 0 && count(&tally, "B") > 0,
        "{tally:?}"
    );

    // A leaves DNS (scaled in) while still running: no page fails on the way.
    dns.answer(&[V6]);
    let (tally, last_failure) = marketplace.pages_for(SETTLE).await;
    eprintln!("A leaves DNS, {SETTLE:?} of pages: {tally:?}");
    assert_eq!(last_failure, None, "{tally:?}");
    let tally = marketplace.tally(20).await;
    eprintln!("then: {tally:?}");
    assert_eq!(count(&tally, "B"), 20, "{tally:?}");

    // A is back; then B stops while DNS still lists it, as a killed pod
    // does for a while: once its address no longer answers, it gets no call.
    dns.answer(&[V4, V6]);
    marketplace.until_served_by('A').await;
    pair.b.stop().await.unwrap();
    let (tally, last_failure) = marketplace.pages_for(SETTLE).await;
    eprintln!(
        "B stopped, {SETTLE:?} of pages: {tally:?}, last failure {last_failure:?} after the stop"
    );
    let failed = count(&tally, "failed 503");
    assert_eq!(
        count(&tally, "A") + failed,
        tally.values().sum::<usize>(),
        "{tally:?}"
    );
    assert!(
        last_failure.is_none_or(|at| at < FAILOVER_LIMIT),
        "pages still failed {last_failure:?} after the stop: {tally:?}"
    );
    let tally = marketplace.tally(40).await;
    eprintln!("then: {tally:?}");
    assert_eq!(count(&tally, "A"), 40, "{tally:?}");
    pair.a.stop().await.unwrap();
}

#[tokio::test]
async fn localhost_spreads_over_the_addresses_the_system_resolves() {
    let pair = Pair::start().await;
    let resolved: Vec<IpAddr> = tokio::net::lookup_host(("localhost", pair.port))
        .await
        .unwrap()
        .map(|addr| addr.ip())
        .collect();
    let url = format!("dns:///localhost:{}", pair.port);
    let marketplace = Marketplace::start(url, Resolver::system()).await;
    let tally = marketplace.tally(40).await;
    eprintln!("localhost is {resolved:?}: {tally:?}");
    for (server, ip) in [("A", V4), ("B", V6)] {
        if resolved.contains(&ip) {
            assert!(
                count(&tally, server) > 0,
                "{server} on {ip} got no call: {tally:?}"
            );
        } else {
            assert_eq!(
                count(&tally, server),
                0,
                "{server} is not localhost: {tally:?}"
            );
        }
    }
    assert_eq!(count(&tally, "A") + count(&tally, "B"), 40, "{tally:?}");
}
