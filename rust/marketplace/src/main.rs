//! The `marketplace` binary: reads the configuration, sets up logging and
//! serves the marketplace until Ctrl-C or SIGTERM; or, with `healthcheck`,
//! asks a running marketplace whether it is up.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use marketplace::{Application, Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let Cli { command, config } = Cli::parse();
    if let Some(Command::Healthcheck(args)) = command {
        // For container health checks: no logging set-up, one line, the exit status.
        return Ok(match args.check(config.listen) {
            Ok(addr) => {
                println!("{addr}: ok");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("unhealthy: {error}");
                ExitCode::FAILURE
            }
        });
    }
    service_kit::init_tracing(config.log_format);
    let app = Application::build(&config)
        .await
        .context("the marketplace could not start")?;
    app.run_until(service_kit::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
