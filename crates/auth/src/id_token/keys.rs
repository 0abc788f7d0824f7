//! A provider's published signing keys (an RFC 7517 JWK Set), kept as the keys that can
//! check ID tokens: RSA and P-256/P-384 EC signature keys. Other keys are skipped.

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::fmt;

/// Why a JWK Set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    /// Not a JSON object with a `keys` array.
    #[error("the key set is not a JSON object with a `keys` array")]
    NotAKeySet,
    /// No RSA or EC signature key in it could be read.
    #[error("the key set holds no RSA or EC signing key")]
    NoUsableKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    EcP256,
    EcP384,
}

impl KeyType {
    fn fits(self, algorithm: Algorithm) -> bool {
        use Algorithm as A;
        match self {
            Self::Rsa => matches!(
                algorithm,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            Self::EcP256 => algorithm == A::ES256,
            Self::EcP384 => algorithm == A::ES384,
        }
    }
}

struct ProviderKey {
    kid: Option<String>,
    key_type: KeyType,
    /// The key's own `alg`, when it names one: then only that algorithm is accepted.
    alg: Option<String>,
    decoding: DecodingKey,
}

/// The keys an ID token may be signed with.
pub struct ProviderKeys {
    keys: Vec<ProviderKey>,
}

impl fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| (&k.kid, k.key_type)).collect();
        f.debug_struct("ProviderKeys").field("keys", &kids).finish()
    }
}

impl ProviderKeys {
    /// Reads a JWK Set document.
    pub fn from_jwks(body: &[u8]) -> Result<Self, KeySetError> {
        let set: Value = serde_json::from_slice(body).map_err(|_| KeySetError::NotAKeySet)?;
        let listed = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeySetError::NotAKeySet)?;
        let keys: Vec<ProviderKey> = listed.iter().filter_map(read_key).collect();
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds none (never true of a set [`ProviderKeys::from_jwks`] built).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token's `kid` and `alg`. Without a `kid`, only an unambiguous key.
    pub(super) fn find(&self, kid: Option<&str>, algorithm: Algorithm) -> Option<&DecodingKey> {
        let name = format!("{algorithm:?}");
        let mut fitting = self
            .keys
            .iter()
            .filter(|k| k.key_type.fits(algorithm) && k.alg.as_ref().is_none_or(|a| *a == name));
        let key = match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid))?,
            None => {
                let first = fitting.next()?;
                if fitting.next().is_some() {
                    return None;
                }
                first
            }
        };
        Some(&key.decoding)
    }
}

/// One JWK, if it is a public RSA or EC key meant for signatures.
fn read_key(jwk: &Value) -> Option<ProviderKey> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (key_type, decoding) = match (text("kty")?, text("crv")) {
        ("RSA", _) => (
            KeyType::Rsa,
            DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
        ),
        ("EC", Some(curve @ ("P-256" | "P-384"))) => (
            if curve == "P-256" {
                KeyType::EcP256
            } else {
                KeyType::EcP384
            },
            DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
        ),
        _ => return None,
    };
    Some(ProviderKey {
        kid: text("kid").map(str::to_owned),
        key_type,
        alg: text("alg").map(str::to_owned),
        decoding,
    })
}
