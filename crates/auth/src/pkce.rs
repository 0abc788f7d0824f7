//! PKCE (RFC 7636), S256 only: the challenge an authorization request carries, and the
//! verifier the token request must prove it with, compared in constant time.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Why a PKCE parameter was refused. The texts are safe to show a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge`.
    #[error("`code_challenge` is required (PKCE)")]
    MissingChallenge,
    /// `code_challenge_method` is absent or not `S256` (`plain` is refused).
    #[error("`code_challenge_method` must be `S256`")]
    UnsupportedMethod,
    /// The challenge is not 43 base64url characters (a SHA-256 digest).
    #[error("`code_challenge` must be a base64url SHA-256 digest (43 characters)")]
    MalformedChallenge,
}

/// A validated S256 code challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

/// What checking a verifier found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceCheck {
    /// The verifier hashes to the challenge.
    Proven,
    /// It does not, or it is not a well-formed verifier.
    Refused,
}

impl CodeChallenge {
    /// Parses `code_challenge` and `code_challenge_method` as an authorization request
    /// carries them.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge
            .filter(|c| !c.is_empty())
            .ok_or(PkceError::MissingChallenge)?;
        if method != Some("S256") {
            return Err(PkceError::UnsupportedMethod);
        }
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(challenge);
        match decoded {
            Ok(bytes) if bytes.len() == 32 && challenge.len() == 43 => {
                Ok(Self(challenge.to_owned()))
            }
            _ => Err(PkceError::MalformedChallenge),
        }
    }

    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a `code_verifier` (43 to 128 unreserved characters): its SHA-256, base64url,
    /// is compared with the challenge in constant time.
    pub fn verify(&self, verifier: &str) -> PkceCheck {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let equal: bool = computed.as_bytes().ct_eq(self.0.as_bytes()).into();
        if well_formed && equal {
            PkceCheck::Proven
        } else {
            PkceCheck::Refused
        }
    }
}

/// The S256 challenge of a verifier, for when Mandate is itself the client (signing in
/// at an external OpenID Connect provider).
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_proves() {
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert_eq!(c.verify(VERIFIER), PkceCheck::Proven);
        assert_eq!(c.verify(&VERIFIER.replace('d', "e")), PkceCheck::Refused);
        assert_eq!(c.verify(""), PkceCheck::Refused);
        assert_eq!(c.verify(CHALLENGE), PkceCheck::Refused);
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
    }

    #[test]
    fn plain_and_malformed_challenges_are_refused() {
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("plain")),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), None),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(PkceError::MissingChallenge)
        );
        assert_eq!(
            CodeChallenge::parse(Some("abc"), Some("S256")),
            Err(PkceError::MalformedChallenge)
        );
    }
}
