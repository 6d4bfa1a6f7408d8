//! The Recommendations contract (`proto/recommendations.proto`) as Rust types,
//! with a tonic client and server: the bookstore's Rust SDK.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `client` | yes | `recommendations_client::RecommendationsClient`, with `connect` over tonic's channel |
//! | `server` | no | `recommendations_server::{Recommendations, RecommendationsServer}`, the trait to implement and the service to serve |
//!
//! The messages, [`BookCategory`] and [`FILE_DESCRIPTOR_SET`] (for server
//! reflection) are always there. A client needs nothing else; a server turns
//! the client off and picks its own tonic transport:
//!
//! ```toml
//! recommendations-proto = { version = "0.1", default-features = false, features = ["server"] }
//! ```
//!
//! # A client
//!
//! The notes' call, from Rust: three mystery books for user 1. The server
//! refuses a negative `max_results` with `INVALID_ARGUMENT` and an unknown
//! category with `NOT_FOUND` ("Category not found"); give every call a deadline.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use recommendations_proto::recommendations_client::RecommendationsClient;
//! use recommendations_proto::{BookCategory, RecommendationRequest};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut client = RecommendationsClient::connect("http://localhost:50051").await?;
//!     let mut request = tonic::Request::new(RecommendationRequest {
//!         user_id: 1,
//!         category: BookCategory::Mystery.into(),
//!         max_results: 3,
//!     });
//!     request.set_timeout(Duration::from_secs(2));
//!     for book in client.recommend(request).await?.into_inner().recommendations {
//!         println!("{} {}", book.id, book.title);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The code under `src/gen/` is written by `buf generate` (`just gen`) and
//! committed; never edit it by hand. The contract has no protobuf package, so
//! everything lives at the crate root, as the wire names do.

#![warn(missing_docs)]

#[allow(
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations,
    missing_docs,
    unreachable_pub,
    reason = "generated code"
)]
mod generated {
    include!("gen/recommendations.rs");
}

pub use generated::*;

/// The encoded `FileDescriptorSet` of the contract, for server reflection.
pub use generated::FILE_DESCRIPTOR_SET;
