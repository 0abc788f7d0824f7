//! Identifiers: agents, humans, mandates and `upstream.tool` names.
//!
//! Each is a newtype that can only hold a well-formed value (parse, don't validate).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// What kind of identifier was expected.
        kind: &'static str,
    },
    /// The identifier is longer than allowed.
    #[error("{kind} `{value}` is longer than {max} characters")]
    TooLong {
        /// What kind of identifier was expected.
        kind: &'static str,
        /// The offending value.
        value: String,
        /// The limit.
        max: usize,
    },
    /// The identifier holds a character that is not allowed.
    #[error("{kind} `{value}` may only hold letters, digits and `{allowed}`")]
    BadCharacter {
        /// What kind of identifier was expected.
        kind: &'static str,
        /// The offending value.
        value: String,
        /// The punctuation allowed besides letters and digits.
        allowed: &'static str,
    },
    /// The identifier does not have the required shape.
    #[error("{kind} `{value}` is malformed: expected {expected}")]
    Malformed {
        /// What kind of identifier was expected.
        kind: &'static str,
        /// The offending value.
        value: String,
        /// The shape expected.
        expected: &'static str,
    },
    /// A tool name lacks its `upstream.` prefix.
    #[error("tool `{0}` must be written `upstream.tool`")]
    NotQualified(String),
}

const MAX_ID_LEN: usize = 128;

fn check(kind: &'static str, value: &str, allowed: &'static str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            value: value.to_owned(),
            max: MAX_ID_LEN,
        });
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || allowed.contains(c))
    {
        return Err(IdError::BadCharacter {
            kind,
            value: value.to_owned(),
            allowed,
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $allowed:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and checks an identifier.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check($kind, &value, $allowed)?;
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// A registered agent (a non-human identity), e.g. `support-bot`.
    AgentId, "agent id", "-_.:@"
);
string_id!(
    /// A human's stable subject id, e.g. `alice@corp`.
    HumanId, "human id", "-_.:@+"
);
string_id!(
    /// A mandate's id, e.g. `m_0193...`.
    MandateId, "mandate id", "-_"
);

impl MandateId {
    /// A mandate id made from 128 bits the caller chose (a UUID), valid by construction.
    pub fn from_u128(bits: u128) -> Self {
        Self(format!("m_{bits:032x}"))
    }
}

/// A tool as agents see it: `upstream.tool`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ToolName {
    full: String,
    dot: usize,
}

impl ToolName {
    /// Parses `upstream.tool`; the upstream part may not contain a dot.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let full = value.into();
        check("tool name", &full, "-_./")?;
        let dot = full
            .find('.')
            .ok_or_else(|| IdError::NotQualified(full.clone()))?;
        if dot == 0 || dot + 1 == full.len() {
            return Err(IdError::NotQualified(full));
        }
        Ok(Self { full, dot })
    }

    /// Builds `upstream.tool` from its parts.
    pub fn from_parts(upstream: &str, tool: &str) -> Result<Self, IdError> {
        Self::new(format!("{upstream}.{tool}"))
    }

    /// The upstream's name.
    pub fn upstream(&self) -> &str {
        self.full.get(..self.dot).unwrap_or_default()
    }

    /// The tool's name at its upstream.
    pub fn tool(&self) -> &str {
        self.full.get(self.dot + 1..).unwrap_or_default()
    }

    /// The full `upstream.tool` name.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl TryFrom<String> for ToolName {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::new(value)
    }
}

impl From<ToolName> for String {
    fn from(t: ToolName) -> String {
        t.full
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_name_splits_at_first_dot() {
        let t = ToolName::new("crm.lookup_customer").unwrap();
        assert_eq!(t.upstream(), "crm");
        assert_eq!(t.tool(), "lookup_customer");
        assert!(ToolName::new("crm").is_err());
        assert!(ToolName::new(".x").is_err());
        assert!(ToolName::new("x.").is_err());
    }

    #[test]
    fn ids_refuse_empty_and_odd_characters() {
        assert!(AgentId::new("").is_err());
        assert!(AgentId::new("bot 1").is_err());
        assert!(HumanId::new("alice@corp").is_ok());
        assert!(MandateId::new("m_1/2").is_err());
    }
}
