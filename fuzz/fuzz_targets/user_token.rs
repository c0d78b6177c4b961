#![no_main]
//! `cargo xtask fuzz user_token --seconds N`; see `fuzz/targets.rs`.

#[path = "../targets.rs"]
#[allow(dead_code)]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::user_token(data));
