//! The `marketplace` binary: reads the configuration, sets up logging and
//! serves the marketplace until Ctrl-C or SIGTERM.

use anyhow::Context;
use clap::Parser;
use marketplace::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::init_tracing(config.log_format);
    let app = Application::build(&config)
        .await
        .context("the marketplace could not start")?;
    app.run_until(service_kit::shutdown_signal()).await?;
    Ok(())
}
