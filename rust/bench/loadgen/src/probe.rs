use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_proto::{BookCategory, RecommendationRequest};
use serde::Serialize;
use tokio::runtime::Runtime;
use tonic::transport::Endpoint;

use crate::cli::ProbeArgs;

/// Between two failed attempts: short, so that the first answer is seen within
/// a fraction of a millisecond of the server's being able to give it.
const RETRY_AFTER: Duration = Duration::from_micros(200);
/// Each attempt's own bound, so that a server that accepted and hangs is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// What `loadgen probe` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// When the first successful answer arrived, in nanoseconds since the Unix epoch.
    pub unix_ns: u128,
    /// Attempts made, the successful one included.
    pub attempts: u64,
}

/// Retries one call (or one GET) until it succeeds or `args.timeout` passes.
pub fn probe(args: &ProbeArgs, runtime: &Runtime) -> anyhow::Result<ProbeReport> {
    let give_up = Instant::now() + args.timeout;
    let mut attempts = 0;
    let mut last_error = String::new();
    eprintln!("probing");
    while Instant::now() < give_up {
        attempts += 1;
        let attempt = match (&args.target, &args.http) {
            (Some(target), _) => runtime.block_on(recommend_once(target)),
            (None, Some(url)) => get_once(url),
            (None, None) => bail!("probe needs --target or --http"),
        };
        match attempt {
            Ok(()) => {
                let unix_ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .context("the clock is before 1970")?
                    .as_nanos();
                return Ok(ProbeReport { unix_ns, attempts });
            }
            Err(error) => last_error = format!("{error:#}"),
        }
        std::thread::sleep(RETRY_AFTER);
    }
    bail!(
        "no success in {:?} ({attempts} attempts); the last error: {last_error}",
        args.timeout
    )
}

/// One Recommend call on a new connection: OK with books, or why not.
async fn recommend_once(target: &str) -> anyhow::Result<()> {
    let channel = Endpoint::from_shared(target.to_owned())?
        .connect_timeout(ATTEMPT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT)
        .connect()
        .await?;
    let reply = RecommendationsClient::new(channel)
        .recommend(RecommendationRequest {
            user_id: 1,
            category: BookCategory::Mystery.into(),
            max_results: 3,
        })
        .await?;
    if reply.get_ref().recommendations.is_empty() {
        bail!("an empty answer");
    }
    Ok(())
}

/// One HTTP/1.1 GET on a new connection: status 200, or why not.
fn get_once(url: &str) -> anyhow::Result<()> {
    let (authority, path) = split_url(url)?;
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(ATTEMPT_TIMEOUT))?;
    stream.set_write_timeout(Some(ATTEMPT_TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let status_line = answer
        .split(|&byte| byte == b'\n')
        .next()
        .unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => bail!("answered {:?}", status_line.trim_end()),
    }
}

/// `http://HOST:PORT/PATH` as (`HOST:PORT`, `/PATH`).
fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url:?} is not an http:// URL"))?;
    Ok(match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:5000/").unwrap(),
            ("127.0.0.1:5000", "/")
        );
        assert_eq!(
            split_url("http://localhost:1/a/b").unwrap(),
            ("localhost:1", "/a/b")
        );
        assert_eq!(split_url("http://[::1]:80").unwrap(), ("[::1]:80", "/"));
        assert!(split_url("https://example:443/").is_err());
    }
}
