//! A GHL webhook as the intake sees it: a signature header and a raw body. The
//! verifier must refuse (never panic on) any signature, and the body must parse
//! into the event models or be refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: the signature; the rest: the body.
    let (signature, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let signature = String::from_utf8_lossy(signature);
    let verifier = ghl::WebhookVerifier::ghl();
    for header in ["x-ghl-signature", "x-wh-signature"] {
        let signed = verifier.verify_with(
            |name| (name == header).then_some(signature.as_ref()),
            body,
        );
        // Nobody but HighLevel holds the private keys: nothing verifies.
        assert!(signed.is_err(), "a fuzzed signature verified");
    }
    let _ = serde_json::from_slice::<ghl::events::ContactEvent>(body);
    let _ = serde_json::from_slice::<ghl::events::NoteEvent>(body);
    let _ = serde_json::from_slice::<ghl::events::TaskEvent>(body);
    let _ = serde_json::from_slice::<ghl::events::AppointmentEvent>(body);
});
