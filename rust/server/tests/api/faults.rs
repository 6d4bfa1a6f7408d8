//! The real `recommendations` binary, as a child process, killed outright
//! (SIGKILL) while a tonic client calls it, then restarted on the same port.
//! The client keeps its one lazily connected channel throughout: it must
//! serve again by itself within a bound, and every answer it calls a success
//! must be exactly the catalogue's books for the request.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_proto::{BookRecommendation, RecommendationRequest};
use recommender::{Catalog, Category};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

/// How long the restarted server's client may take to serve again.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// How long the server stays dead: long enough for the client to see it.
const OUTAGE: Duration = Duration::from_millis(500);
/// Each call's deadline, so that no call can hang the test.
const DEADLINE: Duration = Duration::from_secs(2);
/// The pause between calls: steady load without saturating a small machine.
const PAUSE: Duration = Duration::from_millis(10);

/// The server binary running as a child process; killed when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts the binary on `listen` and waits for its `listening addr=` line.
    fn start(listen: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recommendations"))
            .args(["--listen", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let (lines, listening) = mpsc::channel();
        let log = child.stderr.take().expect("piped stderr");
        // Reads the log to its end, so that a full pipe never blocks the server.
        std::thread::spawn(move || {
            let show =
                std::env::var("TEST_LOG").is_ok_and(|value| !value.is_empty() && value != "0");
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                if show {
                    eprintln!("[recommendations] {line}");
                }
                if let Some(addr) = listening_addr(&line) {
                    let _ = lines.send(addr);
                }
            }
        });
        let addr = listening
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs `listening addr=` in time");
        Self { child, addr }
    }

    /// SIGKILL: no shutdown, no goodbye to the clients.
    fn kill(mut self) {
        self.child.kill().expect("the server is killed");
        self.child.wait().expect("the killed server is reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a `... listening addr=127.0.0.1:PORT books=9` log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening addr=")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The requests the client cycles through, with the catalogue's answer to each.
fn requests_and_answers() -> Vec<(RecommendationRequest, Vec<BookRecommendation>)> {
    let catalog = Catalog::notes();
    [
        (1, Category::Mystery, 3),
        (7, Category::ScienceFiction, 2),
        (-4, Category::SelfHelp, 1),
    ]
    .into_iter()
    .map(|(user_id, category, max_results)| {
        let books = catalog
            .recommend(user_id, category, max_results)
            .unwrap()
            .into_iter()
            .map(|book| BookRecommendation {
                id: book.id,
                title: book.title.clone(),
            })
            .collect();
        let request = RecommendationRequest {
            user_id,
            category: category.value(),
            max_results,
        };
        (request, books)
    })
    .collect()
}

/// What one call gave: the right books, or an error with its code. A wrong
/// answer fails the test at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Right,
    Failed(Code),
}

async fn call(
    client: &mut RecommendationsClient<Channel>,
    request: RecommendationRequest,
    expected: &[BookRecommendation],
) -> Outcome {
    let mut call = tonic::Request::new(request);
    call.set_timeout(DEADLINE);
    match tokio::time::timeout(DEADLINE, client.recommend(call)).await {
        Err(_) => Outcome::Failed(Code::DeadlineExceeded),
        Ok(Err(status)) => Outcome::Failed(status.code()),
        Ok(Ok(response)) => {
            let books = response.into_inner().recommendations;
            assert_eq!(books, expected, "a wrong answer to {request:?}");
            Outcome::Right
        }
    }
}

/// One call: when it ended, and how.
#[derive(Debug, Clone, Copy)]
struct Call {
    ended: Instant,
    outcome: Outcome,
}

/// Calls in a loop until `until` says stop.
async fn call_until(
    mut client: RecommendationsClient<Channel>,
    mut until: impl FnMut(&[Call]) -> bool,
) -> Vec<Call> {
    let cases = requests_and_answers();
    let mut calls = Vec::new();
    for (request, expected) in cases.iter().cycle() {
        if until(&calls) {
            break;
        }
        let outcome = call(&mut client, *request, expected).await;
        calls.push(Call {
            ended: Instant::now(),
            outcome,
        });
        tokio::time::sleep(PAUSE).await;
    }
    calls
}

// Multi-threaded: the calling task keeps running on a worker while the test
// blocks on starting and killing the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarted_on_its_port_serves_the_same_client_again() {
    let server = ServerProcess::start("127.0.0.1:0");
    let addr = server.addr;
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(DEADLINE)
        .connect_lazy();
    let client = RecommendationsClient::new(channel);

    // Before the kill: every answer right, and several of them.
    let before = call_until(client.clone(), |calls| calls.len() >= 6).await;
    assert!(
        before.iter().all(|call| call.outcome == Outcome::Right),
        "{before:?}"
    );

    // The client keeps calling while the server dies and comes back, until
    // five right answers in a row follow the outage (or a limit well past the bound).
    let calling = tokio::spawn({
        let give_up = Instant::now() + OUTAGE + RECOVERY_BOUND + Duration::from_secs(30);
        call_until(client.clone(), move |calls| {
            let saw_outage = calls.iter().any(|call| call.outcome != Outcome::Right);
            let back = calls.len() >= 5
                && calls[calls.len() - 5..]
                    .iter()
                    .all(|call| call.outcome == Outcome::Right);
            (saw_outage && back) || Instant::now() > give_up
        })
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.kill();
    tokio::time::sleep(OUTAGE).await;
    let restarted_at = Instant::now();
    let restarted = ServerProcess::start(&addr.to_string());
    let listening = restarted_at.elapsed();
    let calls = calling.await.expect("the calling task does not panic");

    let failed: Vec<&Call> = calls
        .iter()
        .filter(|call| call.outcome != Outcome::Right)
        .collect();
    assert!(!failed.is_empty(), "the client never saw the outage");
    // The first failed call may be the one that met the connection the kill
    // broke: tonic reports that as UNKNOWN "transport error" or CANCELLED
    // "connection closed". Every later call finds nothing listening: UNAVAILABLE.
    for (index, call) in failed.iter().enumerate() {
        let Outcome::Failed(code) = call.outcome else {
            unreachable!("only failures were kept")
        };
        let broken_connection = index == 0 && matches!(code, Code::Unknown | Code::Cancelled);
        assert!(
            code == Code::Unavailable || broken_connection,
            "failure {index}: {call:?}"
        );
    }
    let recovered = calls
        .iter()
        .find(|call| call.ended > restarted_at && call.outcome == Outcome::Right)
        .map(|call| call.ended - restarted_at)
        .expect("the client is served again after the restart");
    println!(
        "tonic client: first right answer {recovered:.2?} after the restarted server's launch \
         (listening after {listening:.2?}); {} failed calls during the outage",
        failed.len()
    );
    assert!(
        recovered < RECOVERY_BOUND,
        "recovered only after {recovered:?}"
    );
    drop(restarted);
}
