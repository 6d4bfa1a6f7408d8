//! The Recommendations contract (`proto/recommendations.proto`) as Rust types
//! and a tonic client and server.
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
