//! The claims an access token carries, and their strict decoding.

use serde::{Deserialize, Serialize};

use crate::error::TokenError;

/// The claims of a Mandate access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer: this Mandate server.
    pub iss: String,
    /// The audience: the protected resource the token is for (RFC 8707).
    pub aud: String,
    /// The agent the token was issued to.
    pub sub: String,
    /// Expiry, in Unix seconds; never later than the mandate's own expiry.
    pub exp: i64,
    /// Issue time, in Unix seconds.
    pub iat: i64,
    /// A random token id, unique per token.
    pub jti: String,
    /// The id of the recorded mandate the agent acts under.
    #[serde(rename = "mid")]
    pub mandate: String,
    /// Who delegated to the agent, innermost last (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The OAuth scope the token was granted (space-separated tool patterns), when it came
    /// from the authorization flow: a call outside it is answered with 403
    /// `insufficient_scope`, so that the client can ask the human for more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// One link of an RFC 8693 `act` chain: the party acting, and whoever acted
/// before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The acting party.
    pub sub: String,
    /// The party that acted before this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

/// Claims as found in a payload: every field may be absent, so that a missing
/// claim is named rather than reported as bad JSON.
#[derive(Deserialize)]
pub(crate) struct RawClaims {
    iss: Option<String>,
    aud: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    mid: Option<String>,
    act: Option<Actor>,
    scope: Option<String>,
}

impl RawClaims {
    /// Parses a decoded payload.
    pub(crate) fn from_json(payload: &[u8]) -> Result<RawClaims, TokenError> {
        serde_json::from_slice(payload).map_err(|_| TokenError::Malformed("claims are not valid"))
    }

    /// The claims, if every required one is present.
    pub(crate) fn require_all(self) -> Result<Claims, TokenError> {
        Ok(Claims {
            iss: self.iss.ok_or(TokenError::MissingClaim("iss"))?,
            aud: self.aud.ok_or(TokenError::MissingClaim("aud"))?,
            sub: self.sub.ok_or(TokenError::MissingClaim("sub"))?,
            exp: self.exp.ok_or(TokenError::MissingClaim("exp"))?,
            iat: self.iat.ok_or(TokenError::MissingClaim("iat"))?,
            jti: self.jti.ok_or(TokenError::MissingClaim("jti"))?,
            mandate: self.mid.ok_or(TokenError::MissingClaim("mid"))?,
            act: self.act,
            scope: self.scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Claims {
        Claims {
            iss: "https://mandate.example".into(),
            aud: "https://mandate.example/mcp".into(),
            sub: "agent-7".into(),
            exp: 1_700_000_900,
            iat: 1_700_000_000,
            jti: "00ff".into(),
            mandate: "mdt-42".into(),
            act: Some(Actor {
                sub: "agent-1".into(),
                act: Some(Box::new(Actor {
                    sub: "alice@example.com".into(),
                    act: None,
                })),
            }),
            scope: None,
        }
    }

    #[test]
    fn mandate_is_serialized_as_mid_and_act_chain_nests() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["mid"], "mdt-42");
        assert!(json.get("mandate").is_none());
        assert_eq!(json["act"]["sub"], "agent-1");
        assert_eq!(json["act"]["act"]["sub"], "alice@example.com");
        assert!(json["act"]["act"].get("act").is_none());
    }

    #[test]
    fn raw_claims_round_trip_to_the_same_claims() {
        let bytes = serde_json::to_vec(&sample()).unwrap();
        let claims = RawClaims::from_json(&bytes).unwrap().require_all().unwrap();
        assert_eq!(claims, sample());
    }

    #[test]
    fn each_missing_claim_is_named() {
        for name in ["iss", "aud", "sub", "exp", "iat", "jti", "mid"] {
            let mut json = serde_json::to_value(sample()).unwrap();
            json.as_object_mut().unwrap().remove(name);
            let bytes = serde_json::to_vec(&json).unwrap();
            let err = RawClaims::from_json(&bytes)
                .unwrap()
                .require_all()
                .unwrap_err();
            assert!(
                matches!(err, TokenError::MissingClaim(n) if n == name),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn wrongly_typed_claims_are_malformed() {
        let bytes = br#"{"iss":"a","aud":["a"],"sub":"s","exp":1,"iat":1,"jti":"j","mid":"m"}"#;
        assert!(matches!(
            RawClaims::from_json(bytes),
            Err(TokenError::Malformed(_))
        ));
    }
}
