//! The command line: serving (no subcommand), or the `healthcheck` subcommand.

use clap::{Parser, Subcommand};

use crate::Config;
use crate::healthcheck::HealthcheckArgs;

// The whole command line: serving without a subcommand, or `healthcheck`.
// No doc comment on purpose: clap would make it `--help`'s text, in place of
// `Config`'s (which a flattened struct lends its parent).
#[allow(missing_docs)]
#[derive(Debug, Clone, Parser)]
#[command(name = "marketplace", version)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The marketplace's configuration; `healthcheck` reads its `--listen` too.
    #[command(flatten)]
    pub config: Config,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// GET a running marketplace's `/healthz`: exit status 0 when it answers
    /// 200, 1 otherwise, with the reason on standard error.
    Healthcheck(HealthcheckArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_is_the_configurations() {
        let (cli, config) = (Cli::command(), Config::command());
        assert_eq!(cli.get_about(), config.get_about());
        assert_eq!(cli.get_long_about(), config.get_long_about());
    }

    #[test]
    fn without_a_subcommand_it_serves_as_before() {
        let cli = Cli::try_parse_from(["marketplace", "--deadline-ms", "250"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.config.deadline_ms, 250);
    }

    #[test]
    fn healthcheck_takes_its_own_flags() {
        let cli =
            Cli::try_parse_from(["marketplace", "healthcheck", "--addr", "web:5000"]).unwrap();
        let Some(Command::Healthcheck(args)) = cli.command else {
            panic!("no healthcheck: {cli:?}");
        };
        assert_eq!(args.addr.as_deref(), Some("web:5000"));
    }
}
