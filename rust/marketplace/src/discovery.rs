//! Client-side balancing over every address of a name, for a
//! `dns:///HOST:PORT` Recommendations URL (gRPC's naming convention) and a
//! Kubernetes headless Service.
//!
//! gRPC keeps one long-lived HTTP/2 connection, so behind a plain `ClusterIP`
//! each marketplace would stay pinned to the one pod it first reached. Here
//! HOST is resolved again and again; each of its addresses gets a connection
//! of its own in tonic's balanced channel (power of two choices), new
//! addresses (pods scaled out) are added and vanished ones removed.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::uri::Authority;
use tokio::net::TcpStream;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinSet;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

/// How a Recommendations URL asks for balancing over every address of its host.
pub const DNS_PREFIX: &str = "dns:///";

/// How often the name is resolved again unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Address changes the balancer may have queued; a refresh waits beyond that.
const CHANGES_CAPACITY: usize = 64;

/// The `HOST:PORT` of a `dns:///HOST:PORT` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTarget {
    /// The name to resolve (an IPv6 literal without its brackets).
    pub host: String,
    /// The port every address serves on.
    pub port: u16,
}

impl DnsTarget {
    /// Parses the `HOST:PORT` that follows `dns:///`; the port is required.
    pub fn parse(target: &str) -> Result<Self, &'static str> {
        const EXPECTED: &str = "expected dns:///HOST:PORT";
        let authority: Authority = target.parse().map_err(|_| EXPECTED)?;
        if authority.as_str() != target || authority.as_str().contains('@') {
            return Err(EXPECTED);
        }
        let port = authority
            .port_u16()
            .filter(|&port| port != 0)
            .ok_or("a dns:/// URL needs a port: dns:///HOST:PORT")?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(EXPECTED);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

/// A lookup in progress: the addresses of a host on a port.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// A lookup of the addresses of a host on a port.
type LookupFn = dyn Fn(&str, u16) -> Lookup + Send + Sync;

/// What turns a host and port into addresses: the system's resolver, or in
/// tests a table they change at will.
#[derive(Clone)]
pub struct Resolver(Arc<LookupFn>);

impl Resolver {
    /// The system's resolver (`getaddrinfo`: `/etc/hosts`, then the DNS
    /// servers of `resolv.conf`, as in a pod), through `tokio::net::lookup_host`.
    #[must_use]
    pub fn system() -> Self {
        Self::new(|host, port| {
            let target = (host.to_owned(), port);
            Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
        })
    }

    /// A resolver answering with `lookup`.
    pub fn new(lookup: impl Fn(&str, u16) -> Lookup + Send + Sync + 'static) -> Self {
        Self(Arc::new(lookup))
    }

    async fn resolve(&self, target: &DnsTarget) -> io::Result<Vec<SocketAddr>> {
        (self.0)(&target.host, target.port).await
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

/// How a balanced channel finds its addresses.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Time between two resolutions (and reachability checks).
    pub interval: Duration,
    /// Who resolves the name.
    pub resolver: Resolver,
}

impl Default for Discovery {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            resolver: Resolver::system(),
        }
    }
}

/// A channel balancing calls over the addresses of `target`, kept up to date
/// by a task that resolves it every `discovery.interval`. `endpoint` makes the
/// endpoint of one address; `probe_timeout` bounds the check that an address
/// accepts connections. The task ends when the channel and its clones are
/// dropped. Must be called inside a Tokio runtime.
pub fn balanced_channel<E>(
    target: DnsTarget,
    discovery: Discovery,
    probe_timeout: Duration,
    endpoint: impl Fn(SocketAddr) -> Result<Endpoint, E> + Send + Sync + 'static,
) -> Channel
where
    E: fmt::Display + Send + 'static,
{
    let (channel, changes) = Channel::balance_channel(CHANGES_CAPACITY);
    let refresh = Refresh {
        target,
        discovery,
        probe_timeout,
        endpoint,
        changes,
        resolved: BTreeSet::new(),
        balanced: BTreeSet::new(),
    };
    tokio::spawn(refresh.run());
    channel
}

/// The task that keeps the balancer's addresses up to date.
struct Refresh<F> {
    target: DnsTarget,
    discovery: Discovery,
    probe_timeout: Duration,
    endpoint: F,
    changes: Sender<Change<SocketAddr, Endpoint>>,
    /// The last addresses the name resolved to.
    resolved: BTreeSet<SocketAddr>,
    /// The addresses the balancer has now.
    balanced: BTreeSet<SocketAddr>,
}

/// The balanced channel is gone: nothing is left to refresh.
struct ChannelGone;

impl<F, E> Refresh<F>
where
    F: Fn(SocketAddr) -> Result<Endpoint, E>,
    E: fmt::Display,
{
    async fn run(mut self) {
        loop {
            self.resolve().await;
            let wanted = self.reachable().await;
            if self.apply(&wanted).await.is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(self.discovery.interval) => {}
                () = self.changes.closed() => return,
            }
        }
    }

    /// Resolves the name; when that fails, the last known addresses stay, so
    /// that a DNS outage does not take the service away.
    async fn resolve(&mut self) {
        let host = &self.target.host;
        match self.discovery.resolver.resolve(&self.target).await {
            Ok(addresses) if !addresses.is_empty() => {
                self.resolved = addresses.into_iter().collect();
            }
            Ok(_) => tracing::warn!(
                host,
                kept = self.resolved.len(),
                "the Recommendations host resolved to no address; keeping the last known ones"
            ),
            Err(error) => tracing::warn!(
                host,
                %error,
                kept = self.resolved.len(),
                "cannot resolve the Recommendations host; keeping the last known addresses"
            ),
        }
    }

    /// The resolved addresses that accept a connection now. A pod that died
    /// can stay in DNS for a while; its lazy connection would fail every call
    /// the balancer gives it, so it is left out until it answers again. When
    /// none answers, all are kept: calls then fail at once with `UNAVAILABLE`
    /// rather than wait for the deadline on an empty balancer.
    async fn reachable(&self) -> BTreeSet<SocketAddr> {
        let mut probes = JoinSet::new();
        for &addr in &self.resolved {
            let limit = self.probe_timeout;
            probes.spawn(async move {
                let connected = tokio::time::timeout(limit, TcpStream::connect(addr)).await;
                (addr, matches!(connected, Ok(Ok(_))))
            });
        }
        let mut up = BTreeSet::new();
        while let Some(probe) = probes.join_next().await {
            if let Ok((addr, true)) = probe {
                up.insert(addr);
            }
        }
        if up.is_empty() {
            self.resolved.clone()
        } else {
            up
        }
    }

    /// Tells the balancer which addresses to remove and which to add.
    async fn apply(&mut self, wanted: &BTreeSet<SocketAddr>) -> Result<(), ChannelGone> {
        for &addr in self.balanced.difference(wanted) {
            if self.resolved.contains(&addr) {
                tracing::warn!(%addr, "a Recommendations address does not answer; not using it");
            } else {
                tracing::info!(%addr, "a Recommendations address left DNS; not using it");
            }
            send(&self.changes, Change::Remove(addr)).await?;
        }
        let mut balanced: BTreeSet<SocketAddr> =
            self.balanced.intersection(wanted).copied().collect();
        for &addr in wanted.difference(&self.balanced) {
            match (self.endpoint)(addr) {
                Ok(endpoint) => {
                    tracing::info!(%addr, "using a Recommendations address");
                    send(&self.changes, Change::Insert(addr, endpoint)).await?;
                    balanced.insert(addr);
                }
                Err(error) => {
                    tracing::warn!(%addr, %error, "cannot use a Recommendations address");
                }
            }
        }
        self.balanced = balanced;
        Ok(())
    }
}

async fn send(
    changes: &Sender<Change<SocketAddr, Endpoint>>,
    change: Change<SocketAddr, Endpoint>,
) -> Result<(), ChannelGone> {
    changes.send(change).await.map_err(|_| ChannelGone)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::net::TcpListener;
    use tokio::sync::mpsc::{Receiver, channel};

    use super::*;

    #[test]
    fn a_target_needs_a_host_and_a_port() {
        assert_eq!(
            DnsTarget::parse("recommendations:50051"),
            Ok(DnsTarget {
                host: "recommendations".to_owned(),
                port: 50051
            })
        );
        assert_eq!(DnsTarget::parse("[::1]:7").unwrap().host, "::1");
        for bad in [
            "",
            "recommendations",
            ":50051",
            "host:0",
            "a/b:1",
            "u@host:1",
        ] {
            assert!(DnsTarget::parse(bad).is_err(), "{bad}");
        }
    }

    /// The resolver's answer, for the next lookups.
    type Table = Arc<Mutex<io::Result<Vec<SocketAddr>>>>;

    /// The changes the balancer would get.
    type Changes = Receiver<Change<SocketAddr, Endpoint>>;

    /// A refresh whose endpoints are plain `http://` ones.
    type PlainRefresh = Refresh<fn(SocketAddr) -> Result<Endpoint, String>>;

    fn plain(addr: SocketAddr) -> Result<Endpoint, String> {
        Endpoint::from_shared(format!("http://{addr}")).map_err(|error| error.to_string())
    }

    fn refresh(table: &Table) -> (PlainRefresh, Changes) {
        let table = Arc::clone(table);
        let resolver = Resolver::new(move |_, _| {
            let answer = match &*table.lock().unwrap() {
                Ok(addresses) => Ok(addresses.clone()),
                Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
            };
            Box::pin(async move { answer })
        });
        let (changes, received) = channel(CHANGES_CAPACITY);
        let refresh: PlainRefresh = Refresh {
            target: DnsTarget::parse("recommendations:1").unwrap(),
            discovery: Discovery {
                interval: Duration::from_millis(10),
                resolver,
            },
            probe_timeout: Duration::from_secs(1),
            endpoint: plain,
            changes,
            resolved: BTreeSet::new(),
            balanced: BTreeSet::new(),
        };
        (refresh, received)
    }

    /// The changes sent so far, as `+addr` and `-addr`.
    fn drain(received: &mut Changes) -> Vec<String> {
        let mut changes = Vec::new();
        while let Ok(change) = received.try_recv() {
            changes.push(match change {
                Change::Insert(addr, _) => format!("+{addr}"),
                Change::Remove(addr) => format!("-{addr}"),
            });
        }
        changes
    }

    async fn tick(refresh: &mut PlainRefresh) {
        refresh.resolve().await;
        let wanted = refresh.reachable().await;
        assert!(refresh.apply(&wanted).await.is_ok());
    }

    #[tokio::test]
    async fn addresses_follow_dns_and_survive_its_failures() {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let second = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a, b) = (first.local_addr().unwrap(), second.local_addr().unwrap());
        let table: Table = Arc::new(Mutex::new(Ok(vec![a])));
        let (mut refresh, mut received) = refresh(&table);

        tick(&mut refresh).await;
        assert_eq!(drain(&mut received), [format!("+{a}")]);

        *table.lock().unwrap() = Ok(vec![a, b]);
        tick(&mut refresh).await;
        assert_eq!(drain(&mut received), [format!("+{b}")]);

        *table.lock().unwrap() = Err(io::Error::other("no DNS"));
        tick(&mut refresh).await;
        assert!(
            drain(&mut received).is_empty(),
            "a DNS failure changed the set"
        );

        *table.lock().unwrap() = Ok(vec![b]);
        tick(&mut refresh).await;
        assert_eq!(drain(&mut received), [format!("-{a}")]);
    }

    #[tokio::test]
    async fn an_address_that_does_not_answer_is_left_out_while_another_does() {
        let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = live.local_addr().unwrap();
        let dead = service_kit::testing::closed_port().await;
        let table: Table = Arc::new(Mutex::new(Ok(vec![live, dead])));
        let (mut refresh, mut received) = refresh(&table);
        tick(&mut refresh).await;
        assert_eq!(drain(&mut received), [format!("+{live}")]);

        // None answers: all are kept, so calls fail fast instead of waiting.
        *table.lock().unwrap() = Ok(vec![dead]);
        tick(&mut refresh).await;
        assert_eq!(
            drain(&mut received),
            [format!("-{live}"), format!("+{dead}")]
        );
    }
}
