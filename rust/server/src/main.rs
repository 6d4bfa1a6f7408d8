use anyhow::Context;
use clap::Parser;
use recommendations_server::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::init_tracing(config.log_format);
    let app = Application::build(&config)
        .await
        .context("the Recommendations server could not start")?;
    app.run_until(service_kit::shutdown_signal()).await?;
    Ok(())
}
