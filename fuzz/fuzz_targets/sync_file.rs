//! A sync file (the TOML a flow is), then a record mapped through it: a file that
//! does not build is an error naming the problem; one that builds maps, matches,
//! filters and fingerprints any record without a panic.
#![no_main]

use domain::sync::{self, Registry, Side, SyncFile};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // The file, then after a NUL byte a JSON record (or a fixed one).
    let (file, record) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], serde_json::from_slice(&data[i + 1..]).ok()),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    let Ok(spec) = SyncFile::load("fuzz.toml", text, &Registry::default()) else {
        return;
    };
    let record: Value = record.unwrap_or_else(|| {
        json!({"firstName": " Ada ", "email": "ADA@example.com", "phone": "+1 415 555 0100",
               "tags": ["a", "b"], "customFields": [{"id": "x", "value": 3}]})
    });
    for side in [Side::Left, Side::Right] {
        let _ = sync::key_values(&spec, side, &record);
        let _ = spec.passes(side, &record);
        let _ = sync::fingerprint(&spec, side, &record);
    }
    let _ = sync::plan(&spec, &record, &Value::Null, None, sync::Versions::default());
    let _ = sync::plan(&spec, &Value::Null, &record, None, sync::Versions::default());
    let _ = sync::plan(&spec, &record, &record, None, sync::Versions::default());
});
