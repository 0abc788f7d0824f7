//! Turning policy sources into one validated Cedar policy set.
//!
//! Each policy's id is its `@id("…")` annotation, or `<file name>#<index>`
//! when it has none. Ids are unique across all files. The whole set is then
//! validated strictly against Mandate's schema, and validator warnings (a
//! policy that can never apply, confusable or bidirectional characters) are
//! refused like errors: a forbid that silently never fires is a hole.

use crate::PolicyError;
use crate::source::Source;
use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;
use std::collections::HashMap;
use std::str::FromStr;

/// The annotation that names a policy.
const ID_ANNOTATION: &str = "id";

/// A validated policy set and its ids in load order.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) policies: PolicySet,
    pub(crate) ids: Vec<String>,
}

/// Parses every source (in order), names each policy and validates the set.
pub(crate) fn compile(sources: &[Source], schema: &Schema) -> Result<Compiled, PolicyError> {
    let mut policies = PolicySet::new();
    let mut ids = Vec::new();
    // Which source each id came from, for duplicate and validation errors.
    let mut owner: HashMap<String, &Source> = HashMap::new();
    for source in sources {
        let parsed = PolicySet::from_str(&source.text).map_err(|e| PolicyError::Parse {
            file: source.origin.clone(),
            message: describe(&e, &source.text),
        })?;
        if let Some(template) = parsed.templates().next() {
            return Err(PolicyError::Template {
                file: source.origin.clone(),
                policy: template
                    .annotation(ID_ANNOTATION)
                    .map_or_else(|| template.id().to_string(), str::to_owned),
            });
        }
        // The parser numbers policies in source order; so does this loop.
        for (index, policy) in parsed.policies().enumerate() {
            let id = match policy.annotation(ID_ANNOTATION) {
                Some("") => {
                    return Err(PolicyError::EmptyId {
                        file: source.origin.clone(),
                        index,
                    });
                }
                Some(id) => id.to_owned(),
                None => format!("{}#{index}", source.name),
            };
            if let Some(first) = owner.get(&id) {
                return Err(PolicyError::DuplicateId {
                    id,
                    first: first.origin.clone(),
                    second: source.origin.clone(),
                });
            }
            policies
                .add(policy.new_id(PolicyId::new(&id)))
                .map_err(|e| PolicyError::Parse {
                    file: source.origin.clone(),
                    message: e.to_string(),
                })?;
            owner.insert(id.clone(), source);
            ids.push(id);
        }
    }
    validate(&policies, schema, &owner)?;
    Ok(Compiled { policies, ids })
}

/// Validates strictly; the first error (or warning) found is reported.
fn validate(
    policies: &PolicySet,
    schema: &Schema,
    owner: &HashMap<String, &Source>,
) -> Result<(), PolicyError> {
    let validator = Validator::new(schema.clone());
    let result = validator.validate(policies, ValidationMode::Strict);
    let first_error = result
        .validation_errors()
        .map(|e| (e.policy_id(), e as &dyn Diagnostic))
        .next();
    let first = first_error.or_else(|| {
        result
            .validation_warnings()
            .map(|w| (w.policy_id(), w as &dyn Diagnostic))
            .next()
    });
    match first {
        None => Ok(()),
        Some((id, diagnostic)) => {
            let source = owner.get(AsRef::<str>::as_ref(id));
            Err(PolicyError::Validation {
                file: source.map(|s| s.origin.clone()).unwrap_or_default(),
                policy: id.to_string(),
                message: describe(diagnostic, source.map_or("", |s| s.text.as_str())),
            })
        }
    }
}

/// Cedar's message, prefixed with the line and column it points at and
/// followed by its hint when it has one.
fn describe(diagnostic: &dyn Diagnostic, text: &str) -> String {
    let mut message = diagnostic.to_string();
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    if let Some((line, column)) = offset.and_then(|o| line_column(text, o)) {
        message = format!("line {line}, column {column}: {message}");
    }
    if let Some(help) = diagnostic.help() {
        message = format!("{message} ({help})");
    }
    message
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> Option<(usize, usize)> {
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Vocabulary;

    fn compile_one(text: &str) -> Result<Compiled, PolicyError> {
        let vocabulary = Vocabulary::load().unwrap();
        compile(&[Source::named("ops.cedar", text)], &vocabulary.schema)
    }

    #[test]
    fn unnamed_policies_are_named_after_file_and_position() {
        let compiled = compile_one(
            r#"permit (principal, action == Mandate::Action::"call_tool", resource);
               @id("ops.second") forbid (principal, action == Mandate::Action::"call_tool", resource) when { resource.open_world };
               forbid (principal, action == Mandate::Action::"delegate", resource);"#,
        )
        .unwrap();
        assert_eq!(compiled.ids, ["ops.cedar#0", "ops.second", "ops.cedar#2"]);
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 4), Some((2, 2)));
        assert_eq!(line_column("ab", 0), Some((1, 1)));
        assert_eq!(line_column("ab", 9), None);
    }

    #[test]
    fn templates_are_refused() {
        let err =
            compile_one(r#"permit (principal == ?principal, action, resource);"#).unwrap_err();
        assert!(matches!(err, PolicyError::Template { .. }), "{err}");
    }

    #[test]
    fn empty_id_is_refused() {
        let err = compile_one(r#"@id("") permit (principal, action, resource);"#).unwrap_err();
        assert!(
            matches!(err, PolicyError::EmptyId { index: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn impossible_policy_is_refused_like_an_error() {
        let err = compile_one(
            r#"forbid (principal, action == Mandate::Action::"call_tool", resource) when { false };"#,
        )
        .unwrap_err();
        assert!(matches!(err, PolicyError::Validation { .. }), "{err}");
    }
}
