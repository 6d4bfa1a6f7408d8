//! The `catalog` fuzz target's seeds and past crashes, replayed through its
//! checks on every `cargo test` (the fuzzer itself runs with `just fuzz`).

#[path = "../../../fuzz/checks/catalog.rs"]
mod catalog;
#[path = "../../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn every_kept_catalogue_input_passes_the_fuzz_checks() {
    replay::replay(
        env!("CARGO_MANIFEST_DIR"),
        "catalog",
        catalog::check_catalog,
    );
}
