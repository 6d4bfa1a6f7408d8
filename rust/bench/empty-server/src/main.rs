//! `empty-server`: the no-logic yardstick with tokio's and tonic's defaults
//! (see the library's documentation).

use clap::Parser;
use empty_server::Args;

/// A no-logic Recommendations server with tokio's and tonic's defaults: the
/// same three books for every call.
#[derive(Debug, Parser)]
#[command(name = "empty-server")]
struct Cli {
    #[command(flatten)]
    args: Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { args } = Cli::parse();
    empty_server::serve(args.listen).await
}
