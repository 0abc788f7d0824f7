//! Every OCSF record the export emits is valid OCSF 1.8.0: it has every required attribute
//! of its class (inherited ones too) and of every object it holds, nothing the schema
//! does not define, the right types and enums, and consistent class, category and type ids.
//!
//! The class and object definitions are trimmed from the OCSF schema (Apache-2.0) in
//! `tests/ocsf/*.json` (see `NOTICE` there); `schema.rs` checks records against
//! them and `log.rs` builds the entries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod log;
mod schema;

use log::{T0, all_records, record_of};
use mandate_core::MandateId;
use schema::{problems, remove, required_paths, schema};
use serde_json::{Value, json};

#[test]
fn every_record_of_every_kind_is_valid_ocsf() {
    let schema = schema();
    let mut kinds = std::collections::BTreeSet::new();
    for (stored, records) in all_records() {
        assert!(
            !records.is_empty(),
            "entry #{} exported nothing",
            stored.seq
        );
        for record in &records {
            let found = problems(&schema, record);
            assert!(
                found.is_empty(),
                "entry #{}: {found:#?}\n{record:#}",
                stored.seq
            );
            assert_eq!(record["time"], stored.event().unwrap().time.as_millis());
            assert_eq!(record["unmapped"]["mandate"]["seq"], stored.seq);
            assert_eq!(
                record["unmapped"]["mandate"]["hash"],
                stored.hash.to_string()
            );
        }
        kinds.insert(stored.event().unwrap().kind.to_string());
    }
    assert_eq!(kinds.len(), 17, "the log holds every kind: {kinds:?}");
}

#[test]
fn dropping_any_required_field_is_caught() {
    let schema = schema();
    let mut checked = 0;
    for (_, records) in all_records() {
        for record in &records {
            let class = &schema.classes[&record["class_uid"].as_u64().unwrap()];
            let paths = required_paths(&schema, class, record, &[]);
            assert!(paths.iter().any(|p| p == &["metadata", "product"]));
            for path in paths {
                let broken = remove(record, &path);
                assert!(
                    !problems(&schema, &broken).is_empty(),
                    "dropping {path:?} went unnoticed in {record:#}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} required fields were tried");
}

#[test]
fn constraints_and_unknown_attributes_are_caught() {
    let schema = schema();
    let grant = record_of("mandate_granted", None, 3003);
    let says = |record: &Value, needle: &str| {
        let found = problems(&schema, record);
        assert!(
            found.iter().any(|p| p.contains(needle)),
            "expected `{needle}` in {found:?}"
        );
    };
    // Authorize Session needs just one of `privileges` and `group`.
    says(&remove(&grant, &["privileges".into()]), "just_one");
    let mut both = grant.clone();
    both["group"] = json!({"name": "admins"});
    says(&both, "just_one");
    // An actor must name someone.
    says(
        &remove(&grant, &["actor".into(), "user".into()]),
        "at_least_one",
    );
    let mut typo = grant.clone();
    typo["src_endpoints"] = json!({"name": "x"});
    says(&typo, "`src_endpoints` is not an attribute");
    let mut seconds = grant;
    seconds["time"] = json!(T0 / 1000);
    says(&seconds, "is not a timestamp_t");
}

#[test]
fn an_allowed_call_is_a_successful_read() {
    let r = record_of("decided", Some("crm.read_config"), 6003);
    assert_eq!(r["activity_id"], 2);
    assert_eq!(r["type_uid"], 600_302);
    assert_eq!(r["status_id"], 1);
    assert_eq!(r["severity_id"], 1);
    assert_eq!(r["api"]["operation"], "tools/call");
    assert_eq!(r["api"]["service"]["name"], "crm");
    assert_eq!(r["resources"][0]["uid"], "crm.read_config");
    assert_eq!(r["actor"]["user"]["name"], "support-bot");
    assert_eq!(r["actor"]["authorizations"][0]["decision"], "allow");
    assert_eq!(
        r["actor"]["authorizations"][0]["policy"]["uid"],
        MandateId::from_u128(2).as_str()
    );
    assert_eq!(r["src_endpoint"]["name"], "support-bot");
    // The human at the root and the whole chain travel with the record.
    assert_eq!(r["unmapped"]["mandate"]["human"], "alice@corp");
    assert_eq!(r["unmapped"]["mandate"]["chain"][0]["agent"], "planner");
    assert!(
        r["observables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["value"] == "alice@corp" && o["type_id"] == 4)
    );
    assert_eq!(r["metadata"]["correlation_uid"], "gw-1:7");
}

#[test]
fn a_denied_call_fails_with_its_reasons() {
    let r = record_of("decided", Some("crm.send_email"), 6003);
    assert_eq!(r["activity_id"], 3, "write tools are Update");
    assert_eq!(r["status_id"], 2);
    assert_eq!(r["status"], "Failure");
    assert_eq!(
        r["status_detail"],
        "mandate `m_2` has no grant for tool `crm.send_email`"
    );
    assert!(r["severity_id"].as_u64().unwrap() > 1);
    let pending = record_of("decided", Some("crm.spawn_worker"), 6003);
    assert_eq!(
        (pending["activity_id"].clone(), pending["status_id"].clone()),
        (json!(99), json!(99))
    );
}

#[test]
fn a_completed_call_with_labels_adds_one_finding_per_label() {
    let (stored, records) = all_records()
        .into_iter()
        .find(|(s, _)| s.event().unwrap().labels.len() == 3)
        .unwrap();
    let classes: Vec<&Value> = records.iter().map(|r| &r["class_uid"]).collect();
    assert_eq!(classes, [6003, 2006, 2006, 2006]);
    assert_eq!(records[0]["duration"], 12);
    assert_eq!(records[0]["metadata"]["correlation_uid"], "gw-1:7");
    let credential = &records[1];
    assert_eq!(
        credential["finding_info"]["uid"],
        format!("{}/credential/aws_access_key", stored.hash)
    );
    assert_eq!(
        credential["finding_info"]["related_events"][0]["uid"],
        records[0]["metadata"]["uid"]
    );
    assert_eq!(
        credential["finding_info"]["related_events"][0]["type_uid"],
        600_302
    );
    assert_eq!(credential["data_security"]["category_id"], 6);
    assert_eq!(
        credential["data_security"]["detection_pattern"],
        "aws_access_key"
    );
    assert_eq!(credential["resources"][0]["uid"], "crm.read_config");
    assert_eq!(credential["is_alert"], true);
    let email = &records[2];
    assert_eq!(email["data_security"]["category_id"], 1);
    assert_eq!(
        records[3]["data_security"]["category_id"], 3,
        "cards are financial"
    );
    assert!(
        credential["severity_id"].as_u64() > email["severity_id"].as_u64(),
        "credentials outrank personal data"
    );
    assert!(
        credential["finding_info"]["title"]
            .as_str()
            .unwrap()
            .contains("the result of crm.read_config")
    );
}

#[test]
fn grants_and_hand_offs_are_authorize_sessions() {
    let grant = record_of("mandate_granted", None, 3003);
    assert_eq!(grant["activity_id"], 1);
    assert_eq!(grant["user"]["name"], "planner");
    assert_eq!(grant["actor"]["user"]["name"], "alice@corp");
    assert_eq!(grant["privileges"], json!(["crm.*", "tickets.create"]));
    assert_eq!(grant["session"]["uid"], MandateId::from_u128(1).as_str());
    assert_eq!(grant["session"]["expiration_time"], T0 + 3_600_000);
    assert_eq!(grant["session"]["issuer"], "alice@corp");

    let handed = record_of("mandate_delegated", None, 3003);
    assert_eq!(handed["user"]["name"], "support-bot");
    assert_eq!(handed["actor"]["user"]["name"], "planner");
    assert_eq!(
        handed["privileges"],
        json!(["crm.lookup_customer", "crm.read_config"])
    );
    assert_eq!(
        handed["session"]["issuer"],
        MandateId::from_u128(1).as_str()
    );

    let refused = record_of("delegation_refused", None, 3003);
    assert_eq!(refused["status_id"], 2);
    assert_eq!(refused["user"]["name"], "rogue-bot");
    assert_eq!(refused["actor"]["user"]["name"], "planner");

    let revoked = record_of("mandate_revoked", None, 3003);
    assert_eq!(
        (
            revoked["activity_id"].clone(),
            revoked["activity_name"].clone()
        ),
        (json!(99), json!("Revoke Privileges"))
    );
    assert_eq!(revoked["actor"]["user"]["name"], "sec@corp");
    assert_eq!(
        revoked["privileges"],
        json!([format!("mandate:{}", MandateId::from_u128(2))])
    );

    let registered = record_of("agent_registered", None, 3001);
    assert_eq!(registered["user"]["display_name"], "Support bot");
    assert_eq!(record_of("gateway_started", None, 6002)["activity_id"], 3);
}

#[test]
fn tool_pinning_is_the_tools_application_lifecycle() {
    let pinned = record_of("tool_pinned", Some("crm.lookup_customer"), 6002);
    assert_eq!(pinned["activity_name"], "Install");
    assert_eq!(pinned["app"]["name"], "crm.lookup_customer");
    assert_eq!(pinned["app"]["vendor_name"], "crm");
    assert_eq!(pinned["app"]["version"], "ab".repeat(32));
    let held = record_of("tool_held", Some("crm.lookup_customer"), 6002);
    assert_eq!(held["activity_name"], "Disable");
    assert_eq!(held["status_id"], 99);
    assert_eq!(
        held["status_detail"],
        "its definition changed since it was accepted"
    );
    assert_eq!(held["severity_id"], 4, "a flagged definition is high");
    let accepted = record_of("tool_accepted", Some("crm.lookup_customer"), 6002);
    assert_eq!(accepted["activity_name"], "Enable");
    assert!(
        accepted["message"]
            .as_str()
            .unwrap()
            .contains("sec@corp accepted")
    );
}
