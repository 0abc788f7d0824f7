//! Properties: nothing but a genuine token verifies, and no input panics.

use std::sync::LazyLock;

use mandate_auth::{IssuedToken, TokenVerifier};
use proptest::prelude::*;

use crate::support::{Known, NOW, known};

static KNOWN: LazyLock<(Known, IssuedToken)> = LazyLock::new(|| {
    let k = known();
    let issued = k.issue();
    (k, issued)
});

fn verifier() -> &'static TokenVerifier {
    &KNOWN.0.verifier
}

fn genuine() -> &'static IssuedToken {
    &KNOWN.1
}

const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// If `candidate` verifies at all, it must say exactly what the genuine token
/// says: a mutation may at most be a no-op, never a change of claims.
fn assert_sound(candidate: &str) -> Result<(), TestCaseError> {
    if let Ok(v) = verifier().verify(candidate, NOW) {
        prop_assert_eq!(v.claims(), &genuine().claims);
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_strings_never_verify(s in any::<String>()) {
        prop_assert!(verifier().verify(&s, NOW).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..10_000)) {
        let s = String::from_utf8_lossy(&bytes);
        prop_assert!(verifier().verify(&s, NOW).is_err());
    }

    #[test]
    fn jwt_shaped_strings_never_verify(
        header in "[A-Za-z0-9_-]{0,120}",
        payload in "[A-Za-z0-9_-]{0,400}",
        signature in "[A-Za-z0-9_-]{0,100}",
    ) {
        let s = format!("{header}.{payload}.{signature}");
        prop_assert!(verifier().verify(&s, NOW).is_err());
    }

    /// Our own header, arbitrary claims and signature: only the signature
    /// stands between these and acceptance.
    #[test]
    fn genuine_header_with_random_rest_never_verifies(
        payload in "[A-Za-z0-9_-]{0,400}",
        signature in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let header = genuine().token.split('.').next().unwrap_or_default();
        let signature = crate::support::b64(signature);
        let s = format!("{header}.{payload}.{signature}");
        prop_assert!(verifier().verify(&s, NOW).is_err());
    }

    #[test]
    fn any_single_byte_mutation_never_changes_the_claims(
        index in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = genuine().token.clone().into_bytes();
        let i = index.index(bytes.len());
        bytes[i] = byte;
        let mutated = String::from_utf8_lossy(&bytes);
        assert_sound(&mutated)?;
    }

    #[test]
    fn a_genuine_token_with_bytes_inserted_or_removed_never_changes_claims(
        index in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        insert in any::<bool>(),
    ) {
        let mut bytes = genuine().token.clone().into_bytes();
        let i = index.index(bytes.len());
        if insert { bytes.insert(i, byte) } else { bytes.remove(i); }
        assert_sound(&String::from_utf8_lossy(&bytes))?;
    }
}

/// Stronger than the property above, and exhaustive: base64url
/// without padding has one encoding per value, and Ed25519 under strict
/// verification one signature per (key, message), so every substitution of a
/// single character must be refused outright.
#[test]
fn every_single_character_substitution_is_refused() {
    let token = &genuine().token;
    assert!(verifier().verify(token, NOW).is_ok());
    let replacements: Vec<char> = B64URL.chars().chain(['.', '=', '+', '/', ' ']).collect();
    for (i, original) in token.char_indices() {
        for &c in replacements.iter().filter(|&&c| c != original) {
            let mut mutated = token.clone();
            mutated.replace_range(i..i + 1, c.encode_utf8(&mut [0; 4]));
            assert!(
                verifier().verify(&mutated, NOW).is_err(),
                "substituting {c:?} at {i} still verified"
            );
        }
    }
}
