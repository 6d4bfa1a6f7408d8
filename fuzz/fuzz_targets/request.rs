//! Arbitrary bytes as the body of a Recommend call: decoded as a
//! `RecommendationRequest` and answered by the server's service. The checks
//! are in `checks/request.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/request.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_request(data));
