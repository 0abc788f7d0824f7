//! The warm path: a token verified once is recognised again, but only that exact token,
//! and only while its times allow.

use mandate_auth::TokenError;
use serde_json::json;

use crate::support::{NOW, b64_json, known, payload};

#[test]
fn a_remembered_token_still_expires() {
    let k = known();
    let token = k.forge(&k.header(), &payload());
    let first = k.verifier.verify_remembered(&token, NOW).unwrap();
    let again = k.verifier.verify_remembered(&token, NOW + 10).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "the second call is the warm path"
    );
    // A clone shares what was remembered.
    let clone = k.verifier.clone();
    assert!(std::sync::Arc::ptr_eq(
        &first,
        &clone.verify_remembered(&token, NOW + 20).unwrap()
    ));
    // `exp` is NOW + 900.
    let err = k.verifier.verify_remembered(&token, NOW + 900).unwrap_err();
    assert!(matches!(err, TokenError::Expired), "{err:?}");
    let err = k.verifier.verify_remembered(&token, NOW - 1).unwrap_err();
    assert!(matches!(err, TokenError::NotYetValid), "{err:?}");
}

#[test]
fn a_remembered_signature_on_another_payload_is_refused() {
    let k = known();
    let token = k.forge(&k.header(), &payload());
    k.verifier.verify_remembered(&token, NOW).unwrap();
    // Same header and signature, a payload naming another mandate and a later expiry.
    let mut widened = payload();
    widened["mid"] = json!("mdt-root");
    widened["exp"] = json!(NOW + 86_400);
    let signature = token.rsplit('.').next().unwrap();
    let forged = format!(
        "{}.{}.{}",
        b64_json(&k.header()),
        b64_json(&widened),
        signature
    );
    let err = k.verifier.verify_remembered(&forged, NOW).unwrap_err();
    assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    // And with one byte of the genuine token changed.
    let mut bytes = token.clone().into_bytes();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(k.verifier.verify_remembered(&tampered, NOW).is_err());
}

#[test]
fn a_refused_token_is_not_remembered() {
    let k = known();
    let theirs = known();
    let token = theirs.forge(&theirs.header(), &payload());
    for _ in 0..2 {
        let err = k.verifier.verify_remembered(&token, NOW).unwrap_err();
        assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
    }
}
