//! The refresh token grant: each refresh token is good once and is replaced by the next;
//! presenting a spent one revokes its family and the mandate. A refresh token never
//! outlives its mandate: every use checks the chain is in force.

use super::token::{
    Granted, TokenForm, access_token, audit_issued, check_resource, required, revoke,
};
use super::token_error::TokenEndpointError;
use crate::Gateway;
use mandate_auth::secret::{Secret, SecretDigest};
use mandate_store::oauth::Rotation;

/// Rotates the presented refresh token and issues an access token under its mandate.
pub(super) async fn refresh(gw: &Gateway, form: TokenForm) -> Result<Granted, TokenEndpointError> {
    let presented = required(form.refresh_token, "refresh_token")?;
    let client_id = required(form.client_id, "client_id")?;
    check_resource(gw, form.resource.as_deref())?;
    let next = Secret::generate();
    let digest = SecretDigest::of(&presented);
    let rotation = gw
        .store
        .rotate_refresh(
            digest.as_str(),
            &client_id,
            next.digest().as_str(),
            crate::now(),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot rotate a refresh token");
            TokenEndpointError::Internal
        })?;
    let spent = match rotation {
        Rotation::Rotated(spent) => spent,
        Rotation::Reused(spent) => {
            // RFC 9700 §4.14.2: a refresh token used twice was stolen from one of its users.
            revoke(gw, &spent.mandate, "a refresh token was used twice").await;
            return Err(TokenEndpointError::InvalidGrant(
                "the refresh token was already used; its family and mandate are revoked",
            ));
        }
        Rotation::Unknown => {
            return Err(TokenEndpointError::InvalidGrant(
                "the refresh token is unknown or not this client's",
            ));
        }
    };
    let token = access_token(gw, &spent.mandate, &spent.scope).await?;
    audit_issued(gw, &spent.mandate, &client_id, "refresh_token").await;
    Ok(Granted::new(token, &next, spent.scope))
}
