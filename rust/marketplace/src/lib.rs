//! The bookstore's web marketplace: configuration, start-up, the
//! Recommendations client and the pages. `main.rs` only wires these together,
//! so the tests drive the same application the binary runs.

pub mod config;
pub mod error;
pub mod pages;
pub mod recommendations;
pub mod routes;
pub mod startup;

pub use config::Config;
pub use error::PageError;
pub use recommendations::Recommendations;
pub use routes::{AppState, router};
pub use startup::{Application, StartupError};

#[cfg(test)]
mod test_support {
    use std::net::SocketAddr;

    /// An address where nothing listens: a port the system just handed out and took back.
    pub(crate) async fn closed_port() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }
}
