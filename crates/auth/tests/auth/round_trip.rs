//! Tokens that should verify, and the shape they are issued in.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mandate_auth::{Actor, Claims, TokenError, TokenIssuer, TokenKey, TokenVerifier};
use serde_json::Value;

use crate::support::{AUDIENCE, ISSUER, MANDATE_EXPIRES_AT, NOW, b64, known, request};

#[test]
fn issued_token_verifies_with_the_same_claims() {
    let k = known();
    let issued = k.issue();
    let verified = k.verifier.verify(&issued.token, NOW).unwrap();
    assert_eq!(verified.claims(), &issued.claims);
    let claims = verified.into_claims();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.sub, "agent-7");
    assert_eq!(claims.mandate, "mdt-42");
    assert_eq!(claims.iat, NOW);
    assert_eq!(claims.exp, NOW + 15 * 60);
    assert_eq!(claims.act, None);
}

#[test]
fn act_chain_survives_the_round_trip() {
    let k = known();
    let mut req = request();
    req.act = Some(Actor {
        sub: "agent-1".into(),
        act: Some(Box::new(Actor {
            sub: "alice@example.com".into(),
            act: None,
        })),
    });
    let issued = k.issuer.issue(&req).unwrap();
    let claims = k.verifier.verify(&issued.token, NOW).unwrap().into_claims();
    assert_eq!(claims.act, req.act);
}

#[test]
fn header_is_eddsa_at_jwt_with_kid_and_nothing_else() {
    let k = known();
    let token = k.issue().token;
    let header_b64 = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            header_b64,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": k.kid})
    );
}

#[test]
fn payload_names_the_mandate_mid() {
    let k = known();
    let token = k.issue().token;
    let payload_b64 = token.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            payload_b64,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["mid"], "mdt-42");
    assert!(payload.get("act").is_none());
}

#[test]
fn exp_is_capped_at_the_mandate_expiry() {
    let k = known();
    let mut req = request();
    req.mandate_expires_at = NOW + 60;
    let issued = k.issuer.issue(&req).unwrap();
    assert_eq!(issued.claims.exp, NOW + 60);
    assert!(k.verifier.verify(&issued.token, NOW + 59).is_ok());
    assert!(matches!(
        k.verifier.verify(&issued.token, NOW + 60),
        Err(TokenError::Expired)
    ));
}

#[test]
fn ttl_shorter_than_the_mandate_sets_exp() {
    let k = known();
    let issuer =
        TokenIssuer::new(token_key(&k), ISSUER, AUDIENCE).with_ttl(Duration::from_secs(30));
    let issued = issuer.issue(&request()).unwrap();
    assert_eq!(issued.claims.exp, NOW + 30);
    assert!(issued.claims.exp < MANDATE_EXPIRES_AT);
}

#[test]
fn expired_mandate_is_refused_at_issue() {
    let k = known();
    for expires_at in [NOW, NOW - 1, i64::MIN] {
        let mut req = request();
        req.mandate_expires_at = expires_at;
        assert!(matches!(
            k.issuer.issue(&req),
            Err(TokenError::MandateExpired)
        ));
    }
}

#[test]
fn token_is_valid_until_exp_and_not_at_exp() {
    let k = known();
    let issued = k.issue();
    let exp = issued.claims.exp;
    assert!(k.verifier.verify(&issued.token, exp - 1).is_ok());
    assert!(matches!(
        k.verifier.verify(&issued.token, exp),
        Err(TokenError::Expired)
    ));
    assert!(matches!(
        k.verifier.verify(&issued.token, i64::MAX),
        Err(TokenError::Expired)
    ));
}

#[test]
fn leeway_extends_exp_and_tolerates_early_iat() {
    let k = known();
    let issued = k.issue();
    let lenient = TokenVerifier::new(ISSUER, AUDIENCE, vec![verifier_key(&k)])
        .with_leeway(Duration::from_secs(30));
    let exp = issued.claims.exp;
    assert!(lenient.verify(&issued.token, exp + 29).is_ok());
    assert!(matches!(
        lenient.verify(&issued.token, exp + 30),
        Err(TokenError::Expired)
    ));
    assert!(lenient.verify(&issued.token, NOW - 30).is_ok());
    assert!(matches!(
        lenient.verify(&issued.token, NOW - 31),
        Err(TokenError::NotYetValid)
    ));
}

#[test]
fn verifier_holding_old_and_new_keys_accepts_both() {
    let old = known();
    let new = known();
    let verifier = TokenVerifier::new(
        ISSUER,
        AUDIENCE,
        vec![verifier_key(&old), verifier_key(&new)],
    );
    assert!(verifier.verify(&old.issue().token, NOW).is_ok());
    assert!(verifier.verify(&new.issue().token, NOW).is_ok());
}

#[test]
fn issued_token_is_standard_jwt_that_jsonwebtoken_verifies() {
    let k = known();
    let issued = k.issue();
    let key = DecodingKey::from_ed_components(&b64(k.signing.verifying_key().as_bytes())).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    let data = jsonwebtoken::decode::<Claims>(&issued.token, &key, &validation).unwrap();
    assert_eq!(data.claims, issued.claims);
    assert_eq!(data.header.kid.as_deref(), Some(k.kid.as_str()));
}

#[test]
fn refusals_map_to_invalid_token_and_hide_internals() {
    let errors = [
        TokenError::TooLarge,
        TokenError::Malformed("header is not valid"),
        TokenError::UnsupportedAlgorithm("HS256".into()),
        TokenError::WrongType,
        TokenError::UnknownKey,
        TokenError::BadSignature,
        TokenError::MissingClaim("mid"),
        TokenError::WrongIssuer,
        TokenError::WrongAudience,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::MandateExpired,
    ];
    for e in &errors {
        assert_eq!(e.www_authenticate_error(), "invalid_token");
        let reason = e.public_reason();
        assert!(!reason.contains("HS256") && !reason.contains("mid") && !reason.contains("header"));
        let message = e.to_string();
        assert!(!message.ends_with('.'), "{message}");
        assert!(message.chars().next().unwrap().is_lowercase(), "{message}");
    }
}

fn token_key(k: &crate::support::Known) -> TokenKey {
    crate::support::token_key_from(&k.signing)
}

fn verifier_key(k: &crate::support::Known) -> mandate_auth::VerificationKey {
    token_key(k).verifier_key()
}
