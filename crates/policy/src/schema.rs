//! Mandate's Cedar schema, the default policies shipped beside it, and the
//! schema's names parsed once so that no call re-parses them.

use crate::PolicyError;
use cedar_policy::{EntityTypeName, EntityUid, Schema};
use std::str::FromStr;

/// The schema every policy is validated against: `policies/mandate.cedarschema`.
pub(crate) const SCHEMA: &str = include_str!("../policies/mandate.cedarschema");

/// The default policies, loaded before the operator's: `policies/default.cedar`.
pub(crate) const DEFAULTS: &str = include_str!("../policies/default.cedar");

/// The name the default policies go by in ids and errors.
pub(crate) const DEFAULTS_FILE: &str = "default.cedar";

/// The parsed schema and the entity types and actions requests are built from.
#[derive(Debug)]
pub(crate) struct Vocabulary {
    pub(crate) schema: Schema,
    pub(crate) human: EntityTypeName,
    pub(crate) group: EntityTypeName,
    pub(crate) agent: EntityTypeName,
    pub(crate) tool: EntityTypeName,
    pub(crate) call_tool: EntityUid,
    pub(crate) delegate: EntityUid,
}

impl Vocabulary {
    /// Parses the shipped schema. Fails only if Mandate itself ships a broken one.
    pub(crate) fn load() -> Result<Self, PolicyError> {
        let (schema, warnings) = Schema::from_cedarschema_str(SCHEMA).map_err(|e| broken(&e))?;
        for warning in warnings {
            tracing::warn!(%warning, "mandate's policy schema");
        }
        Ok(Self {
            schema,
            human: type_name("Mandate::Human")?,
            group: type_name("Mandate::Group")?,
            agent: type_name("Mandate::Agent")?,
            tool: type_name("Mandate::Tool")?,
            call_tool: action(r#"Mandate::Action::"call_tool""#)?,
            delegate: action(r#"Mandate::Action::"delegate""#)?,
        })
    }
}

fn type_name(name: &str) -> Result<EntityTypeName, PolicyError> {
    EntityTypeName::from_str(name).map_err(|e| broken(&e))
}

fn action(uid: &str) -> Result<EntityUid, PolicyError> {
    EntityUid::from_str(uid).map_err(|e| broken(&e))
}

fn broken(e: &dyn std::fmt::Display) -> PolicyError {
    PolicyError::Schema {
        message: e.to_string(),
    }
}
