//! The `request` fuzz target's seeds and past crashes, replayed through its
//! checks on every `cargo test` (the fuzzer itself runs with `just fuzz`).

#[path = "../../../fuzz/checks/replay.rs"]
mod replay;
#[path = "../../../fuzz/checks/request.rs"]
mod request;

#[test]
fn every_kept_request_input_passes_the_fuzz_checks() {
    replay::replay(
        env!("CARGO_MANIFEST_DIR"),
        "request",
        request::check_request,
    );
}
