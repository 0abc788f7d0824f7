//! Feeds arbitrary input to `TokenVerifier::verify`.
//!
//! Half the inputs are taken as a token as they are; the other half overwrite
//! a genuine token byte by byte, so that the fuzzer starts past the shape
//! checks and reaches the signature and claims. Nothing may panic, and a
//! mutated token that still verifies must say exactly what the genuine one
//! said.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mandate_auth::{IssuedToken, TokenIssuer, TokenKey, TokenRequest, TokenVerifier};

const ISSUER: &str = "https://mandate.example";
const AUDIENCE: &str = "https://mandate.example/mcp";
const NOW: i64 = 1_700_000_000;

struct Fixture {
    verifier: TokenVerifier,
    genuine: IssuedToken,
}

static FIXTURE: LazyLock<Option<Fixture>> = LazyLock::new(|| {
    let key = TokenKey::generate();
    let verifier = TokenVerifier::new(ISSUER, AUDIENCE, vec![key.verifier_key()]);
    let genuine = TokenIssuer::new(key, ISSUER, AUDIENCE)
        .issue(&TokenRequest {
            agent: "agent-7".into(),
            mandate: "mdt-42".into(),
            mandate_expires_at: NOW + 3600,
            act: None,
            now: NOW,
        })
        .ok()?;
    Some(Fixture { verifier, genuine })
});

fuzz_target!(|data: &[u8]| {
    let Some(fixture) = FIXTURE.as_ref() else {
        return;
    };
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let token = String::from_utf8_lossy(rest);
        assert!(fixture.verifier.verify(&token, NOW).is_err());
        return;
    }
    // Overwrite the genuine token: pairs of (position, byte).
    let mut bytes = fixture.genuine.token.clone().into_bytes();
    let len = bytes.len();
    for pair in rest.chunks_exact(2) {
        if let [at, byte] = *pair
            && let Some(slot) = bytes.get_mut(usize::from(at) * len / 256)
        {
            *slot = byte;
        }
    }
    let token = String::from_utf8_lossy(&bytes);
    if let Ok(verified) = fixture.verifier.verify(&token, NOW) {
        assert_eq!(verified.claims(), &fixture.genuine.claims);
    }
});
