//! Deciding calls and hand-offs: each default policy, scope denials passing
//! through, operator policies taking effect, and failing closed.

use crate::support::{NOW, chain, child, policy_dir, revoke, root, tool};
use mandate_core::{AgentId, ApprovalRule, Decision, DenyReason, MandateChain, ToolClass};
use mandate_policy::{OrgPolicy, Verdict, decide_call, decide_delegation};

fn defaults() -> OrgPolicy {
    OrgPolicy::load(None).unwrap()
}

/// alice → planner (may orchestrate, 1 hand-off left) → worker (write, no hand-offs).
fn planner_and_worker() -> (MandateChain, MandateChain) {
    let planner = root(
        "alice@corp",
        "planner",
        &["crm.*", "agents.*"],
        ToolClass::Orchestrate,
        1,
    );
    let worker = child(&planner, "worker", &["crm.*"], ToolClass::Write);
    (chain(vec![planner.clone()]), chain(vec![planner, worker]))
}

/// The policy ids of a refusal's `ForbiddenByPolicy` reason.
fn forbidding(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Refused(Decision::Deny(reasons)) => reasons
            .iter()
            .find_map(|r| match r {
                DenyReason::ForbiddenByPolicy { policies } => Some(policies.clone()),
                _ => None,
            })
            .unwrap_or_default(),
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn a_plain_read_is_allowed_with_a_proof_naming_tool_and_leaf_mandate() {
    let (_, worker) = planner_and_worker();
    let target = tool("crm.lookup_customer", ToolClass::Read, false);
    let Verdict::Allowed(authorized) = decide_call(&defaults(), &worker, &target, NOW, false)
    else {
        panic!("a plain read should be allowed");
    };
    assert_eq!(authorized.tool(), &target.tool);
    assert_eq!(authorized.mandate().as_str(), "m_worker");
    assert_eq!(authorized.policies(), ["mandate.permit-within-mandate"]);
}

#[test]
fn a_destructive_tool_needs_approval_naming_the_policy_that_asks() {
    let (_, worker) = planner_and_worker();
    let target = tool("crm.delete_note", ToolClass::Write, true);
    let verdict = decide_call(&defaults(), &worker, &target, NOW, false);
    assert_eq!(
        verdict,
        Verdict::Refused(Decision::NeedsApproval(vec![
            "mandate.forbid-destructive-without-approval".to_owned()
        ]))
    );
}

#[test]
fn a_forbid_that_approval_does_not_lift_is_a_denial_not_a_wait() {
    let dir = policy_dir(&[(
        "crm.cedar",
        r#"@id("crm.no-purge")
           forbid (principal, action, resource == Mandate::Tool::"crm.purge_customers");"#,
    )]);
    let policy = OrgPolicy::load(Some(dir.path())).unwrap();
    let (_, worker) = planner_and_worker();
    let purge = tool("crm.purge_customers", ToolClass::Write, true);
    let verdict = decide_call(&policy, &worker, &purge, NOW, false);
    assert_eq!(
        forbidding(&verdict),
        [
            "crm.no-purge",
            "mandate.forbid-destructive-without-approval"
        ]
    );
}

#[test]
fn mandate_approval_rules_hold_covered_calls_down_the_whole_chain() {
    let mut planner = root(
        "alice@corp",
        "planner",
        &["crm.*"],
        ToolClass::Orchestrate,
        2,
    );
    planner.approvals = ApprovalRule::parse_list("write,crm.refund").unwrap();
    // A child recorded without its parent's rules still waits: every link counts.
    let mut worker = child(&planner, "worker", &["crm.*"], ToolClass::Write);
    worker.approvals.clear();
    let chain = chain(vec![planner, worker]);
    let update = tool("crm.update_customer", ToolClass::Write, false);
    assert_eq!(
        decide_call(&defaults(), &chain, &update, NOW, false),
        Verdict::Refused(Decision::NeedsApproval(vec![
            "mandate `m_planner` requires approval for `write`".to_owned()
        ]))
    );
    assert!(matches!(
        decide_call(&defaults(), &chain, &update, NOW, true),
        Verdict::Allowed(_)
    ));
    let refund = tool("crm.refund", ToolClass::Read, false);
    let Verdict::Refused(Decision::NeedsApproval(rules)) =
        decide_call(&defaults(), &chain, &refund, NOW, false)
    else {
        panic!("a refund should wait");
    };
    assert_eq!(
        rules,
        ["mandate `m_planner` requires approval for `crm.refund`"]
    );
    let lookup = tool("crm.lookup_customer", ToolClass::Read, false);
    assert!(matches!(
        decide_call(&defaults(), &chain, &lookup, NOW, false),
        Verdict::Allowed(_)
    ));
    // A destructive write names both the policy and the mandate's rule.
    let purge = tool("crm.purge_customers", ToolClass::Write, true);
    let Verdict::Refused(Decision::NeedsApproval(rules)) =
        decide_call(&defaults(), &chain, &purge, NOW, false)
    else {
        panic!("a purge should wait");
    };
    assert_eq!(
        rules,
        [
            "mandate.forbid-destructive-without-approval",
            "mandate `m_planner` requires approval for `write`"
        ]
    );
}

#[test]
fn a_destructive_tool_is_allowed_once_a_human_approved_the_call() {
    let (_, worker) = planner_and_worker();
    let target = tool("crm.delete_note", ToolClass::Write, true);
    let verdict = decide_call(&defaults(), &worker, &target, NOW, true);
    assert!(matches!(verdict, Verdict::Allowed(_)), "{verdict:?}");
}

#[test]
fn an_orchestrate_tool_is_forbidden_without_depth_left() {
    let planner = root(
        "alice@corp",
        "planner",
        &["agents.*"],
        ToolClass::Orchestrate,
        0,
    );
    let target = tool("agents.start", ToolClass::Orchestrate, false);
    let verdict = decide_call(&defaults(), &chain(vec![planner]), &target, NOW, false);
    assert_eq!(
        forbidding(&verdict),
        ["mandate.forbid-orchestrate-without-depth"]
    );
}

#[test]
fn an_orchestrate_tool_is_allowed_with_depth_left() {
    let (planner, _) = planner_and_worker();
    let target = tool("agents.start", ToolClass::Orchestrate, false);
    let verdict = decide_call(&defaults(), &planner, &target, NOW, false);
    assert!(matches!(verdict, Verdict::Allowed(_)), "{verdict:?}");
}

#[test]
fn delegation_needs_depth_left() {
    let (planner, worker) = planner_and_worker();
    let helper = AgentId::new("helper").unwrap();
    assert_eq!(decide_delegation(&defaults(), &planner, &helper), Ok(()));
    let refused = decide_delegation(&defaults(), &worker, &helper).unwrap_err();
    assert_eq!(
        refused,
        Decision::Deny(vec![DenyReason::ForbiddenByPolicy {
            policies: vec!["mandate.forbid-orchestrate-without-depth".to_owned()],
        }])
    );
}

#[test]
fn a_tool_not_granted_is_refused_by_the_mandate_layer() {
    let (_, worker) = planner_and_worker();
    let target = tool("fs.read_file", ToolClass::Read, false);
    let Verdict::Refused(Decision::Deny(reasons)) =
        decide_call(&defaults(), &worker, &target, NOW, false)
    else {
        panic!("an ungranted tool must be refused");
    };
    // Neither the worker nor the planner grants `fs.*`.
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons
            .iter()
            .all(|r| matches!(r, DenyReason::NoGrant { .. })),
        "{reasons:?}"
    );
}

#[test]
fn a_class_above_the_ceiling_is_refused_by_the_mandate_layer() {
    let (_, worker) = planner_and_worker();
    let target = tool("crm.spawn_helper", ToolClass::Orchestrate, false);
    let Verdict::Refused(Decision::Deny(reasons)) =
        decide_call(&defaults(), &worker, &target, NOW, false)
    else {
        panic!("a class above the ceiling must be refused");
    };
    assert!(
        matches!(
            reasons.first(),
            Some(DenyReason::AboveCeiling {
                ceiling: ToolClass::Write,
                ..
            })
        ),
        "{reasons:?}"
    );
    // The organisation layer also forbids it (no depth left), and says so.
    assert!(reasons.contains(&DenyReason::ForbiddenByPolicy {
        policies: vec!["mandate.forbid-orchestrate-without-depth".to_owned()],
    }));
}

#[test]
fn a_revoked_ancestor_refuses_the_call() {
    let mut planner = root("alice@corp", "planner", &["crm.*"], ToolClass::Write, 1);
    let worker = child(&planner, "worker", &["crm.*"], ToolClass::Read);
    revoke(&mut planner);
    let target = tool("crm.lookup_customer", ToolClass::Read, false);
    let verdict = decide_call(
        &defaults(),
        &chain(vec![planner, worker]),
        &target,
        NOW,
        false,
    );
    let Verdict::Refused(Decision::Deny(reasons)) = verdict else {
        panic!("a call under a revoked ancestor must be refused");
    };
    assert!(
        matches!(reasons.as_slice(), [DenyReason::NotInForce(inactive)] if !inactive.is_leaf),
        "{reasons:?}"
    );
}

#[test]
fn an_operator_policy_forbids_one_tool() {
    let dir = policy_dir(&[(
        "crm.cedar",
        r#"@id("crm.no-purge")
           forbid (principal, action, resource == Mandate::Tool::"crm.purge_customers");"#,
    )]);
    let policy = OrgPolicy::load(Some(dir.path())).unwrap();
    let (_, worker) = planner_and_worker();
    // Even approved: the operator forbids it outright.
    let purge = tool("crm.purge_customers", ToolClass::Write, true);
    let verdict = decide_call(&policy, &worker, &purge, NOW, true);
    assert_eq!(forbidding(&verdict), ["crm.no-purge"]);
    let lookup = tool("crm.lookup_customer", ToolClass::Read, false);
    assert!(matches!(
        decide_call(&policy, &worker, &lookup, NOW, false),
        Verdict::Allowed(_)
    ));
}

#[test]
fn an_operator_policy_keeps_deep_workers_from_destructive_tools() {
    let dir = policy_dir(&[(
        "depth.cedar",
        r#"@id("ops.no-deep-destruction")
           forbid (principal, action == Mandate::Action::"call_tool", resource)
           when { context.depth >= 2 && resource.destructive };"#,
    )]);
    let policy = OrgPolicy::load(Some(dir.path())).unwrap();
    let planner = root(
        "alice@corp",
        "planner",
        &["crm.*"],
        ToolClass::Orchestrate,
        3,
    );
    let lead = child(&planner, "lead", &["crm.*"], ToolClass::Orchestrate);
    let deep = child(&lead, "deep", &["crm.*"], ToolClass::Write);
    let target = tool("crm.delete_note", ToolClass::Write, true);
    // Approved, so only the operator's policy can stand in the way.
    let at_one = decide_call(
        &policy,
        &chain(vec![planner.clone(), lead.clone()]),
        &target,
        NOW,
        true,
    );
    assert!(matches!(at_one, Verdict::Allowed(_)), "{at_one:?}");
    let at_two = decide_call(
        &policy,
        &chain(vec![planner, lead, deep]),
        &target,
        NOW,
        true,
    );
    assert_eq!(forbidding(&at_two), ["ops.no-deep-destruction"]);
}

#[test]
fn an_operator_policy_keeps_orchestration_to_a_group() {
    let dir = policy_dir(&[
        (
            "orchestrate.cedar",
            r#"@id("ops.orchestrate-only-sre")
               forbid (principal, action == Mandate::Action::"call_tool", resource)
               when { resource.class == "orchestrate" }
               unless { context.root_human in Mandate::Group::"sre" };"#,
        ),
        (
            "groups.json",
            r#"{"alice@corp": ["sre"], "bob@corp": ["sales"]}"#,
        ),
    ]);
    let policy = OrgPolicy::load(Some(dir.path())).unwrap();
    let start = tool("agents.start", ToolClass::Orchestrate, false);
    let alice = chain(vec![root(
        "alice@corp",
        "planner",
        &["agents.*"],
        ToolClass::Orchestrate,
        1,
    )]);
    let bob = chain(vec![root(
        "bob@corp",
        "planner",
        &["agents.*"],
        ToolClass::Orchestrate,
        1,
    )]);
    let carol = chain(vec![root(
        "carol@corp",
        "planner",
        &["agents.*"],
        ToolClass::Orchestrate,
        1,
    )]);
    assert!(matches!(
        decide_call(&policy, &alice, &start, NOW, false),
        Verdict::Allowed(_)
    ));
    assert_eq!(
        forbidding(&decide_call(&policy, &bob, &start, NOW, false)),
        ["ops.orchestrate-only-sre"]
    );
    assert_eq!(
        forbidding(&decide_call(&policy, &carol, &start, NOW, false)),
        ["ops.orchestrate-only-sre"]
    );
}

#[test]
fn an_operator_policy_can_forbid_hand_offs_to_an_agent() {
    let policy = OrgPolicy::from_sources(&[(
        "ops.cedar",
        r#"@id("ops.no-contractor")
           forbid (principal, action == Mandate::Action::"delegate", resource == Mandate::Agent::"contractor-bot");"#,
    )])
    .unwrap();
    let (planner, _) = planner_and_worker();
    let refused = decide_delegation(&policy, &planner, &AgentId::new("contractor-bot").unwrap());
    assert!(refused.is_err());
    assert_eq!(
        decide_delegation(&policy, &planner, &AgentId::new("helper").unwrap()),
        Ok(())
    );
}

#[test]
fn a_policy_that_fails_to_evaluate_refuses_the_call() {
    // Validates, but overflows at run time once the depth is 1 or more.
    let policy = OrgPolicy::from_sources(&[(
        "overflow.cedar",
        r#"@id("ops.overflows")
           forbid (principal, action == Mandate::Action::"call_tool", resource)
           when { context.depth + 9223372036854775807 < 0 };"#,
    )])
    .unwrap();
    let (planner, worker) = planner_and_worker();
    let target = tool("crm.lookup_customer", ToolClass::Read, false);
    // Cedar alone would skip the erring forbid and allow; Mandate fails closed.
    assert_eq!(
        forbidding(&decide_call(&policy, &worker, &target, NOW, false)),
        ["ops.overflows"]
    );
    assert!(matches!(
        decide_call(&policy, &planner, &target, NOW, false),
        Verdict::Allowed(_)
    ));
}

#[test]
fn an_operator_lockdown_forbids_everything() {
    let policy = OrgPolicy::from_sources(&[(
        "lock.cedar",
        r#"@id("ops.lockdown") forbid (principal, action, resource);"#,
    )])
    .unwrap();
    let (_, worker) = planner_and_worker();
    let target = tool("crm.lookup_customer", ToolClass::Read, false);
    assert_eq!(
        forbidding(&decide_call(&policy, &worker, &target, NOW, false)),
        ["ops.lockdown"]
    );
}
