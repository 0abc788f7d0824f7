//! Opaque secrets the authorization server hands out (authorization codes, refresh tokens,
//! sign-in sessions, CSRF tokens): 256 random bits, base64url, kept only as SHA-256 digests.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::fmt;
use subtle::ConstantTimeEq as _;

/// A fresh secret, to hand out once; keep its [`Secret::digest`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 256 bits from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The text to hand out.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What to keep instead of the secret.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The SHA-256 of a secret, hex: safe to store and to look up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretDigest(String);

impl SecretDigest {
    /// The digest of a presented secret.
    pub fn of(presented: &str) -> Self {
        Self(hex_lower(&Sha256::digest(presented.as_bytes())))
    }

    /// A digest read back from the store.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_kept_as_digests() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        assert_eq!(a.digest(), SecretDigest::of(a.as_str()));
        assert_eq!(a.digest().as_str().len(), 64);
        assert!(!format!("{a:?}").contains(a.as_str()));
        assert!(same_secret(a.as_str(), a.as_str()));
        assert!(!same_secret(a.as_str(), b.as_str()));
    }
}
