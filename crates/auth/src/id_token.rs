//! ID tokens from an external OpenID Connect provider: its signing keys (a JWK Set) and
//! the checks an ID token must pass before the person it names may sign in to Mandate.
//!
//! Like [`crate::TokenVerifier`], the checks pin what they accept: only asymmetric
//! algorithms (RSA and ECDSA; never `none` or HMAC), a key whose type fits the header's
//! algorithm, and the time passed in as an argument. Nothing in the payload is read before
//! its signature has verified.

mod keys;

pub use keys::{KeySetError, ProviderKeys};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;

/// The longest ID token accepted, in bytes.
pub const MAX_ID_TOKEN_LEN: usize = 16 * 1024;

/// Longest prefix of an unsupported `alg` kept in the error.
const ALG_ECHO_LEN: usize = 16;

/// Why an ID token was refused. The texts are safe to show the person signing in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Longer than [`MAX_ID_TOKEN_LEN`]; not parsed.
    #[error("the ID token is longer than {MAX_ID_TOKEN_LEN} bytes")]
    TooLarge,
    /// Not a compact JWS with a JSON header and JSON claims.
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm other than RS*, PS*, ES256 or ES384.
    #[error("the ID token's algorithm `{0}` is not accepted")]
    UnsupportedAlgorithm(String),
    /// No key of the provider's key set fits the header's `kid` and `alg`.
    #[error("the ID token names no signing key the provider publishes")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the ID token's signature does not verify")]
    BadSignature,
    /// A required claim is absent or has the wrong type.
    #[error("the ID token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// `iss` is not the configured provider.
    #[error("the ID token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not include this client.
    #[error("the ID token is meant for another client")]
    WrongAudience,
    /// `azp` is not this client, or is missing while there are several audiences.
    #[error("the ID token was issued to another party (`azp`)")]
    WrongAuthorizedParty,
    /// `exp` has passed.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` lies in the future.
    #[error("the ID token was issued in the future")]
    IssuedInFuture,
    /// `nonce` is not the one this sign-in sent.
    #[error("the ID token's nonce is not this sign-in's")]
    WrongNonce,
    /// The UserInfo response names another subject than the ID token.
    #[error("the provider's user info is about another subject")]
    UserInfoSubjectMismatch,
}

/// What the ID token must say for this sign-in.
#[derive(Debug, Clone)]
pub struct IdTokenExpectations<'a> {
    /// The provider's issuer identifier, compared exactly.
    pub issuer: &'a str,
    /// This relying party's client id at the provider.
    pub client_id: &'a str,
    /// The nonce sent with this sign-in's authorization request.
    pub nonce: &'a str,
    /// The current time, Unix seconds.
    pub now: i64,
    /// Tolerated clock skew on `exp` and `iat`, seconds (not negative).
    pub leeway_secs: i64,
}

/// The claims Mandate reads about the person, from a verified ID token (and perhaps the
/// provider's UserInfo endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable subject identifier.
    pub subject: String,
    /// `email`, if the provider said.
    pub email: Option<String>,
    /// `email_verified`, if the provider said (a JSON boolean; anything else counts as absent).
    pub email_verified: Option<bool>,
}

/// An ID token whose signature and claims checked out. Only [`verify_id_token`] builds one.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    identity: Identity,
}

impl VerifiedIdToken {
    /// Who the token is about.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Whether the token lacks claims that UserInfo may supply (OpenID Connect Core §5.4:
    /// a provider may return scope claims only there when it also issues an access token).
    pub fn lacks_email(&self) -> bool {
        self.identity.email.is_none() || self.identity.email_verified.is_none()
    }

    /// Fills `email` and `email_verified` the token lacks from a UserInfo response, which
    /// must be about the same subject (Core §5.3.2). The token's own claims win.
    pub fn with_userinfo(mut self, userinfo: &Value) -> Result<Identity, IdTokenError> {
        if userinfo.get("sub").and_then(Value::as_str) != Some(self.identity.subject.as_str()) {
            return Err(IdTokenError::UserInfoSubjectMismatch);
        }
        let id = &mut self.identity;
        let email = string_claim(userinfo, "email");
        // A verification flag counts only beside the address it is about.
        let verified = email
            .as_ref()
            .and_then(|_| userinfo.get("email_verified").and_then(Value::as_bool));
        match (&id.email, id.email_verified) {
            (None, _) => {
                id.email = email;
                id.email_verified = verified;
            }
            (Some(mine), None) if email.as_ref() == Some(mine) => id.email_verified = verified,
            (Some(_), _) => {}
        }
        Ok(self.identity)
    }

    /// The identity, by value.
    pub fn into_identity(self) -> Identity {
        self.identity
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Verifies an ID token against the provider's keys and this sign-in's expectations.
pub fn verify_id_token(
    token: &str,
    keys: &ProviderKeys,
    expected: &IdTokenExpectations<'_>,
) -> Result<VerifiedIdToken, IdTokenError> {
    if token.len() > MAX_ID_TOKEN_LEN {
        return Err(IdTokenError::TooLarge);
    }
    let header_part = token
        .split('.')
        .next()
        .ok_or(IdTokenError::Malformed("no header"))?;
    let header = URL_SAFE_NO_PAD
        .decode(header_part)
        .map_err(|_| IdTokenError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header)
        .map_err(|_| IdTokenError::Malformed("header is not a JWS header"))?;
    let algorithm = accepted_algorithm(&header.alg)?;
    let key = keys
        .find(header.kid.as_deref(), algorithm)
        .ok_or(IdTokenError::UnknownKey)?;
    // The signature only: the claims are checked below, against `expected.now`.
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(token, key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenError::BadSignature,
            _ => IdTokenError::Malformed("the token does not decode"),
        })?
        .claims;
    let identity = check_claims(&claims, expected)?;
    Ok(VerifiedIdToken { identity })
}

fn accepted_algorithm(alg: &str) -> Result<Algorithm, IdTokenError> {
    Ok(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        other => {
            let echo: String = other.chars().take(ALG_ECHO_LEN).collect();
            return Err(IdTokenError::UnsupportedAlgorithm(echo));
        }
    })
}

fn string_claim(claims: &Value, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// OpenID Connect Core §3.1.3.7, steps 2–4, 9, 10 and 11.
fn check_claims(
    claims: &Value,
    expected: &IdTokenExpectations<'_>,
) -> Result<Identity, IdTokenError> {
    let int = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or(IdTokenError::MissingClaim(name))
    };
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss.ok_or(IdTokenError::MissingClaim("iss"))? != expected.issuer {
        return Err(IdTokenError::WrongIssuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(IdTokenError::MissingClaim("aud")),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != expected.client_id => return Err(IdTokenError::WrongAuthorizedParty),
        None if audiences.len() > 1 => return Err(IdTokenError::WrongAuthorizedParty),
        _ => {}
    }
    let leeway = expected.leeway_secs.max(0);
    if expected.now >= int("exp")?.saturating_add(leeway) {
        return Err(IdTokenError::Expired);
    }
    if int("iat")? > expected.now.saturating_add(leeway) {
        return Err(IdTokenError::IssuedInFuture);
    }
    let nonce = claims.get("nonce").and_then(Value::as_str);
    if !nonce.is_some_and(|n| crate::secret::same_secret(n, expected.nonce)) {
        return Err(IdTokenError::WrongNonce);
    }
    let subject = string_claim(claims, "sub")
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenError::MissingClaim("sub"))?;
    let email = string_claim(claims, "email");
    let email_verified = email
        .as_ref()
        .and_then(|_| claims.get("email_verified").and_then(Value::as_bool));
    Ok(Identity {
        subject,
        email,
        email_verified,
    })
}

#[cfg(test)]
mod tests;
