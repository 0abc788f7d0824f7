//! Issuing access tokens bound to a mandate.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};

use crate::claims::{Actor, Claims};
use crate::error::TokenError;
use crate::key::TokenKey;
use crate::verify::MAX_TOKEN_LEN;

/// Signs access tokens for one issuer and one audience.
#[derive(Debug)]
pub struct TokenIssuer {
    key: TokenKey,
    issuer: String,
    audience: String,
    // INVARIANT: at least 1, so that every token has `exp > iat`.
    ttl_secs: i64,
}

/// What a token is to say: who it is for, under which mandate, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The agent the token is issued to (`sub`).
    pub agent: String,
    /// The id of the recorded mandate (`mid`).
    pub mandate: String,
    /// When the mandate expires, in Unix seconds; the token never outlives it.
    pub mandate_expires_at: i64,
    /// Who delegated to the agent (RFC 8693 `act`).
    pub act: Option<Actor>,
    /// The current time, in Unix seconds.
    pub now: i64,
    /// The OAuth scope granted, for tokens from the authorization flow.
    pub scope: Option<String>,
}

/// A signed token and the claims it carries.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT, to hand to the agent as a bearer token.
    pub token: String,
    /// The claims signed into it.
    pub claims: Claims,
}

impl TokenIssuer {
    /// How long a token lives unless its mandate expires sooner.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

    /// An issuer signing with `key`, naming itself `issuer` and the protected
    /// resource `audience`, with [`Self::DEFAULT_TTL`].
    pub fn new(key: TokenKey, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            key,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_secs: secs(Self::DEFAULT_TTL),
        }
    }

    /// Sets how long a token lives; below one second counts as one second.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        Self {
            ttl_secs: secs(ttl),
            ..self
        }
    }

    /// Signs a token for `req`, expiring at `now + ttl` or at the mandate's
    /// expiry, whichever comes first.
    pub fn issue(&self, req: &TokenRequest) -> Result<IssuedToken, TokenError> {
        if req.mandate_expires_at <= req.now {
            return Err(TokenError::MandateExpired);
        }
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: req.agent.clone(),
            exp: req
                .now
                .saturating_add(self.ttl_secs)
                .min(req.mandate_expires_at),
            iat: req.now,
            jti: new_jti(),
            mandate: req.mandate.clone(),
            act: req.act.clone(),
            scope: req.scope.clone(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(crate::TOKEN_TYPE.to_owned());
        header.kid = Some(self.key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.key.encoding_key())
            .map_err(|e| TokenError::Signing(Box::new(e)))?;
        // A token the verifier would refuse unread is no use to anyone.
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        Ok(IssuedToken { token, claims })
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer credential: keep it out of logs.
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

/// 128 random bits, hex-encoded.
fn new_jti() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn secs(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(now: i64, mandate_expires_at: i64) -> TokenRequest {
        TokenRequest {
            agent: "agent-7".into(),
            mandate: "mdt-42".into(),
            mandate_expires_at,
            act: None,
            now,
            scope: None,
        }
    }

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(TokenKey::generate(), "iss", "aud")
    }

    #[test]
    fn default_ttl_is_fifteen_minutes() {
        let t = issuer().issue(&request(1000, 1_000_000)).unwrap();
        assert_eq!(t.claims.exp, 1000 + 15 * 60);
        assert_eq!(t.claims.iat, 1000);
    }

    #[test]
    fn zero_ttl_still_yields_exp_after_iat() {
        let t = issuer()
            .with_ttl(Duration::ZERO)
            .issue(&request(1000, 1_000_000))
            .unwrap();
        assert_eq!(t.claims.exp, 1001);
    }

    #[test]
    fn huge_ttl_saturates_and_is_capped_by_the_mandate() {
        let t = issuer()
            .with_ttl(Duration::MAX)
            .issue(&request(1000, 5000))
            .unwrap();
        assert_eq!(t.claims.exp, 5000);
    }

    #[test]
    fn jti_is_128_bits_of_hex_and_unique() {
        let i = issuer();
        let a = i.issue(&request(1000, 2000)).unwrap().claims.jti;
        let b = i.issue(&request(1000, 2000)).unwrap().claims.jti;
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn oversize_claims_are_refused_at_issue() {
        let mut req = request(1000, 2000);
        req.agent = "a".repeat(MAX_TOKEN_LEN);
        assert!(matches!(issuer().issue(&req), Err(TokenError::TooLarge)));
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let t = issuer().issue(&request(1000, 2000)).unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains(&t.token));
        assert!(shown.contains("mdt-42"));
    }
}
