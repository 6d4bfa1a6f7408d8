//! `empty-server-tuned`: the no-logic server on the runtime and the
//! allocator the `recommendations` server ships with (see the library's
//! documentation).

use anyhow::Context;
use clap::Parser;
use empty_server::Args;

/// The allocator `recommendations` ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A no-logic Recommendations server on the runtime and the allocator
/// `recommendations` ships with: the same three books for every call.
#[derive(Debug, Parser)]
#[command(name = "empty-server-tuned")]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn main() -> anyhow::Result<()> {
    let Cli { args } = Cli::parse();
    // The runtime `recommendations` starts with no --worker-threads: one
    // worker per usable core, the current-thread scheduler on one.
    let runtime = service_kit::runtime(None).context("cannot start the async runtime")?;
    runtime.block_on(empty_server::serve(args.listen))
}
