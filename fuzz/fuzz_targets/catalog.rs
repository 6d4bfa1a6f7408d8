//! Arbitrary bytes as a catalogue file: `Catalog::from_json`, then `recommend`
//! on whatever parses. The checks are in `checks/catalog.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/catalog.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_catalog(data));
