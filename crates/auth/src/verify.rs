//! Verifying presented access tokens.
//!
//! A token passes through a sequence of stages, each consuming the one before:
//! [`Compact`] (bounded size, three base64url parts) → [`Signed`] (header
//! accepted, key chosen) → [`Authentic`] (signature verified over the exact
//! bytes received) → [`VerifiedToken`] (claims present, ours and current).
//!
//! The algorithm is pinned: only Ed25519 keys are held, the header's `alg`
//! must say `EdDSA`, and the signature is checked with `ed25519-dalek`'s
//! strict verification whatever the header says. Nothing in the payload is
//! parsed before its signature has verified.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::claims::{Claims, RawClaims};
use crate::error::TokenError;
use crate::key::VerificationKey;
use crate::remembered::Remembered;

/// The longest token accepted, in bytes; longer ones are refused unparsed.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The only `alg` accepted.
const ALGORITHM: &str = "EdDSA";

/// Longest prefix of an unsupported `alg` kept in the error, for logs.
const ALG_ECHO_LEN: usize = 32;

/// Checks access tokens for one issuer and one audience against a set of
/// public keys.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: Vec<VerificationKey>,
    // INVARIANT: not negative.
    leeway_secs: i64,
    /// Tokens verified before, shared by clones (see [`TokenVerifier::verify_remembered`]).
    remembered: Arc<Remembered>,
}

/// A token whose signature, issuer, audience and times all checked out.
///
/// Only [`TokenVerifier::verify`] builds one, so holding one is proof that
/// those checks ran. Whether the mandate still stands is for the caller to
/// ask the mandate store.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    claims: Claims,
}

impl VerifiedToken {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> Claims {
        self.claims
    }
}

impl TokenVerifier {
    /// A verifier accepting tokens from `issuer` for `audience`, signed by
    /// any of `keys`, with no clock leeway.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: Vec<VerificationKey>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys,
            leeway_secs: 0,
            remembered: Arc::new(Remembered::default()),
        }
    }

    /// Tolerates this much clock skew on `exp` and `iat` (whole seconds).
    pub fn with_leeway(self, leeway: Duration) -> Self {
        Self {
            leeway_secs: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            ..self
        }
    }

    /// Verifies `token` as of `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
        // Shape first: nothing is decoded from an oversize or ill-shaped token.
        let compact = Compact::split(token)?;
        // Header: the algorithm, type and key it names must be ours.
        let signed = compact.check_header(&self.keys)?;
        // Signature over the exact bytes received.
        let authentic = signed.check_signature()?;
        // Claims: present, for us, and current.
        let claims = authentic.claims()?;
        self.check_claims(&claims, now)?;
        Ok(VerifiedToken { claims })
    }

    /// Like [`verify`](Self::verify), but a token this verifier (or a clone) verified
    /// before is not verified again: only its times are checked against `now`.
    ///
    /// A token is recognised by its whole text, so any change to it, in any part, is
    /// verified afresh. Only tokens that verified are remembered, and at most a bounded
    /// number of them.
    pub fn verify_remembered(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        if let Some(known) = self.remembered.get(token) {
            // Issuer and audience were checked when it was first verified and cannot change.
            self.check_claims(known.claims(), now)?;
            return Ok(known);
        }
        let verified = Arc::new(self.verify(token, now)?);
        self.remembered.put(token, Arc::clone(&verified));
        Ok(verified)
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), TokenError> {
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != self.audience {
            return Err(TokenError::WrongAudience);
        }
        if now >= claims.exp.saturating_add(self.leeway_secs) {
            return Err(TokenError::Expired);
        }
        if claims.iat > now.saturating_add(self.leeway_secs) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

/// A token of bounded size split into its three parts.
struct Compact<'a> {
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Compact<'a> {
    fn split(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(TokenError::Malformed("not three parts"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(TokenError::Malformed("not three parts"))?;
        if payload.contains('.') {
            return Err(TokenError::Malformed("not three parts"));
        }
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    fn check_header(self, keys: &'a [VerificationKey]) -> Result<Signed<'a>, TokenError> {
        let bytes = decode_part(self.header, "header is not base64url")?;
        let header: RawHeader = serde_json::from_slice(&bytes)
            .map_err(|_| TokenError::Malformed("header is not valid"))?;
        let alg = header
            .alg
            .ok_or(TokenError::Malformed("header lacks `alg`"))?;
        if alg != ALGORITHM {
            return Err(TokenError::UnsupportedAlgorithm(echo(&alg)));
        }
        // `crit`, `jwk`, `jku`, `x5u`, `b64`… would each change how the token
        // must be read or whose key signs it: refuse them all.
        if !header.other.is_empty() {
            return Err(TokenError::Malformed("unexpected header parameter"));
        }
        if !header.typ.as_deref().is_some_and(is_access_token_type) {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = keys
            .iter()
            .find(|k| k.kid() == kid)
            .ok_or(TokenError::UnknownKey)?;
        Ok(Signed { compact: self, key })
    }
}

/// The header as found: known parameters may be absent, and any other is
/// collected so that it can be refused.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    typ: Option<String>,
    kid: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

/// A token whose header names our algorithm and one of our keys.
struct Signed<'a> {
    compact: Compact<'a>,
    key: &'a VerificationKey,
}

impl<'a> Signed<'a> {
    fn check_signature(self) -> Result<Authentic<'a>, TokenError> {
        let bytes = decode_part(self.compact.signature, "signature is not base64url")?;
        let bytes: [u8; Signature::BYTE_SIZE] = bytes
            .try_into()
            .map_err(|_| TokenError::Malformed("signature has the wrong length"))?;
        let signature = Signature::from_bytes(&bytes);
        self.key
            .verifying_key()
            .verify_strict(self.compact.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(Authentic {
            payload: self.compact.payload,
        })
    }
}

/// A token whose signature verified: its payload is what we signed.
struct Authentic<'a> {
    payload: &'a str,
}

impl Authentic<'_> {
    fn claims(self) -> Result<Claims, TokenError> {
        let bytes = decode_part(self.payload, "payload is not base64url")?;
        RawClaims::from_json(&bytes)?.require_all()
    }
}

/// Decodes one part: unpadded base64url, with no stray trailing bits, so that
/// each decoded value has exactly one encoding.
fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))
}

/// RFC 9068 §4: `at+jwt`, or its full media type; case-insensitive.
fn is_access_token_type(typ: &str) -> bool {
    let typ = typ
        .get(..12)
        .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
        .and_then(|_| typ.get(12..))
        .unwrap_or(typ);
    typ.eq_ignore_ascii_case(crate::TOKEN_TYPE)
}

/// A bounded, escaped copy of attacker-chosen text, fit for a log line.
fn echo(text: &str) -> String {
    let prefix: String = text.chars().take(ALG_ECHO_LEN).collect();
    prefix.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_type_accepts_rfc_9068_spellings_only() {
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(is_access_token_type(ok), "{ok}");
        }
        for bad in [
            "JWT",
            "jwt",
            "",
            "application/jwt",
            "at+jwt ",
            "xat+jwt",
            "application/",
        ] {
            assert!(!is_access_token_type(bad), "{bad}");
        }
    }

    #[test]
    fn echo_bounds_and_escapes_attacker_text() {
        assert_eq!(echo("HS256"), "HS256");
        assert_eq!(echo("a\nb"), "a\\nb");
        assert_eq!(echo(&"x".repeat(1000)).len(), ALG_ECHO_LEN);
    }

    #[test]
    fn split_refuses_wrong_part_counts() {
        for bad in ["", "a", "a.b", "a.b.c.d", "...", "a..b.c"] {
            assert!(
                matches!(Compact::split(bad), Err(TokenError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(Compact::split("a.b.c").is_ok());
        assert!(Compact::split("..").is_ok());
    }

    #[test]
    fn split_refuses_oversize_tokens_before_anything_else() {
        let big = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(Compact::split(&big), Err(TokenError::TooLarge)));
    }
}
