//! Access tokens for Mandate.
//!
//! Every call an agent makes through the gateway carries a short-lived access
//! token: a JWT signed with Ed25519 (`alg: EdDSA`, `typ: at+jwt` as in
//! RFC 9068) that names the agent (`sub`), the recorded mandate it acts under
//! (`mid`) and the RFC 8693 `act` chain of whoever delegated to it. The
//! signature makes a token cheap to check; revocation is the mandate store's
//! job, not this crate's.
//!
//! - [`TokenKey`] is the signing key, loaded from or created in the data
//!   directory; [`VerificationKey`] is its public half.
//! - [`TokenIssuer`] turns a [`TokenRequest`] into an [`IssuedToken`], never
//!   outliving the mandate it is bound to.
//! - [`TokenVerifier`] turns a presented string into a [`VerifiedToken`], a
//!   proof value that only this crate can build, or a [`TokenError`] that maps
//!   to an RFC 6750 error code and a reason safe to show the agent.
//!
//! For the OAuth authorization server: [`password`] (argon2id hashes of local users'
//! passwords), [`pkce`] (S256 challenges, checked in constant time) and [`secret`]
//! (opaque codes and refresh tokens, kept only as digests); [`id_token`] checks ID tokens
//! from an external OpenID Connect provider for its sign-in.
//!
//! The verifier pins the algorithm: it never lets the token's header choose
//! how the token is checked, and it takes the current time as an argument so
//! that every check is deterministic.
//!
//! ```
//! use std::time::Duration;
//! use mandate_auth::{TokenIssuer, TokenKey, TokenRequest, TokenVerifier};
//!
//! let key = TokenKey::generate();
//! let verifier = TokenVerifier::new("https://mandate.example", "https://mandate.example/mcp", vec![key.verifier_key()]);
//! let issuer = TokenIssuer::new(key, "https://mandate.example", "https://mandate.example/mcp")
//!     .with_ttl(Duration::from_secs(300));
//!
//! let now = 1_700_000_000;
//! let issued = issuer.issue(&TokenRequest {
//!     agent: "agent-7".into(),
//!     mandate: "mdt-42".into(),
//!     mandate_expires_at: now + 3600,
//!     act: None,
//!     now,
//!     scope: None,
//! })?;
//! let verified = verifier.verify(&issued.token, now + 10)?;
//! assert_eq!(verified.claims().mandate, "mdt-42");
//! assert!(verifier.verify(&issued.token, now + 300).is_err());
//! # Ok::<(), mandate_auth::TokenError>(())
//! ```

mod claims;
mod error;
pub mod id_token;
mod issue;
mod key;
pub mod password;
pub mod pkce;
mod remembered;
pub mod secret;
mod verify;

pub use claims::{Actor, Claims};
pub use error::{KeyError, TokenError};
pub use issue::{IssuedToken, TokenIssuer, TokenRequest};
pub use key::{TokenKey, VerificationKey, load_or_create_ed25519};
pub use verify::{MAX_TOKEN_LEN, TokenVerifier, VerifiedToken};

/// The `typ` header value of every token this crate issues (RFC 9068).
pub(crate) const TOKEN_TYPE: &str = "at+jwt";
