//! The yardsticks of `just bench`: what a tonic server costs with no logic of
//! its own. Both binaries serve the `Recommendations` contract with an
//! untouched `Server::builder()`, no layers and no logging, by answering every
//! call with one pre-built response of three books, so that any cost beyond
//! them is ours:
//!
//! - `empty-server`, with tokio's and tonic's defaults (`#[tokio::main]`): the
//!   yardstick the targets are set against;
//! - `empty-server-tuned`, on the runtime the `recommendations` server ships
//!   with (one worker per usable core, tokio's current-thread scheduler on
//!   one) and its allocator (mimalloc): the floor of what a server on tonic's
//!   transport, configured as ours is, costs on a machine.

use std::net::SocketAddr;

use anyhow::Context;
use recommendations_proto::recommendations_server::{Recommendations, RecommendationsServer};
use recommendations_proto::{BookRecommendation, RecommendationRequest, RecommendationResponse};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// The command line both binaries share.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port. The bound address is
    /// printed on standard error as `listening addr=ADDR`, as the
    /// `recommendations` server logs it.
    #[arg(long, default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,
}

/// Answers every call with a clone of `answer`.
#[derive(Debug)]
struct Canned {
    answer: RecommendationResponse,
}

#[tonic::async_trait]
impl Recommendations for Canned {
    async fn recommend(
        &self,
        _request: Request<RecommendationRequest>,
    ) -> Result<Response<RecommendationResponse>, Status> {
        Ok(Response::new(self.answer.clone()))
    }
}

/// Serves the canned answer on `listen` until SIGINT or SIGTERM, then lets
/// the calls in flight finish: a process that ends by itself, rather than by
/// the signal's default, writes its profile when built instrumented
/// (`tools/pgo/build.sh` trains `empty-server-tuned`).
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let answer = RecommendationResponse {
        recommendations: [
            (1, "The Maltese Falcon"),
            (2, "Murder on the Orient Express"),
            (3, "The Hound of the Baskervilles"),
        ]
        .into_iter()
        .map(|(id, title)| BookRecommendation {
            id,
            title: title.to_owned(),
        })
        .collect(),
    };
    // Bound here rather than by `Server::serve`, so that port 0 can be
    // reported; TCP_NODELAY as `Server::serve` sets it by default.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    eprintln!("listening addr={addr}");
    Server::builder()
        .add_service(RecommendationsServer::new(Canned { answer }))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            service_kit::shutdown_signal(),
        )
        .await?;
    Ok(())
}
