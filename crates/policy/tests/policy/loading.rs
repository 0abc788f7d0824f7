//! Loading policies: the shipped defaults, operator folders, and refusals.

use crate::support::policy_dir;
use mandate_policy::{OrgPolicy, PolicyError};

const DEFAULT_IDS: [&str; 3] = [
    "mandate.permit-within-mandate",
    "mandate.forbid-destructive-without-approval",
    "mandate.forbid-orchestrate-without-depth",
];

#[test]
fn shipped_schema_and_default_policies_load_and_validate() {
    let policy = OrgPolicy::load(None).unwrap();
    assert_eq!(policy.policy_ids(), DEFAULT_IDS);
    assert_eq!(policy.len(), 3);
}

#[test]
fn operator_files_load_after_the_defaults_in_name_order() {
    let dir = policy_dir(&[
        (
            "b.cedar",
            r#"forbid (principal, action, resource == Mandate::Tool::"crm.purge_customers");"#,
        ),
        (
            "a.cedar",
            r#"@id("ops.no-open-world")
               forbid (principal, action == Mandate::Action::"call_tool", resource)
               when { resource.open_world };"#,
        ),
        ("notes.txt", "not a policy"),
    ]);
    let policy = OrgPolicy::load(Some(dir.path())).unwrap();
    let mut expected: Vec<&str> = DEFAULT_IDS.to_vec();
    expected.extend(["ops.no-open-world", "b.cedar#0"]);
    assert_eq!(policy.policy_ids(), expected);
}

#[test]
fn an_empty_operator_folder_leaves_the_defaults() {
    let dir = policy_dir(&[]);
    assert_eq!(OrgPolicy::load(Some(dir.path())).unwrap().len(), 3);
}

#[test]
fn a_missing_operator_folder_is_an_error_naming_it() {
    let dir = policy_dir(&[]);
    let missing = dir.path().join("nope");
    let err = OrgPolicy::load(Some(&missing)).unwrap_err();
    assert!(matches!(err, PolicyError::MissingDir { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn a_syntax_error_is_refused_naming_the_file_and_line() {
    let dir = policy_dir(&[(
        "broken.cedar",
        "// first line\npermit (principal, action resource);\n",
    )]);
    let err = OrgPolicy::load(Some(dir.path())).unwrap_err();
    let PolicyError::Parse { file, message } = &err else {
        panic!("expected a parse error, got {err}");
    };
    assert!(file.ends_with("broken.cedar"), "{file}");
    assert!(message.contains("line 2"), "{message}");
    assert!(err.to_string().contains("broken.cedar"), "{err}");
}

#[test]
fn a_type_error_against_the_schema_is_refused_naming_file_and_policy() {
    let err = OrgPolicy::from_sources(&[(
        "typo.cedar",
        r#"@id("ops.typo")
           forbid (principal, action == Mandate::Action::"call_tool", resource)
           when { resource.nonexistent };"#,
    )])
    .unwrap_err();
    let PolicyError::Validation {
        file,
        policy,
        message,
    } = &err
    else {
        panic!("expected a validation error, got {err}");
    };
    assert_eq!(file, "typo.cedar");
    assert_eq!(policy, "ops.typo");
    assert!(message.contains("nonexistent"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn an_unknown_action_is_refused() {
    let err = OrgPolicy::from_sources(&[(
        "ops.cedar",
        r#"forbid (principal, action == Mandate::Action::"read_file", resource);"#,
    )])
    .unwrap_err();
    assert!(
        matches!(&err, PolicyError::Validation { policy, .. } if policy == "ops.cedar#0"),
        "{err}"
    );
}

#[test]
fn a_duplicate_id_is_refused_naming_both_files() {
    let forbid =
        r#"@id("ops.same") forbid (principal, action, resource) when { context.depth > 5 };"#;
    let dir = policy_dir(&[("one.cedar", forbid), ("two.cedar", forbid)]);
    let err = OrgPolicy::load(Some(dir.path())).unwrap_err();
    let PolicyError::DuplicateId { id, first, second } = &err else {
        panic!("expected a duplicate id error, got {err}");
    };
    assert_eq!(id, "ops.same");
    assert!(
        first.ends_with("one.cedar") && second.ends_with("two.cedar"),
        "{err}"
    );
}

#[test]
fn an_operator_cannot_reuse_a_default_policy_id() {
    let err = OrgPolicy::from_sources(&[(
        "ops.cedar",
        r#"@id("mandate.forbid-destructive-without-approval") permit (principal, action, resource);"#,
    )])
    .unwrap_err();
    assert!(
        matches!(&err, PolicyError::DuplicateId { first, .. } if first == "default.cedar"),
        "{err}"
    );
}

#[test]
fn a_malformed_group_map_is_refused_naming_the_file() {
    let dir = policy_dir(&[("groups.json", r#"{"alice@corp": "sre"}"#)]);
    let err = OrgPolicy::load(Some(dir.path())).unwrap_err();
    assert!(matches!(err, PolicyError::Groups { .. }), "{err}");
    assert!(err.to_string().contains("groups.json"), "{err}");
}

#[test]
fn org_policy_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<OrgPolicy>();
}

#[test]
fn the_readme_examples_load() {
    let readme = include_str!("../../README.md");
    let examples: Vec<&str> = readme
        .split("```cedar\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    assert_eq!(examples.len(), 4);
    for example in examples {
        if let Err(err) = OrgPolicy::from_sources(&[("README.md", example)]) {
            panic!("README example does not load: {err}\n{example}");
        }
    }
}
