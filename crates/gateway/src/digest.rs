//! Digests of arguments and results, as audit events record them: plain SHA-256, or
//! HMAC-SHA256 under a key in the data directory so digests of secrets cannot be guessed.
//!
//! A keyed digest is written `hmac-sha256:<hex>` so a reader knows which it is.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The digest key's file, in the data directory's `keys/`.
pub const KEY_FILE: &str = "digest-key.pem";

/// How digests are made.
pub enum Digester {
    /// SHA-256, hex.
    Plain,
    /// HMAC-SHA256 under this key, hex with an `hmac-sha256:` prefix.
    Keyed([u8; 32]),
}

impl Digester {
    /// A keyed digester whose key is derived from the secret in `keys_dir/digest-key.pem`.
    pub fn keyed(keys_dir: &std::path::Path) -> Result<Self, mandate_auth::KeyError> {
        let secret = mandate_auth::load_or_create_ed25519(keys_dir, KEY_FILE)?;
        // Derive rather than reuse: the stored secret is an Ed25519 seed, the HMAC key is its own.
        let mut derive = Sha256::new();
        derive.update(b"mandate.digest.v1\0");
        derive.update(secret.as_bytes());
        Ok(Self::Keyed(derive.finalize().into()))
    }

    /// The digest of `bytes`.
    pub fn digest(&self, bytes: &[u8]) -> String {
        match self {
            Digester::Plain => hex::encode(Sha256::digest(bytes)),
            Digester::Keyed(key) => match <Hmac<Sha256> as Mac>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(bytes);
                    format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
                }
                // HMAC takes keys of any length, so this cannot happen; never fall back to plain.
                Err(_) => "hmac-sha256:unavailable".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_digests_differ_by_key_and_from_plain() {
        let a = Digester::Keyed([1; 32]).digest(b"secret");
        let b = Digester::Keyed([2; 32]).digest(b"secret");
        let plain = Digester::Plain.digest(b"secret");
        assert!(a.starts_with("hmac-sha256:") && a.len() == 12 + 64);
        assert_ne!(a, b);
        assert_ne!(a.trim_start_matches("hmac-sha256:"), plain);
        assert_eq!(plain.len(), 64);
    }

    #[test]
    fn the_keyed_digester_keeps_its_key_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let first = Digester::keyed(dir.path()).unwrap().digest(b"x");
        let again = Digester::keyed(dir.path()).unwrap().digest(b"x");
        assert_eq!(first, again);
    }
}
