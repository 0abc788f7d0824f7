//! Tokens an attacker would present, each of which must be refused.

use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signer as _, SigningKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mandate_auth::{MAX_TOKEN_LEN, TokenError, TokenIssuer, TokenVerifier};
use serde_json::{Value, json};

use crate::support::{
    AUDIENCE, ISSUER, NOW, b64, b64_json, forge_with, hs256, hs384, known, payload, request,
    token_key_from,
};

fn refused(verifier: &TokenVerifier, token: &str) -> TokenError {
    match verifier.verify(token, NOW) {
        Ok(v) => panic!("forged token verified: {:?}", v.claims()),
        Err(e) => e,
    }
}

#[test]
fn token_from_a_key_the_verifier_does_not_hold_is_unknown_key() {
    let ours = known();
    let theirs = known();
    let err = refused(&ours.verifier, &theirs.issue().token);
    assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
}

#[test]
fn other_key_claiming_our_kid_is_bad_signature() {
    let ours = known();
    let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
    let token = forge_with(&ours.header(), &payload(), |input| {
        attacker.sign(input).to_bytes().to_vec()
    });
    let err = refused(&ours.verifier, &token);
    assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    // The control: the same forge with our key is accepted.
    assert!(
        ours.verifier
            .verify(&ours.forge(&ours.header(), &payload()), NOW)
            .is_ok()
    );
}

#[test]
fn alg_none_with_empty_signature_is_refused() {
    let k = known();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": k.kid});
        let token = format!("{}.{}.", b64_json(&header), b64_json(&payload()));
        let err = refused(&k.verifier, &token);
        assert!(
            matches!(&err, TokenError::UnsupportedAlgorithm(a) if a == alg),
            "{alg}: {err:?}"
        );
        // Nor with a signature copied from a genuine token.
        let genuine = k.issue().token;
        let signature = genuine.rsplit('.').next().unwrap();
        let err = refused(&k.verifier, &format!("{token}{signature}"));
        assert!(
            matches!(err, TokenError::UnsupportedAlgorithm(_)),
            "{err:?}"
        );
    }
}

/// The classic confusion: an HMAC token keyed with the public key, hoping the
/// verifier feeds its "key" to whatever `alg` the header names.
#[test]
fn hmac_keyed_with_the_public_key_is_refused() {
    let k = known();
    let public = k.signing.verifying_key();
    let raw = public.to_bytes();
    let pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let der = public.to_public_key_der().unwrap();
    let secrets: [&[u8]; 3] = [&raw, pem.as_bytes(), der.as_bytes()];
    for secret in secrets {
        for (alg, sign) in [
            ("HS256", hs256 as fn(&[u8], &[u8]) -> Vec<u8>),
            ("HS384", hs384),
        ] {
            for typ in ["at+jwt", "JWT"] {
                let header = json!({"alg": alg, "typ": typ, "kid": k.kid});
                let token = forge_with(&header, &payload(), |input| sign(secret, input));
                let err = refused(&k.verifier, &token);
                assert!(
                    matches!(&err, TokenError::UnsupportedAlgorithm(a) if a == alg),
                    "{alg}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn hmac_token_built_by_jsonwebtoken_with_the_public_key_is_refused() {
    let k = known();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(k.kid.clone());
    header.typ = Some("at+jwt".into());
    let secret = EncodingKey::from_secret(k.signing.verifying_key().as_bytes());
    let token = jsonwebtoken::encode(&header, &payload(), &secret).unwrap();
    let err = refused(&k.verifier, &token);
    assert!(
        matches!(err, TokenError::UnsupportedAlgorithm(_)),
        "{err:?}"
    );
}

#[test]
fn other_asymmetric_algorithms_are_refused() {
    let k = known();
    for alg in [
        "RS256", "PS256", "ES256", "ES256K", "Ed25519", "Ed448", "eddsa", "EDDSA", "",
    ] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": k.kid});
        // Even an Ed25519 signature by our key: the header's word is final.
        let token = k.forge(&header, &payload());
        let err = refused(&k.verifier, &token);
        assert!(
            matches!(&err, TokenError::UnsupportedAlgorithm(a) if a == alg),
            "{alg}: {err:?}"
        );
    }
}

#[test]
fn non_string_or_missing_alg_is_malformed() {
    let k = known();
    for header in [
        json!({"typ": "at+jwt", "kid": k.kid}),
        json!({"alg": null, "typ": "at+jwt", "kid": k.kid}),
        json!({"alg": ["EdDSA"], "typ": "at+jwt", "kid": k.kid}),
        json!({"alg": 1, "typ": "at+jwt", "kid": k.kid}),
    ] {
        let err = refused(&k.verifier, &k.forge(&header, &payload()));
        assert!(matches!(err, TokenError::Malformed(_)), "{header}: {err:?}");
    }
}

#[test]
fn missing_or_unknown_kid_is_unknown_key() {
    let k = known();
    for header in [
        json!({"alg": "EdDSA", "typ": "at+jwt"}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": ""}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "AAAAAAAAAAAAAAAA"}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": format!("{} ", k.kid)}),
    ] {
        let err = refused(&k.verifier, &k.forge(&header, &payload()));
        assert!(matches!(err, TokenError::UnknownKey), "{header}: {err:?}");
    }
}

#[test]
fn verifier_without_keys_refuses_everything() {
    let k = known();
    let empty = TokenVerifier::new(ISSUER, AUDIENCE, vec![]);
    let err = refused(&empty, &k.issue().token);
    assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
}

#[test]
fn wrong_or_missing_typ_is_refused() {
    let k = known();
    for typ in [json!("JWT"), json!("jwt"), json!("dpop+jwt"), json!(null)] {
        let mut header = k.header();
        header["typ"] = typ.clone();
        let err = refused(&k.verifier, &k.forge(&header, &payload()));
        assert!(matches!(err, TokenError::WrongType), "{typ}: {err:?}");
    }
    let header = json!({"alg": "EdDSA", "kid": k.kid});
    let err = refused(&k.verifier, &k.forge(&header, &payload()));
    assert!(matches!(err, TokenError::WrongType), "{err:?}");
}

/// An embedded `jwk` (CVE-2018-0114), a `jku`, `crit` or `b64: false` would
/// each change whose key or which bytes are checked.
#[test]
fn extra_header_parameters_are_refused() {
    let k = known();
    let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
    let jwk =
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(attacker.verifying_key().as_bytes())});
    for (name, value) in [
        ("jwk", jwk),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("crit", json!(["exp"])),
        ("b64", json!(false)),
        ("zip", json!("DEF")),
        ("cty", json!("JWT")),
    ] {
        let mut header = k.header();
        header[name] = value;
        // Signed with our own key, so only the parameter can be at fault.
        let err = refused(&k.verifier, &k.forge(&header, &payload()));
        assert!(matches!(err, TokenError::Malformed(_)), "{name}: {err:?}");
    }
}

#[test]
fn duplicate_header_parameter_is_malformed() {
    let k = known();
    let header = format!(
        r#"{{"alg":"none","alg":"EdDSA","typ":"at+jwt","kid":"{}"}}"#,
        k.kid
    );
    let input = format!("{}.{}", b64(&header), b64_json(&payload()));
    let token = format!(
        "{input}.{}",
        b64(k.signing.sign(input.as_bytes()).to_bytes())
    );
    let err = refused(&k.verifier, &token);
    assert!(matches!(err, TokenError::Malformed(_)), "{err:?}");
}

#[test]
fn wrong_audience_is_refused() {
    let k = known();
    let other = TokenIssuer::new(
        token_key_from(&k.signing),
        ISSUER,
        "https://other.example/mcp",
    );
    let err = refused(&k.verifier, &other.issue(&request()).unwrap().token);
    assert!(matches!(err, TokenError::WrongAudience), "{err:?}");
}

#[test]
fn audience_as_array_is_malformed() {
    let k = known();
    let mut claims = payload();
    claims["aud"] = json!([AUDIENCE]);
    let err = refused(&k.verifier, &k.forge(&k.header(), &claims));
    assert!(matches!(err, TokenError::Malformed(_)), "{err:?}");
}

#[test]
fn wrong_issuer_is_refused() {
    let k = known();
    let other = TokenIssuer::new(token_key_from(&k.signing), "https://evil.example", AUDIENCE);
    let err = refused(&k.verifier, &other.issue(&request()).unwrap().token);
    assert!(matches!(err, TokenError::WrongIssuer), "{err:?}");
}

#[test]
fn expired_token_is_refused() {
    let k = known();
    let mut claims = payload();
    claims["exp"] = json!(NOW);
    let err = refused(&k.verifier, &k.forge(&k.header(), &claims));
    assert!(matches!(err, TokenError::Expired), "{err:?}");
}

#[test]
fn iat_in_the_future_is_not_yet_valid() {
    let k = known();
    let mut claims = payload();
    claims["iat"] = json!(NOW + 1);
    let err = refused(&k.verifier, &k.forge(&k.header(), &claims));
    assert!(matches!(err, TokenError::NotYetValid), "{err:?}");
}

#[test]
fn each_missing_claim_is_named() {
    let k = known();
    for name in ["iss", "aud", "sub", "exp", "iat", "jti", "mid"] {
        let mut claims = payload();
        claims.as_object_mut().unwrap().remove(name);
        let err = refused(&k.verifier, &k.forge(&k.header(), &claims));
        assert!(
            matches!(err, TokenError::MissingClaim(n) if n == name),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn swapped_payload_keeps_no_signature_valid() {
    let k = known();
    let mine = k.issue().token;
    let mut req = request();
    req.agent = "agent-evil".into();
    req.mandate = "mdt-admin".into();
    let theirs = k.issuer.issue(&req).unwrap().token;
    let m: Vec<&str> = mine.split('.').collect();
    let t: Vec<&str> = theirs.split('.').collect();
    let swapped = format!("{}.{}.{}", m[0], t[1], m[2]);
    let err = refused(&k.verifier, &swapped);
    assert!(matches!(err, TokenError::BadSignature), "{err:?}");
}

#[test]
fn tampered_payload_is_bad_signature() {
    let k = known();
    let token = k.issue().token;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .unwrap(),
    )
    .unwrap();
    claims["exp"] = json!(i64::MAX);
    let tampered = format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2]);
    let err = refused(&k.verifier, &tampered);
    assert!(matches!(err, TokenError::BadSignature), "{err:?}");
}

#[test]
fn tampered_header_is_bad_signature() {
    let k = known();
    let token = k.issue().token;
    let parts: Vec<&str> = token.split('.').collect();
    // The same parameters, reordered and spaced: acceptable as a header, but
    // not the bytes that were signed.
    let header = format!(
        r#"{{ "kid": "{}", "alg": "EdDSA", "typ": "at+jwt" }}"#,
        k.kid
    );
    let tampered = format!("{}.{}.{}", b64(header), parts[1], parts[2]);
    let err = refused(&k.verifier, &tampered);
    assert!(matches!(err, TokenError::BadSignature), "{err:?}");
}

#[test]
fn signature_with_non_canonical_trailing_bits_is_malformed() {
    let k = known();
    let token = k.issue().token;
    // 64 bytes encode to 86 characters whose last carries 4 unused bits.
    let (input, signature) = token.rsplit_once('.').unwrap();
    let last = signature.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let flipped = alphabet.chars().nth(index ^ 1).unwrap();
    let forged = format!("{input}.{}{flipped}", &signature[..signature.len() - 1]);
    let err = refused(&k.verifier, &forged);
    assert!(matches!(err, TokenError::Malformed(_)), "{err:?}");
}

#[test]
fn malformed_tokens_are_refused_as_malformed() {
    let k = known();
    let token = k.issue().token;
    let (input, signature) = token.rsplit_once('.').unwrap();
    let padded_header = {
        let parts: Vec<&str> = token.split('.').collect();
        format!("{}=.{}.{}", parts[0], parts[1], parts[2])
    };
    let standard_alphabet = token.replace('-', "+").replace('_', "/");
    let mut cases = vec![
        String::new(),
        "Bearer".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{token}.{signature}"),
        input.to_owned(),
        "..".into(),
        format!("!!!.{}", token.split_once('.').unwrap().1),
        padded_header,
        format!("{}.{}.{}", b64("not json"), b64_json(&payload()), signature),
        format!("{}.{}.{}", b64("[]"), b64_json(&payload()), signature),
        format!(
            "{}.{}.{}",
            b64("\"EdDSA\""),
            b64_json(&payload()),
            signature
        ),
        format!("{input}.{}", b64([0u8; 63])),
        format!("{input}.{}", b64([0u8; 65])),
        format!("{input}."),
        format!(" {token}"),
        format!("{token}\n"),
    ];
    if standard_alphabet != token {
        cases.push(standard_alphabet);
    }
    for case in &cases {
        let err = refused(&k.verifier, case);
        assert!(matches!(err, TokenError::Malformed(_)), "{case:?}: {err:?}");
    }
}

#[test]
fn validly_signed_garbage_payload_is_malformed() {
    let k = known();
    for payload in ["", "null", "[]", "{", "\"claims\"", "{\"exp\":1e10}"] {
        let input = format!("{}.{}", b64_json(&k.header()), b64(payload));
        let token = format!(
            "{input}.{}",
            b64(k.signing.sign(input.as_bytes()).to_bytes())
        );
        let err = refused(&k.verifier, &token);
        assert!(
            matches!(err, TokenError::Malformed(_)),
            "{payload}: {err:?}"
        );
    }
}

#[test]
fn oversize_token_is_refused_before_parsing() {
    let k = known();
    // A genuine, validly signed token padded with a huge claim.
    let mut claims = payload();
    claims["pad"] = json!("x".repeat(MAX_TOKEN_LEN));
    let token = k.forge(&k.header(), &claims);
    assert!(token.len() > MAX_TOKEN_LEN);
    assert!(matches!(refused(&k.verifier, &token), TokenError::TooLarge));
    let junk = "a".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(refused(&k.verifier, &junk), TokenError::TooLarge));
    // At the limit the token is parsed (and refused for what it is).
    let at_limit = "a".repeat(MAX_TOKEN_LEN);
    assert!(matches!(
        refused(&k.verifier, &at_limit),
        TokenError::Malformed(_)
    ));
}

#[test]
fn deeply_nested_act_chain_is_refused_without_overflow() {
    let k = known();
    let mut act = json!({"sub": "root"});
    for i in 0..200 {
        act = json!({"sub": format!("a{i}"), "act": act});
    }
    let mut claims = payload();
    claims["act"] = act;
    let err = refused(&k.verifier, &k.forge(&k.header(), &claims));
    assert!(matches!(err, TokenError::Malformed(_)), "{err:?}");
}

#[test]
fn unsupported_algorithm_error_bounds_the_echoed_name() {
    let k = known();
    let header =
        json!({"alg": format!("HS256\n{}", "x".repeat(500)), "typ": "at+jwt", "kid": k.kid});
    let token = forge_with(&header, &payload(), |_| vec![0; 32]);
    let err = refused(&k.verifier, &token);
    let message = err.to_string();
    assert!(message.len() < 100, "{message}");
    assert!(!message.contains('\n'));
    assert_eq!(err.public_reason(), "the access token is invalid");
}
