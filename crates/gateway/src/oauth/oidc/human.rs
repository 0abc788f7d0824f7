//! Which Mandate human a verified identity is: its verified email address, or its subject
//! after the configured prefix.

use crate::config::HumanClaim;
use mandate_auth::id_token::Identity;
use mandate_core::HumanId;

/// The human id the configured claim names, or why the identity cannot sign in (shown to
/// the person and audited).
pub(super) fn human_id(identity: &Identity, rule: &HumanClaim) -> Result<HumanId, String> {
    match rule {
        HumanClaim::VerifiedEmail => {
            let email = identity
                .email
                .as_deref()
                .ok_or("the provider did not share your email address")?;
            // INVARIANT: an address counts only if the provider vouches for it; anyone can
            // type someone else's address into an account they control.
            if identity.email_verified != Some(true) {
                return Err(format!(
                    "the provider has not verified the email address `{email}`"
                ));
            }
            HumanId::new(email).map_err(|e| format!("`{email}` cannot be a Mandate human id: {e}"))
        }
        HumanClaim::Subject { prefix } => {
            let id = format!("{prefix}{}", identity.subject);
            HumanId::new(id.as_str())
                .map_err(|e| format!("your subject id cannot be a Mandate human id: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(email: Option<&str>, verified: Option<bool>) -> Identity {
        Identity {
            subject: "248289761001".into(),
            email: email.map(str::to_owned),
            email_verified: verified,
        }
    }

    #[test]
    fn a_verified_email_is_the_human() {
        let human = human_id(
            &identity(Some("jane@idp.example"), Some(true)),
            &HumanClaim::VerifiedEmail,
        );
        assert_eq!(human.unwrap().as_str(), "jane@idp.example");
    }

    #[test]
    fn an_unverified_or_missing_email_is_refused() {
        for (email, verified) in [
            (Some("jane@idp.example"), Some(false)),
            (Some("jane@idp.example"), None),
            (None, Some(true)),
        ] {
            let refused = human_id(&identity(email, verified), &HumanClaim::VerifiedEmail);
            assert!(refused.is_err(), "{email:?} {verified:?}");
        }
        let why = human_id(
            &identity(Some("jane@idp.example"), Some(false)),
            &HumanClaim::VerifiedEmail,
        )
        .unwrap_err();
        assert!(why.contains("not verified"), "{why}");
    }

    #[test]
    fn a_subject_gets_its_prefix_and_odd_subjects_are_refused() {
        let rule = HumanClaim::Subject {
            prefix: "okta:".into(),
        };
        let human = human_id(&identity(None, None), &rule).unwrap();
        assert_eq!(human.as_str(), "okta:248289761001");
        let mut odd = identity(None, None);
        odd.subject = "auth0|abc def".into();
        assert!(human_id(&odd, &rule).is_err());
        odd.subject = "x".repeat(200);
        assert!(human_id(&odd, &rule).is_err());
    }
}
