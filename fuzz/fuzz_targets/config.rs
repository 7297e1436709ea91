//! validate-traffic: environment bytes → `Config::from_env`.
//! The property lives in `validate_traffic::fuzzing` so regression tests check it too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = validate_traffic::fuzzing::check_config(data) {
        panic!("{violation}");
    }
});
