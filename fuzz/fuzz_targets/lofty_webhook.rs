//! A Lofty delivery body: parsed with the intake's cap, refused or built, never a
//! panic; a built batch never holds more changes than the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CAP: usize = 5_000;

fuzz_target!(|body: &[u8]| {
    if let Ok(batch) = lofty::webhook::parse_capped(body, CAP) {
        let _ = format!("{batch:?}");
    }
});
