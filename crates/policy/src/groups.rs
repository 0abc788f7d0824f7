//! The operator's `groups.json`: which groups each human belongs to, so
//! policies can say `context.root_human in Mandate::Group::"sre"`.
//!
//! The file maps human ids to group names: `{"alice@corp": ["sre"]}`.

use crate::PolicyError;
use crate::schema::Vocabulary;
use crate::source::Source;
use cedar_policy::{EntityId, EntityUid};
use mandate_core::HumanId;
use std::collections::{HashMap, HashSet};

/// Each known human's groups, as Cedar entity references.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    members: HashMap<HumanId, HashSet<EntityUid>>,
}

impl Groups {
    /// Parses `groups.json`.
    pub(crate) fn parse(source: &Source, vocabulary: &Vocabulary) -> Result<Self, PolicyError> {
        let invalid = |message: String| PolicyError::Groups {
            file: source.origin.clone(),
            message,
        };
        let raw: HashMap<String, Vec<String>> =
            serde_json::from_str(&source.text).map_err(|e| {
                invalid(format!(
                    "expected an object of human ids to lists of group names: {e}"
                ))
            })?;
        let mut members = HashMap::with_capacity(raw.len());
        for (human, groups) in raw {
            let human = HumanId::new(human).map_err(|e| invalid(e.to_string()))?;
            let mut parents = HashSet::with_capacity(groups.len());
            for group in groups {
                if group.trim().is_empty() {
                    return Err(invalid(format!(
                        "human `{human}` lists an empty group name"
                    )));
                }
                parents.insert(EntityUid::from_type_name_and_id(
                    vocabulary.group.clone(),
                    EntityId::new(&group),
                ));
            }
            members.insert(human, parents);
        }
        Ok(Self { members })
    }

    /// Does `groups.json` put the human in this group?
    pub(crate) fn contains(&self, human: &HumanId, group: &str) -> bool {
        self.members
            .get(human)
            .is_some_and(|groups| groups.iter().any(|uid| uid.id().unescaped() == group))
    }

    /// The groups a human belongs to (none if the map does not name them).
    pub(crate) fn of(&self, human: &HumanId) -> HashSet<EntityUid> {
        self.members.get(human).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Groups, PolicyError> {
        let vocabulary = Vocabulary::load().unwrap();
        Groups::parse(&Source::named("groups.json", text), &vocabulary)
    }

    #[test]
    fn groups_become_group_entities() {
        let groups = parse(r#"{"alice@corp": ["sre", "oncall"]}"#).unwrap();
        let alice = groups.of(&HumanId::new("alice@corp").unwrap());
        assert_eq!(alice.len(), 2);
        assert!(alice.contains(&r#"Mandate::Group::"sre""#.parse().unwrap()));
        assert!(groups.of(&HumanId::new("bob@corp").unwrap()).is_empty());
        assert!(groups.contains(&HumanId::new("alice@corp").unwrap(), "oncall"));
        assert!(!groups.contains(&HumanId::new("alice@corp").unwrap(), "security"));
    }

    #[test]
    fn malformed_group_maps_are_refused_with_the_file_name() {
        for bad in [
            r#"["sre"]"#,
            r#"{"alice@corp": "sre"}"#,
            r#"{"bad human": []}"#,
            r#"{"a@b": [" "]}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains("`groups.json`"), "{err}");
        }
    }
}
