//! `ghlsync.toml`: parsed into the configuration or refused with a message naming
//! the file, never a panic; a parsed one yields its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = ghlsync::Config::parse("fuzz.toml", text) {
        let _ = config.data_dir();
        let _ = format!("{config:?}");
        let _ = config.server.limits(Some(1024), 16);
        let _ = config.intake.settings();
    }
});
