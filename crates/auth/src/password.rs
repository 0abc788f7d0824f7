//! Local users' passwords: argon2id hashes in PHC string form, checked without telling an
//! unknown user from a wrong password by the time it takes.

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use rand::RngCore as _;
use std::fmt;
use std::sync::LazyLock;

/// The shortest password `mandate users add` accepts.
pub const MIN_PASSWORD_LEN: usize = 8;
/// The longest password accepted (argon2 takes any length; a bound keeps hashing cheap to refuse).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short to be worth hashing.
    #[error("a password must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_LEN`].
    #[error("a password must be at most {MAX_PASSWORD_LEN} bytes long")]
    TooLong,
    /// The hashing library failed.
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// An argon2id hash in PHC string form (`$argon2id$v=19$m=…`), as the store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashText(String);

impl PasswordHashText {
    /// Hashes `password` with argon2id (the crate's defaults: 19 MiB, 2 passes) and a
    /// fresh 128-bit salt.
    pub fn new(password: &str) -> Result<Self, PasswordError> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(PasswordError::TooShort);
        }
        if password.len() > MAX_PASSWORD_LEN {
            return Err(PasswordError::TooLong);
        }
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        Ok(Self(hash.to_string()))
    }

    /// A hash read back from the store (checked when used, not here).
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHashText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashText(…)")
    }
}

/// What checking a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password is the user's.
    Match,
    /// Wrong password, unknown user, or an unreadable stored hash: the caller cannot tell
    /// which, and neither can the person signing in.
    Mismatch,
}

/// A hash nobody's password matches, checked for unknown users so that they cost as much
/// time as known ones.
static DECOY: LazyLock<Option<PasswordHashText>> =
    LazyLock::new(|| PasswordHashText::new("decoy password never granted").ok());

/// Checks `password` against `stored`, or against a decoy when the user is unknown
/// (`None`). Slow on purpose (argon2id): run it off the async threads.
pub fn check_password(password: &str, stored: Option<&PasswordHashText>) -> PasswordCheck {
    let (hash, known) = match stored {
        Some(hash) => (Some(hash), true),
        None => (DECOY.as_ref(), false),
    };
    let Some(hash) = hash else {
        return PasswordCheck::Mismatch;
    };
    let Ok(parsed) = PasswordHash::new(hash.as_str()) else {
        return PasswordCheck::Mismatch;
    };
    let matched = password.len() <= MAX_PASSWORD_LEN
        && Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    if matched && known {
        PasswordCheck::Match
    } else {
        PasswordCheck::Mismatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_its_password_only() {
        let hash = PasswordHashText::new("correct horse").unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$"),
            "{}",
            hash.as_str()
        );
        assert_eq!(
            check_password("correct horse", Some(&hash)),
            PasswordCheck::Match
        );
        assert_eq!(
            check_password("correct horsf", Some(&hash)),
            PasswordCheck::Mismatch
        );
        assert_eq!(check_password("", Some(&hash)), PasswordCheck::Mismatch);
        // Two hashes of one password differ (fresh salt).
        assert_ne!(PasswordHashText::new("correct horse").unwrap(), hash);
        assert!(!format!("{hash:?}").contains("argon2"));
    }

    #[test]
    fn unknown_users_and_broken_hashes_never_match() {
        assert_eq!(
            check_password("decoy password never granted", None),
            PasswordCheck::Mismatch
        );
        let broken = PasswordHashText::from_stored("not a phc string".into());
        assert_eq!(
            check_password("anything", Some(&broken)),
            PasswordCheck::Mismatch
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            PasswordHashText::new("short"),
            Err(PasswordError::TooShort)
        ));
    }
}
