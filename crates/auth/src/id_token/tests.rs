//! ID tokens signed here with test keys (testdata/, made for these tests only), each
//! changed in one way that must be refused.

use super::*;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

const RSA_PEM: &str = include_str!("testdata/rsa.pem");
const EC_PEM: &str = include_str!("testdata/ec.pem");
const RSA_N: &str = "0y9g-Oy3HR5f3j03fcfZNvhYlxoVX3G2MLWEY9UavGieNSBfoP5hFTwp7GK1oKq8XTBXroqtc1hwHnFoCk8Sw3oj6nft4MN4rTGeKgzO42oy2ZovNii4ibM5Ir2POkwB-v0dM1HpJTCAtR1Jnbtt5MhS8H4IDC4bXyZx-smmHbt53zFIh4kMI97wvHS6w8_5rrREcwfDgUsJ0woDNp5aiuq39IOM4Gu2zkJu8NMZ0zvL3nfjsAWr9pHZCCY6B8HU6fZGs5s3A7G018OnLaJN0dkxe1XsFGeDPIeKriAgqMYkx6wnhz-vlY89iCKGM8VgKpHKRuTymzG-Ri3zxKPmWQ";
const EC_X: &str = "xBn7qNbMAqzxAs_WYVpRSHM3h0bqwOulZMtCWfALxTQ";
const EC_Y: &str = "FbXcbFsf6OkVgWhdR8zDGyDIxox7zao3aAeLCXgx2RE";

const ISSUER: &str = "https://idp.example";
const CLIENT: &str = "mandate-gw";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: i64 = 1_800_000_000;

fn jwks() -> ProviderKeys {
    let set = json!({ "keys": [
        { "kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB" },
        { "kty": "EC", "kid": "ec-1", "crv": "P-256", "x": EC_X, "y": EC_Y },
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        { "kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": "AQAB" },
    ]});
    ProviderKeys::from_jwks(set.to_string().as_bytes()).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "nonce": NONCE,
        "iat": NOW - 5, "exp": NOW + 300,
        "email": "jane@idp.example", "email_verified": true,
    })
}

fn sign(alg: Algorithm, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PEM.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn expect() -> IdTokenExpectations<'static> {
    IdTokenExpectations {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: NONCE,
        now: NOW,
        leeway_secs: 60,
    }
}

fn verify(token: &str) -> Result<Identity, IdTokenError> {
    verify_id_token(token, &jwks(), &expect()).map(VerifiedIdToken::into_identity)
}

fn with(change: impl FnOnce(&mut Value)) -> Value {
    let mut c = claims();
    change(&mut c);
    c
}

#[test]
fn rs256_and_es256_tokens_verify_and_name_the_person() {
    for (alg, kid) in [(Algorithm::RS256, "rsa-1"), (Algorithm::ES256, "ec-1")] {
        let identity = verify(&sign(alg, kid, &claims())).unwrap();
        assert_eq!(identity.subject, "248289761001");
        assert_eq!(identity.email.as_deref(), Some("jane@idp.example"));
        assert_eq!(identity.email_verified, Some(true));
    }
    assert_eq!(jwks().len(), 2, "the HMAC and encryption keys are not kept");
}

#[test]
fn a_tampered_signature_is_refused() {
    let token = sign(Algorithm::RS256, "rsa-1", &claims());
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{rest}.{flipped}{}", &signature[1..]);
    assert_eq!(verify(&tampered), Err(IdTokenError::BadSignature));
    // A payload changed under the original signature.
    let (header, _) = token.split_once('.').unwrap();
    let forged = URL_SAFE_NO_PAD.encode(with(|c| c["sub"] = json!("admin")).to_string());
    let forged = format!("{header}.{forged}.{signature}");
    assert_eq!(verify(&forged), Err(IdTokenError::BadSignature));
}

#[test]
fn the_key_must_fit_the_algorithm_and_be_published() {
    // ES256 header naming the RSA key, RSA signature under the EC key id.
    assert_eq!(
        verify(&sign(Algorithm::ES256, "rsa-1", &claims())),
        Err(IdTokenError::UnknownKey)
    );
    assert_eq!(
        verify(&sign(Algorithm::RS256, "ec-1", &claims())),
        Err(IdTokenError::UnknownKey)
    );
    assert_eq!(
        verify(&sign(Algorithm::RS256, "rotated-away", &claims())),
        Err(IdTokenError::UnknownKey)
    );
    // The RSA key says RS256 only.
    assert_eq!(
        verify(&sign(Algorithm::PS256, "rsa-1", &claims())),
        Err(IdTokenError::UnknownKey)
    );
}

#[test]
fn none_and_hmac_are_refused_before_any_key_is_chosen() {
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "kid": "hmac" }).to_string());
        let token = format!("{header}.{body}.");
        assert_eq!(
            verify(&token),
            Err(IdTokenError::UnsupportedAlgorithm(alg.to_owned()))
        );
    }
    assert!(matches!(
        verify("not a jwt"),
        Err(IdTokenError::Malformed(_))
    ));
    let huge = "a".repeat(MAX_ID_TOKEN_LEN + 1);
    assert_eq!(verify(&huge), Err(IdTokenError::TooLarge));
}

#[test]
fn each_claim_check_refuses_its_own_change() {
    let cases: [(Value, IdTokenError); 10] = [
        (
            with(|c| c["iss"] = json!("https://evil.example")),
            IdTokenError::WrongIssuer,
        ),
        (
            with(|c| c["aud"] = json!("other-rp")),
            IdTokenError::WrongAudience,
        ),
        (
            with(|c| c["aud"] = json!(["other-rp", CLIENT])),
            IdTokenError::WrongAuthorizedParty,
        ),
        (
            with(|c| {
                c["aud"] = json!([CLIENT, "other-rp"]);
                c["azp"] = json!("other-rp");
            }),
            IdTokenError::WrongAuthorizedParty,
        ),
        (
            with(|c| c["nonce"] = json!("replayed")),
            IdTokenError::WrongNonce,
        ),
        (
            with(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
            IdTokenError::WrongNonce,
        ),
        (with(|c| c["exp"] = json!(NOW - 61)), IdTokenError::Expired),
        (
            with(|c| c["iat"] = json!(NOW + 61)),
            IdTokenError::IssuedInFuture,
        ),
        (
            with(|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            IdTokenError::MissingClaim("iat"),
        ),
        (
            with(|c| c["sub"] = json!("")),
            IdTokenError::MissingClaim("sub"),
        ),
    ];
    for (claims, refusal) in cases {
        assert_eq!(
            verify(&sign(Algorithm::RS256, "rsa-1", &claims)),
            Err(refusal.clone()),
            "{claims}"
        );
    }
    // Several audiences are fine when `azp` names this client.
    let shared = with(|c| {
        c["aud"] = json!([CLIENT, "other-rp"]);
        c["azp"] = json!(CLIENT);
    });
    assert!(verify(&sign(Algorithm::RS256, "rsa-1", &shared)).is_ok());
    // Within the leeway, a clock a little off is tolerated.
    let skewed = with(|c| c["exp"] = json!(NOW - 30));
    assert!(verify(&sign(Algorithm::RS256, "rsa-1", &skewed)).is_ok());
}

#[test]
fn a_verification_flag_that_is_not_a_boolean_counts_as_absent() {
    let stringly = with(|c| c["email_verified"] = json!("true"));
    let identity = verify(&sign(Algorithm::RS256, "rsa-1", &stringly)).unwrap();
    assert_eq!(identity.email_verified, None);
}

#[test]
fn userinfo_fills_missing_email_only_for_the_same_subject() {
    let bare = with(|c| {
        let c = c.as_object_mut().unwrap();
        c.remove("email");
        c.remove("email_verified");
    });
    let token = sign(Algorithm::RS256, "rsa-1", &bare);
    let verified = verify_id_token(&token, &jwks(), &expect()).unwrap();
    assert!(verified.lacks_email());
    let other = json!({ "sub": "someone-else", "email": "x@y", "email_verified": true });
    assert_eq!(
        verified.clone().with_userinfo(&other),
        Err(IdTokenError::UserInfoSubjectMismatch)
    );
    let same =
        json!({ "sub": "248289761001", "email": "jane@idp.example", "email_verified": false });
    let identity = verified.with_userinfo(&same).unwrap();
    assert_eq!(identity.email.as_deref(), Some("jane@idp.example"));
    assert_eq!(identity.email_verified, Some(false));
    // The token's own claims win over UserInfo's.
    let full = verify_id_token(
        &sign(Algorithm::RS256, "rsa-1", &claims()),
        &jwks(),
        &expect(),
    )
    .unwrap();
    assert!(!full.lacks_email());
    let identity = full
        .with_userinfo(
            &json!({ "sub": "248289761001", "email": "other@x", "email_verified": true }),
        )
        .unwrap();
    assert_eq!(identity.email.as_deref(), Some("jane@idp.example"));
}

#[test]
fn key_sets_without_signing_keys_are_refused() {
    assert_eq!(
        ProviderKeys::from_jwks(b"[]").unwrap_err(),
        KeySetError::NotAKeySet
    );
    let only_hmac = json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] }).to_string();
    assert_eq!(
        ProviderKeys::from_jwks(only_hmac.as_bytes()).unwrap_err(),
        KeySetError::NoUsableKey
    );
}

#[test]
fn without_a_kid_only_an_unambiguous_key_is_used() {
    let one = json!({ "keys": [{ "kty": "RSA", "n": RSA_N, "e": "AQAB" }] }).to_string();
    let keys = ProviderKeys::from_jwks(one.as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = None;
    let key = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims(), &key).unwrap();
    assert!(verify_id_token(&token, &keys, &expect()).is_ok());
    let two = json!({ "keys": [
        { "kty": "RSA", "kid": "a", "n": RSA_N, "e": "AQAB" },
        { "kty": "RSA", "kid": "b", "n": RSA_N, "e": "AQAB" },
    ]})
    .to_string();
    let keys = ProviderKeys::from_jwks(two.as_bytes()).unwrap();
    assert_eq!(
        verify_id_token(&token, &keys, &expect()).unwrap_err(),
        IdTokenError::UnknownKey
    );
}
