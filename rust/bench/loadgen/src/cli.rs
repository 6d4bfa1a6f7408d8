use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use recommendations_proto::BookCategory;

// No doc comment: clap would make it `--help`'s text, in place of the crate's.
#[allow(missing_docs)]
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Closed-loop gRPC load on a Recommendations server; prints one JSON document.",
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Instead of a load run.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The load run's settings.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Retry one call (or one HTTP GET) until it succeeds, then print when it
    /// did (Unix time in nanoseconds) as JSON. It writes `probing` to standard
    /// error once it has started, so that a caller can start the server after it.
    Probe(ProbeArgs),
}

/// A load run.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The server, as `http://HOST:PORT`.
    #[arg(long, required = true)]
    pub target: Option<String>,

    /// Calls in flight at once (closed loop: each worker waits for its answer).
    #[arg(long, default_value = "16")]
    pub concurrency: NonZeroUsize,

    /// HTTP/2 connections the workers share (at most one per worker).
    #[arg(long, default_value = "4")]
    pub connections: NonZeroUsize,

    /// Seconds measured, after the warm-up.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    pub duration: Duration,

    /// Seconds of calls before the measurement starts (their errors are still counted).
    #[arg(long, default_value = "1", value_parser = parse_seconds)]
    pub warmup: Duration,

    /// The users the calls cycle over: a range `FIRST-LAST` or a list `1,2,3`.
    #[arg(long, default_value = "1-1000")]
    pub user_ids: UserIds,

    /// The categories the calls cycle over, by their proto names.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "MYSTERY,SCIENCE_FICTION,SELF_HELP",
        value_parser = parse_category
    )]
    pub categories: Vec<BookCategory>,

    /// `max_results` of every call.
    #[arg(long, default_value = "3")]
    pub max_results: i32,

    /// Deadline of each call, in milliseconds; a call past it counts as an error.
    #[arg(long, default_value = "10000")]
    pub timeout_ms: u64,

    /// Read `/proc/PID/stat` of this process at the start and the end of the
    /// measured window, and print both (its CPU time is in them).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
}

/// `loadgen probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// A gRPC server, as `http://HOST:PORT`: one Recommend call must answer OK with books.
    #[arg(long, required_unless_present = "http", conflicts_with = "http")]
    pub target: Option<String>,

    /// An HTTP URL, as `http://HOST:PORT/PATH`: one GET must answer 200.
    #[arg(long)]
    pub http: Option<String>,

    /// Seconds to keep trying.
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    pub timeout: Duration,
}

/// The users calls cycle over, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds(pub Vec<i32>);

impl FromStr for UserIds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            part.trim()
                .parse::<i32>()
                .map_err(|error| format!("{part:?} is not a user id: {error}"))
        };
        let ids: Vec<i32> = match text.split_once('-') {
            Some((first, last)) if !first.trim().is_empty() => {
                let (first, last) = (number(first)?, number(last)?);
                if first > last {
                    return Err(format!("the range {text:?} is empty"));
                }
                (first..=last).collect()
            }
            _ => text.split(',').map(number).collect::<Result<_, _>>()?,
        };
        Ok(Self(ids))
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|error| format!("{text:?} is not a number of seconds: {error}"))?;
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text:?}: {error}"))
}

fn parse_category(text: &str) -> Result<BookCategory, String> {
    BookCategory::from_str_name(text.trim()).ok_or_else(|| {
        format!("{text:?} is not a category (MYSTERY, SCIENCE_FICTION or SELF_HELP)")
    })
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
    fn a_load_run_takes_its_flags_and_defaults() {
        let cli = Cli::try_parse_from([
            "loadgen",
            "--target",
            "http://127.0.0.1:50051",
            "--concurrency",
            "64",
            "--duration",
            "0.5",
            "--user-ids",
            "7,8",
            "--categories",
            "MYSTERY,SELF_HELP",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        let load = cli.load;
        assert_eq!(load.target.as_deref(), Some("http://127.0.0.1:50051"));
        assert_eq!(load.concurrency.get(), 64);
        assert_eq!(load.connections.get(), 4);
        assert_eq!(load.duration, Duration::from_millis(500));
        assert_eq!(load.warmup, Duration::from_secs(1));
        assert_eq!(load.user_ids, UserIds(vec![7, 8]));
        assert_eq!(
            load.categories,
            [BookCategory::Mystery, BookCategory::SelfHelp]
        );
        assert_eq!(load.max_results, 3);
        assert_eq!(load.server_pid, None);
    }

    #[test]
    fn a_load_run_needs_a_target() {
        assert!(Cli::try_parse_from(["loadgen", "--concurrency", "1"]).is_err());
    }

    #[test]
    fn probe_needs_exactly_one_of_target_and_http() {
        let parse = |args: &[&str]| Cli::try_parse_from(["loadgen", "probe"].iter().chain(args));
        let Some(Command::Probe(probe)) =
            parse(&["--http", "http://127.0.0.1:1/"]).unwrap().command
        else {
            panic!("not a probe");
        };
        assert_eq!(probe.http.as_deref(), Some("http://127.0.0.1:1/"));
        assert_eq!(probe.timeout, Duration::from_secs(30));
        let Some(Command::Probe(probe)) = parse(&["--target", "http://a:1", "--timeout", "0.5"])
            .unwrap()
            .command
        else {
            panic!("not a probe");
        };
        assert_eq!(probe.target.as_deref(), Some("http://a:1"));
        assert_eq!(probe.timeout, Duration::from_millis(500));
        assert!(parse(&[]).is_err());
        assert!(parse(&["--target", "http://a:1", "--http", "http://a:1/"]).is_err());
    }

    #[test]
    fn user_ids_are_a_range_or_a_list() {
        assert_eq!("3-5".parse(), Ok(UserIds(vec![3, 4, 5])));
        assert_eq!("9".parse(), Ok(UserIds(vec![9])));
        assert_eq!("1, 2,10".parse(), Ok(UserIds(vec![1, 2, 10])));
        assert_eq!("-4".parse(), Ok(UserIds(vec![-4])));
        assert!("5-3".parse::<UserIds>().is_err());
        assert!("one".parse::<UserIds>().is_err());
    }

    #[test]
    fn categories_go_by_their_proto_names() {
        assert_eq!(
            parse_category("SCIENCE_FICTION"),
            Ok(BookCategory::ScienceFiction)
        );
        assert!(parse_category("POETRY").is_err());
    }

    #[test]
    fn seconds_may_be_fractions_but_not_negative() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
