//! shift-traffic: spec or strategy bytes → `spec::parse` → `plan::plan` → step decisions.
//! The property lives in `shift_traffic::fuzzing` so regression tests check it too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = shift_traffic::fuzzing::check_spec_plan(data) {
        panic!("{violation}");
    }
});
