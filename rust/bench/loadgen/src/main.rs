use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use loadgen::{Cli, Command};

fn main() -> anyhow::Result<ExitCode> {
    let Cli { command, load } = Cli::parse();
    // One thread: the load generator is pinned to one core, where a
    // current-thread runtime drives the most calls (no hand-offs between threads).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    let json = match command {
        Some(Command::Probe(probe)) => serde_json::to_string(&loadgen::probe(&probe, &runtime)?)?,
        None => serde_json::to_string(&runtime.block_on(loadgen::run(&load))?)?,
    };
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
