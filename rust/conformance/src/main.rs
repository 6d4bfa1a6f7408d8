//! `conformance-client`: the Rust tonic client's runner for the conformance
//! table in `proto/cases/`.
//!
//! It sends every case's request to `--target` with the generated client and
//! prints one JSON document of what came back; the checker compares it with the
//! cases. It fails (exit status 1) only when it cannot run at all: bad flags or
//! an unreadable case file. A server it cannot reach is an `UNAVAILABLE` answer
//! per case, like any other status.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use recommendations_proto::RecommendationRequest;
use recommendations_proto::recommendations_client::RecommendationsClient;
use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};

/// Every call's deadline.
const DEADLINE: Duration = Duration::from_secs(10);

/// Runs the conformance cases with the Rust tonic client.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The folder of case files (`*.json`, read in file-name order).
    #[arg(long)]
    cases: PathBuf,
    /// The server, as `http://HOST:PORT`.
    #[arg(long)]
    target: String,
}

/// One file of the table: its cases (other fields are the checker's).
#[derive(Debug, Deserialize)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    request: CaseRequest,
}

#[derive(Debug, Deserialize)]
struct CaseRequest {
    user_id: i32,
    category: i32,
    max_results: i32,
}

#[derive(Debug, Serialize)]
struct Report {
    client: &'static str,
    results: Vec<Outcome>,
}

/// What one call gave: a status, its message and the books.
#[derive(Debug, Serialize)]
struct Outcome {
    file: String,
    case: String,
    status: &'static str,
    message: String,
    books: Vec<Book>,
}

#[derive(Debug, Serialize)]
struct Book {
    id: i32,
    title: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let files = read_cases(&cli.cases)?;
    // Lazy: an unreachable server is an answer per case, not a failure to run.
    let channel = Endpoint::from_shared(cli.target.clone())
        .with_context(|| format!("--target {} is not a URL", cli.target))?
        .connect_lazy();
    let mut client = RecommendationsClient::new(channel);
    let mut results = Vec::new();
    for (file, cases) in files {
        for case in cases {
            results.push(run(&mut client, &file, case).await);
        }
    }
    let report = Report {
        client: "rust-tonic",
        results,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Every `*.json` file in `dir`, by file name, as (file stem, cases).
fn read_cases(dir: &Path) -> Result<Vec<(String, Vec<Case>)>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let file: CaseFile = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            let stem = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((stem, file.cases))
        })
        .collect()
}

async fn run(client: &mut RecommendationsClient<Channel>, file: &str, case: Case) -> Outcome {
    let CaseRequest {
        user_id,
        category,
        max_results,
    } = case.request;
    let mut request = Request::new(RecommendationRequest {
        user_id,
        category,
        max_results,
    });
    request.set_timeout(DEADLINE);
    let (status, message, books) = match client.recommend(request).await {
        Ok(response) => {
            let books = response
                .into_inner()
                .recommendations
                .into_iter()
                .map(|book| Book {
                    id: book.id,
                    title: book.title,
                })
                .collect();
            ("OK", String::new(), books)
        }
        Err(status) => (
            code_name(status.code()),
            status.message().to_owned(),
            Vec::new(),
        ),
    };
    Outcome {
        file: file.to_owned(),
        case: case.name,
        status,
        message,
        books,
    }
}

/// The status code's name as gRPC spells it (`NOT_FOUND`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_grpcs() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_not_a_crash() {
        // Port 1 on loopback: nothing listens there.
        let channel = Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let mut client = RecommendationsClient::new(channel);
        let case = Case {
            name: "one".into(),
            request: CaseRequest {
                user_id: 1,
                category: 0,
                max_results: 1,
            },
        };
        let outcome = run(&mut client, "file", case).await;
        assert_eq!(outcome.status, "UNAVAILABLE");
        assert!(outcome.books.is_empty());
    }
}
