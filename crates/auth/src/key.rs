//! The token signing key and its public half.
//!
//! The key is an Ed25519 key kept in the data directory as a PKCS#8 PEM file
//! readable only by its owner; see [`TokenKey::load_or_create`].

mod file;

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::EncodingKey;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// The name of the key file inside the data directory.
pub(crate) const KEY_FILE: &str = "token-signing-key.pem";

/// How many characters of the key's thumbprint make its `kid`.
const KID_LEN: usize = 16;

/// The DER prefix of an RFC 8410 PKCS#8 v1 Ed25519 private key; the 32-byte
/// seed follows it.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Reads the Ed25519 key in `dir/file_name` (PKCS#8 PEM, owner-only), or generates
/// and writes one with the same care as the token key. For keys other than the
/// token key, such as the audit log's checkpoint signing key.
pub fn load_or_create_ed25519(dir: &Path, file_name: &str) -> Result<SigningKey, KeyError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let path = dir.join(file_name);
    let decode = |pem: &str| {
        SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::InvalidKey { path: path.clone() })
    };
    if let Some(pem) = file::read_private(&path)? {
        return decode(&pem);
    }
    let key = TokenKey::generate();
    let pem = key.to_pem()?;
    match file::create_private(dir, &path, &pem)? {
        file::Created::Written => Ok(key.signing),
        file::Created::AlreadyThere(existing) => decode(&existing),
    }
}

/// An Ed25519 signing key for access tokens, with its key id.
pub struct TokenKey {
    signing: SigningKey,
    encoding: EncodingKey,
    verifier: VerificationKey,
}

impl TokenKey {
    /// Reads `dir/token-signing-key.pem`, or generates a key and writes it
    /// there with mode 0600, creating `dir` (mode 0700) if it is missing.
    ///
    /// An existing file that others can read is refused rather than used.
    /// When two processes create the key at once, both end up with the one
    /// that reached the disk first.
    pub fn load_or_create(dir: &Path) -> Result<TokenKey, KeyError> {
        let path = dir.join(KEY_FILE);
        if let Some(pem) = file::read_private(&path)? {
            return Self::from_pem(&pem, &path);
        }
        let key = Self::generate();
        let pem = key.to_pem()?;
        match file::create_private(dir, &path, &pem)? {
            file::Created::Written => Ok(key),
            file::Created::AlreadyThere(existing) => Self::from_pem(&existing, &path),
        }
    }

    /// Generates a fresh key from the operating system's randomness.
    pub fn generate() -> TokenKey {
        Self::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The key id carried in the `kid` header of every token it signs.
    pub fn kid(&self) -> &str {
        &self.verifier.kid
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.verifier.public_key_bytes()
    }

    /// The public half, for a [`crate::TokenVerifier`].
    pub fn verifier_key(&self) -> VerificationKey {
        self.verifier.clone()
    }

    /// The `jsonwebtoken` form of this key, for signing.
    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    fn to_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    fn from_pem(pem: &str, path: &Path) -> Result<TokenKey, KeyError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::InvalidKey {
            path: path.to_path_buf(),
        })?;
        Ok(Self::from_signing_key(signing))
    }

    fn from_signing_key(signing: SigningKey) -> TokenKey {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_ED25519_PREFIX);
        der.extend_from_slice(signing.as_bytes());
        let encoding = EncodingKey::from_ed_der(&der);
        let verifier = VerificationKey::from_verifying_key(signing.verifying_key());
        TokenKey {
            signing,
            encoding,
            verifier,
        }
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("kid", &self.verifier.kid)
            .finish_non_exhaustive()
    }
}

/// The public half of a [`TokenKey`]: what a [`crate::TokenVerifier`] holds.
#[derive(Clone)]
pub struct VerificationKey {
    kid: String,
    key: VerifyingKey,
}

impl VerificationKey {
    /// A verification key from raw Ed25519 public key bytes, e.g. a retired
    /// signing key's, so that its tokens keep verifying after a rotation.
    pub fn from_public_key_bytes(bytes: &[u8; 32]) -> Result<VerificationKey, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(Self::from_verifying_key(key))
    }

    /// The key id, as in the `kid` header of the tokens it verifies.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    fn from_verifying_key(key: VerifyingKey) -> VerificationKey {
        VerificationKey {
            kid: kid_of(key.as_bytes()),
            key,
        }
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The key id: the first characters of the base64url SHA-256 of the public
/// key bytes.
fn kid_of(public: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD
        .encode(Sha256::digest(public))
        .chars()
        .take(KID_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;

    #[test]
    fn named_keys_persist_privately_and_apart_from_the_token_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_ed25519(dir.path(), "audit-key.pem").unwrap();
        let again = load_or_create_ed25519(dir.path(), "audit-key.pem").unwrap();
        assert_eq!(first.to_bytes(), again.to_bytes());
        let mode = std::fs::metadata(dir.path().join("audit-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let token = TokenKey::load_or_create(dir.path()).unwrap();
        assert_ne!(token.signing.to_bytes(), first.to_bytes());
    }

    #[test]
    fn hand_built_pkcs8_der_decodes_to_the_same_key() {
        let key = TokenKey::generate();
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(key.signing.as_bytes());
        let decoded = SigningKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(decoded.to_bytes(), key.signing.to_bytes());
    }

    #[test]
    fn kid_is_sixteen_base64url_chars_of_the_public_key_hash() {
        let key = TokenKey::generate();
        assert_eq!(key.kid().len(), KID_LEN);
        let full = URL_SAFE_NO_PAD.encode(Sha256::digest(key.public_key_bytes()));
        assert!(full.starts_with(key.kid()));
        assert_eq!(key.verifier_key().kid(), key.kid());
    }

    #[test]
    fn public_key_bytes_round_trip_through_verification_key() {
        let key = TokenKey::generate();
        let vk = VerificationKey::from_public_key_bytes(&key.public_key_bytes()).unwrap();
        assert_eq!(vk.kid(), key.kid());
        assert_eq!(vk.public_key_bytes(), key.public_key_bytes());
    }

    #[test]
    fn debug_output_names_the_kid_only() {
        let key = TokenKey::generate();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()));
        assert!(!shown.contains(&format!("{:?}", key.signing.as_bytes())));
    }
}
