//! Fixtures: a key whose secret half the tests hold, and a hand forge for
//! tokens that `TokenIssuer` would never produce.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac as _};
use mandate_auth::{IssuedToken, TokenIssuer, TokenKey, TokenRequest, TokenVerifier};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://mandate.example";
pub const AUDIENCE: &str = "https://mandate.example/mcp";
pub const NOW: i64 = 1_700_000_000;
pub const MANDATE_EXPIRES_AT: i64 = NOW + 24 * 3600;

/// A signing key known to the test both as raw Ed25519 and as a `TokenKey`.
pub struct Known {
    pub signing: SigningKey,
    pub kid: String,
    pub issuer: TokenIssuer,
    pub verifier: TokenVerifier,
}

/// A fresh key, loaded through `TokenKey::load_or_create` from a PEM file
/// the test wrote, so that the test can also sign arbitrary bytes with it.
pub fn known() -> Known {
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let key = token_key_from(&signing);
    let kid = key.kid().to_owned();
    let verifier = TokenVerifier::new(ISSUER, AUDIENCE, vec![key.verifier_key()]);
    let issuer = TokenIssuer::new(key, ISSUER, AUDIENCE);
    Known {
        signing,
        kid,
        issuer,
        verifier,
    }
}

pub fn token_key_from(signing: &SigningKey) -> TokenKey {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let pem = signing.to_pkcs8_pem(LineEnding::LF).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.path().join("token-signing-key.pem"))
        .unwrap();
    file.write_all(pem.as_bytes()).unwrap();
    TokenKey::load_or_create(dir.path()).unwrap()
}

pub fn request() -> TokenRequest {
    TokenRequest {
        agent: "agent-7".into(),
        mandate: "mdt-42".into(),
        mandate_expires_at: MANDATE_EXPIRES_AT,
        act: None,
        now: NOW,
        scope: None,
    }
}

impl Known {
    pub fn issue(&self) -> IssuedToken {
        self.issuer.issue(&request()).unwrap()
    }

    /// The header our issuer writes.
    pub fn header(&self) -> Value {
        json!({"typ": "at+jwt", "alg": "EdDSA", "kid": self.kid})
    }

    /// Signs `header.payload` with this key, as the issuer would.
    pub fn forge(&self, header: &Value, payload: &Value) -> String {
        forge_with(header, payload, |input| {
            self.signing.sign(input).to_bytes().to_vec()
        })
    }
}

/// Claims our issuer would write at `NOW`.
pub fn payload() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "agent-7",
        "exp": NOW + 900,
        "iat": NOW,
        "jti": "0123456789abcdef0123456789abcdef",
        "mid": "mdt-42",
    })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_json(value: &Value) -> String {
    b64(serde_json::to_vec(value).unwrap())
}

/// `b64(header).b64(payload).b64(sign(signing input))`.
pub fn forge_with(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(payload));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(signature))
}

pub fn hs256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

pub fn hs384(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha384>::new_from_slice(secret).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}
