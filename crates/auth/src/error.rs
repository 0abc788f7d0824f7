//! Errors of this crate: one enum for tokens, one for the signing key file.

use std::path::PathBuf;

/// Why a token could not be issued or was refused.
///
/// The `Display` text is for logs and the audit log: it may name what was
/// wrong in detail. What an agent may see is [`TokenError::public_reason`]
/// and [`TokenError::www_authenticate_error`].
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is longer than [`crate::MAX_TOKEN_LEN`]; it was not parsed.
    #[error("token is longer than {} bytes", crate::MAX_TOKEN_LEN)]
    TooLarge,
    /// The token is not a well-formed compact JWS with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm other than `EdDSA`.
    #[error("unsupported token algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// The header's `typ` is missing or is not `at+jwt`.
    #[error("token type is not `at+jwt`")]
    WrongType,
    /// The header has no `kid`, or names a key this verifier does not hold.
    #[error("token names no known signing key")]
    UnknownKey,
    /// The signature does not verify under the key the header names.
    #[error("token signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// The `iss` claim is not this server.
    #[error("token was issued by another issuer")]
    WrongIssuer,
    /// The `aud` claim is not this resource.
    #[error("token is meant for another audience")]
    WrongAudience,
    /// The token's `exp` has passed.
    #[error("token has expired")]
    Expired,
    /// The token's `iat` lies in the future, beyond the allowed leeway.
    #[error("token is not yet valid")]
    NotYetValid,
    /// Issuing: the mandate the token would be bound to has already expired.
    #[error("mandate has already expired")]
    MandateExpired,
    /// Issuing: the signing backend failed.
    #[error("could not sign token")]
    Signing(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl TokenError {
    /// The RFC 6750 `error` code for a `WWW-Authenticate: Bearer` challenge.
    pub fn www_authenticate_error(&self) -> &'static str {
        // Every refusal of a presented token is `invalid_token` (RFC 6750
        // §3.1: "expired, revoked, malformed, or invalid for other reasons").
        // The issuing errors never answer a presented token; they map to
        // `invalid_token` too so that no arm can leak a distinction.
        match self {
            Self::TooLarge
            | Self::Malformed(_)
            | Self::UnsupportedAlgorithm(_)
            | Self::WrongType
            | Self::UnknownKey
            | Self::BadSignature
            | Self::MissingClaim(_)
            | Self::WrongIssuer
            | Self::WrongAudience
            | Self::Expired
            | Self::NotYetValid
            | Self::MandateExpired
            | Self::Signing(_) => "invalid_token",
        }
    }

    /// A short reason that is safe to show to the agent: it names no key,
    /// algorithm or internal detail.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Expired => "the access token has expired",
            Self::NotYetValid => "the access token is not yet valid",
            Self::WrongAudience => "the access token is not meant for this resource",
            Self::TooLarge => "the access token is too large",
            Self::MandateExpired => "the mandate has expired",
            Self::Signing(_) => "the access token could not be issued",
            Self::Malformed(_)
            | Self::UnsupportedAlgorithm(_)
            | Self::WrongType
            | Self::UnknownKey
            | Self::BadSignature
            | Self::MissingClaim(_)
            | Self::WrongIssuer => "the access token is invalid",
        }
    }
}

/// Why the token signing key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file or its directory failed.
    #[error("cannot access `{}`", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a PKCS#8 PEM Ed25519 private key.
    #[error("`{}` is not a PKCS#8 PEM Ed25519 private key", path.display())]
    InvalidKey {
        /// The key file.
        path: PathBuf,
    },
    /// The file can be read by users other than its owner.
    #[error("`{}` is readable by others (mode {mode:o}); expected 0600", path.display())]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// The file's permission bits.
        mode: u32,
    },
    /// The key could not be encoded as PKCS#8 PEM.
    #[error("cannot encode the signing key as PKCS#8 PEM")]
    Encode,
    /// The bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
}
