//! Guards DESIGN.md invariants 1 and 3: a chain is headed by the human who granted it, and a mandate is in force only while every ancestor is active, unexpired and within budget (revoking one denies its whole subtree).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use mandate_core::{
    AgentId, ChainError, Decision, DenyReason, Grantor, HumanId, Inactive, InactiveCause, Mandate,
    MandateChain, MandateId, MandateStatus, Timestamp, ToolClass, check_scope,
};
use proptest::prelude::*;
use proptest::sample::Index;
use support::{
    NOW, RawRequest, Tree, alice, arb_class, arb_patterns, arb_request, arb_root, arb_tool_name,
    arb_tree, chain_remaining, id, pattern, revocation, target, tool,
};

/// Is `m` out of force at `now`, for any reason?
fn is_dead(m: &Mandate, now: Timestamp) -> bool {
    m.revocation().is_some() || m.expires_at <= now || m.budget.is_some_and(|b| m.uses >= b)
}

/// Is `cause` a true account of why `m` is out of force at `now`?
fn cause_holds(cause: &InactiveCause, m: &Mandate, now: Timestamp) -> bool {
    match cause {
        InactiveCause::Revoked(r) => m.revocation() == Some(r),
        InactiveCause::Expired { at } => *at == m.expires_at && m.expires_at <= now,
        InactiveCause::BudgetSpent { budget } => m.budget == Some(*budget) && m.uses >= *budget,
    }
}

/// Spends one call at `node` as the store does: only when the whole chain is
/// in force, and then on every mandate of the chain. Says whether it spent.
fn spend(tree: &mut Tree, node: usize, now: Timestamp) -> bool {
    if tree.chain(node).check_in_force(now).is_err() {
        return false;
    }
    for i in tree.path(node) {
        tree.nodes[i].uses += 1;
    }
    true
}

fn roundtrip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(&back, value, "{}", json);
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Spend(Index),
    Delegate(Index, RawRequest),
}

fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<Index>().prop_map(Op::Spend),
            1 => (any::<Index>(), arb_request()).prop_map(|(at, raw)| Op::Delegate(at, raw)),
        ],
        0..40,
    )
}

/// A chain built by hand, links intact but each mandate's scope drawn freely,
/// so a child may be recorded wider than its parent.
fn arb_inconsistent_chain() -> impl Strategy<Value = MandateChain> {
    prop::collection::vec((arb_patterns(3), arb_class()), 1..=4).prop_map(|links| {
        let mandates = links
            .into_iter()
            .enumerate()
            .map(|(i, (tools, ceiling))| Mandate {
                constraints: Vec::new(),
                approvals: Vec::new(),
                id: id(i),
                grantor: if i == 0 {
                    Grantor::Human { human: alice() }
                } else {
                    Grantor::Mandate {
                        parent: id(i - 1),
                        by: "test".to_owned(),
                    }
                },
                root_human: alice(),
                agent: AgentId::new(format!("agent-{i}")).unwrap(),
                tools,
                ceiling,
                issued_at: NOW,
                expires_at: NOW.plus_millis(60_000),
                purpose: "hand-built".to_owned(),
                budget: None,
                uses: 0,
                depth: u32::try_from(i).unwrap(),
                depth_remaining: 4 - u32::try_from(i).unwrap(),
                status: MandateStatus::Active,
            })
            .collect();
        MandateChain::new(mandates).unwrap()
    })
}

proptest! {
    // Invariant 1: every mandate of a grown tree names the human who granted its root.
    #[test]
    fn every_chain_names_the_human_who_granted_its_root(tree in arb_tree()) {
        for node in 0..tree.nodes.len() {
            let chain = tree.chain(node);
            prop_assert_eq!(&chain.root().grantor, &Grantor::Human { human: alice() });
            prop_assert_eq!(chain.root_human(), &alice());
            prop_assert!(chain.mandates().iter().all(|m| m.root_human == alice()));
        }
    }

    // Invariant 3: random trees, random spends, random revocations, a random
    // `now`. A call is allowed only if no mandate on its chain is revoked,
    // expired or spent; when one is, the denial names the one closest to the
    // root; and when all are in force, every mandate (not just the leaf) must
    // reach the tool at its class.
    #[test]
    fn no_call_under_a_dead_mandate_is_allowed(
        tree in arb_tree(),
        spends in prop::collection::vec(any::<Index>(), 0..20),
        revoked in prop::collection::vec(any::<Index>(), 0..3),
        now_offset in -10i64..25_000,
        targets in prop::collection::vec((arb_tool_name(), arb_class()), 1..5),
    ) {
        let mut tree = tree;
        for at in &spends {
            let node = at.index(tree.nodes.len());
            spend(&mut tree, node, NOW);
        }
        let mut revoked: Vec<usize> = revoked.iter().map(|at| at.index(tree.nodes.len())).collect();
        revoked.sort_unstable();
        revoked.dedup();
        for &r in &revoked {
            tree.nodes[r].status = revocation("sec-bob", "compromised", NOW);
        }
        let now = NOW.plus_millis(now_offset);
        for node in 0..tree.nodes.len() {
            let chain = tree.chain(node);
            let mandates = chain.mandates();
            let first_dead = mandates.iter().position(|m| is_dead(m, now));
            let under_revoked = revoked.iter().any(|&r| tree.is_on_chain(r, node));
            let in_force = chain.check_in_force(now);
            prop_assert_eq!(in_force.is_ok(), first_dead.is_none());
            for (t, class) in &targets {
                let outcome = check_scope(&chain, &target(t, *class), now);
                if under_revoked {
                    prop_assert!(outcome.is_err(), "call allowed under a revoked subtree");
                }
                match first_dead {
                    Some(pos) => {
                        let reasons = outcome.unwrap_err();
                        prop_assert_eq!(reasons.len(), 1, "{:?}", reasons);
                        let DenyReason::NotInForce(inactive) = &reasons[0] else {
                            panic!("a dead chain denied for another reason: {reasons:?}");
                        };
                        let dead = &mandates[pos];
                        prop_assert_eq!(&inactive.mandate, &dead.id, "not the dead mandate closest to the root");
                        prop_assert_eq!(inactive.is_leaf, pos + 1 == mandates.len());
                        prop_assert!(cause_holds(&inactive.cause, dead, now), "{:?}", inactive);
                        prop_assert_eq!(in_force.as_ref().unwrap_err(), inactive);
                        roundtrip(&Decision::Deny(reasons.clone()))?;
                    }
                    None => {
                        let objecting: Vec<&MandateId> = mandates
                            .iter()
                            .filter(|m| !m.reaches(t) || *class > m.ceiling)
                            .map(|m| &m.id)
                            .collect();
                        match outcome {
                            Ok(()) => prop_assert!(objecting.is_empty()),
                            Err(reasons) => {
                                let named: Vec<&MandateId> = reasons
                                    .iter()
                                    .map(|r| match r {
                                        DenyReason::NoGrant { mandate, .. }
                                        | DenyReason::AboveCeiling { mandate, .. } => mandate,
                                        other => panic!("unexpected reason {other:?}"),
                                    })
                                    .rev()
                                    .collect();
                                prop_assert_eq!(named, objecting);
                                roundtrip(&Decision::Deny(reasons))?;
                            }
                        }
                    }
                }
            }
        }
        for m in &tree.nodes {
            roundtrip(m)?;
        }
    }

    // Spending and delegating interleaved, as a live gateway does: a call is
    // spent on every mandate of its chain; no mandate ever admits more calls
    // under it than its budget; a chain with a spent mandate is not in force;
    // and no child is ever given more budget than its chain has left.
    #[test]
    fn budgets_cap_calls_across_the_whole_subtree(root in arb_root(), ops in arb_ops()) {
        let mut tree = Tree::new(root);
        let mut calls: Vec<u64> = vec![0];
        for op in &ops {
            match op {
                Op::Spend(at) => {
                    let node = at.index(tree.nodes.len());
                    let before = tree.chain(node).check_in_force(NOW);
                    if spend(&mut tree, node, NOW) {
                        calls[node] += 1;
                    } else {
                        let inactive = before.unwrap_err();
                        let spent = matches!(inactive.cause, InactiveCause::BudgetSpent { .. });
                        prop_assert!(spent, "{:?}", inactive);
                    }
                }
                Op::Delegate(at, raw) => {
                    let parent = at.index(tree.nodes.len());
                    let remaining = chain_remaining(&tree.chain(parent));
                    if let (_, Ok(child)) = tree.attenuate(parent, raw, NOW) {
                        calls.push(0);
                        if let Some(r) = remaining {
                            prop_assert!(child.budget.is_some_and(|b| b <= r), "{:?} > {}", child.budget, r);
                        }
                    }
                }
            }
            for (n, m) in tree.nodes.iter().enumerate() {
                let under: u64 = (0..tree.nodes.len())
                    .filter(|&d| tree.is_on_chain(n, d))
                    .map(|d| calls[d])
                    .sum();
                prop_assert_eq!(m.uses, under, "uses of {} are not the calls under it", m.id);
                if let Some(b) = m.budget {
                    prop_assert!(m.uses <= b, "{} admitted {} calls on a budget of {}", m.id, m.uses, b);
                }
                let chain = tree.chain(n);
                let first_spent = chain
                    .mandates()
                    .iter()
                    .find(|m| m.budget.is_some_and(|b| m.uses >= b));
                match (first_spent, chain.check_in_force(NOW)) {
                    (None, Ok(())) => {}
                    (Some(spent), Err(inactive)) => {
                        prop_assert_eq!(&inactive.mandate, &spent.id);
                        prop_assert_eq!(inactive.cause, InactiveCause::BudgetSpent { budget: spent.budget.unwrap() });
                    }
                    (spent, in_force) => {
                        prop_assert!(false, "spent {:?} but in force {:?}", spent.map(|m| &m.id), in_force);
                    }
                }
            }
        }
    }

    // Defense in depth: even a chain recorded inconsistently (a child wider
    // than its parent) never allows a call some mandate of it does not cover.
    #[test]
    fn scope_is_checked_on_every_mandate_not_just_the_leaf(
        chain in arb_inconsistent_chain(),
        t in arb_tool_name(),
        class in arb_class(),
    ) {
        let covered = chain.mandates().iter().all(|m| m.reaches(&t) && m.ceiling >= class);
        let outcome = check_scope(&chain, &target(&t, class), NOW);
        prop_assert_eq!(outcome.is_ok(), covered, "{:?}", outcome);
        if let Err(reasons) = outcome {
            for m in chain.mandates() {
                let named = reasons.iter().any(|r| match r {
                    DenyReason::NoGrant { mandate, .. } => *mandate == m.id && !m.reaches(&t),
                    DenyReason::AboveCeiling { mandate, ceiling, class: c, .. } => {
                        *mandate == m.id && m.reaches(&t) && *ceiling == m.ceiling && *c == class
                    }
                    _ => false,
                });
                prop_assert_eq!(named, !(m.reaches(&t) && m.ceiling >= class));
            }
        }
    }

    #[test]
    fn decisions_roundtrip_through_json(rules in prop::collection::vec("[a-z ]{0,12}", 0..3)) {
        roundtrip(&Decision::Allow)?;
        roundtrip(&Decision::NeedsApproval(rules))?;
    }
}

fn mandate(n: usize, parent: Option<usize>, tools: &[&str], ceiling: ToolClass) -> Mandate {
    Mandate {
        constraints: Vec::new(),
        approvals: Vec::new(),
        id: id(n),
        grantor: match parent {
            None => Grantor::Human { human: alice() },
            Some(p) => Grantor::Mandate {
                parent: id(p),
                by: "planner".to_owned(),
            },
        },
        root_human: alice(),
        agent: AgentId::new(format!("agent-{n}")).unwrap(),
        tools: tools.iter().map(|t| pattern(t)).collect(),
        ceiling,
        issued_at: NOW,
        expires_at: NOW.plus_millis(60_000),
        purpose: "example".to_owned(),
        budget: None,
        uses: 0,
        depth: u32::try_from(n).unwrap(),
        depth_remaining: 3 - u32::try_from(n).unwrap(),
        status: MandateStatus::Active,
    }
}

fn not_in_force(chain: &MandateChain, now: Timestamp) -> Inactive {
    let reasons =
        check_scope(chain, &target(&tool("crm.lookup"), ToolClass::Read), now).unwrap_err();
    match reasons.as_slice() {
        [DenyReason::NotInForce(inactive)] => inactive.clone(),
        other => panic!("expected one NotInForce, got {other:?}"),
    }
}

#[test]
fn a_revoked_ancestor_is_named_with_who_when_and_why() {
    let mut root = mandate(0, None, &["crm.*"], ToolClass::Write);
    root.status = revocation("sec-bob", "laptop stolen", NOW.plus_millis(-1_000));
    let child = mandate(1, Some(0), &["crm.lookup"], ToolClass::Read);
    let chain = MandateChain::new(vec![root, child]).unwrap();
    let inactive = not_in_force(&chain, NOW);
    assert!(!inactive.is_leaf);
    assert_eq!(
        inactive.to_string(),
        "ancestor mandate `m_0` was revoked by sec-bob at 2023-11-14T22:13:19Z: laptop stolen"
    );
    assert_eq!(
        Decision::Deny(vec![DenyReason::NotInForce(inactive)]).reason_texts(),
        vec![
            "ancestor mandate `m_0` was revoked by sec-bob at 2023-11-14T22:13:19Z: laptop stolen"
                .to_owned()
        ]
    );
}

#[test]
fn an_expired_leaf_and_a_spent_ancestor_read_as_such() {
    let root = mandate(0, None, &["crm.*"], ToolClass::Write);
    let child = mandate(1, Some(0), &["crm.lookup"], ToolClass::Read);
    let chain = MandateChain::new(vec![root.clone(), child.clone()]).unwrap();
    assert_eq!(
        not_in_force(&chain, NOW.plus_millis(60_000)).to_string(),
        // The root expires at the same instant and is named first.
        "ancestor mandate `m_0` expired at 2023-11-14T22:14:20Z"
    );
    let mut short = child.clone();
    short.expires_at = NOW.plus_millis(30_000);
    let chain = MandateChain::new(vec![root.clone(), short]).unwrap();
    assert_eq!(
        not_in_force(&chain, NOW.plus_millis(30_000)).to_string(),
        "mandate `m_1` expired at 2023-11-14T22:13:50Z"
    );
    let mut spent = root;
    spent.budget = Some(3);
    spent.uses = 3;
    let chain = MandateChain::new(vec![spent, child]).unwrap();
    assert_eq!(
        not_in_force(&chain, NOW).to_string(),
        "ancestor mandate `m_0` has spent its budget of 3 calls"
    );
}

#[test]
fn a_child_recorded_wider_than_its_parent_is_held_to_the_parent() {
    let root = mandate(0, None, &["crm.lookup_*"], ToolClass::Read);
    let wide = mandate(1, Some(0), &["*"], ToolClass::Orchestrate);
    let chain = MandateChain::new(vec![root, wide]).unwrap();
    let delete = tool("crm.delete_all");
    assert_eq!(
        check_scope(&chain, &target(&delete, ToolClass::Write), NOW),
        Err(vec![DenyReason::NoGrant {
            mandate: id(0),
            tool: delete,
            granted: vec![pattern("crm.lookup_*")],
        }])
    );
    let update = tool("crm.lookup_and_update");
    let reasons = check_scope(&chain, &target(&update, ToolClass::Write), NOW).unwrap_err();
    assert_eq!(
        reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["tool `crm.lookup_and_update` is class `write`, above mandate `m_0`'s ceiling `read`"]
    );
    assert!(check_scope(&chain, &target(&tool("crm.lookup_x"), ToolClass::Read), NOW).is_ok());
}

#[test]
fn a_chain_must_be_headed_by_the_human_who_granted_it() {
    let root = mandate(0, None, &["crm.*"], ToolClass::Read);
    let child = mandate(1, Some(0), &["crm.*"], ToolClass::Read);

    assert_eq!(MandateChain::new(vec![]), Err(ChainError::Empty));
    assert_eq!(
        MandateChain::new(vec![child.clone()]),
        Err(ChainError::RootNotHuman(id(1)))
    );
    let mut stray = mandate(2, Some(7), &["crm.*"], ToolClass::Read);
    stray.root_human = alice();
    assert_eq!(
        MandateChain::new(vec![root.clone(), stray]),
        Err(ChainError::BrokenLink {
            child: id(2),
            expected: id(0),
        })
    );
    let mut other_root = child.clone();
    other_root.root_human = HumanId::new("mallory@corp").unwrap();
    assert_eq!(
        MandateChain::new(vec![root.clone(), other_root]),
        Err(ChainError::RootMismatch(id(1)))
    );
    // A root naming someone other than its grantor would attribute every call
    // under it (audit, `context.root_human` in policies) to the wrong person.
    let mut misattributed = root.clone();
    misattributed.root_human = HumanId::new("mallory@corp").unwrap();
    let mut follows = child;
    follows.root_human = HumanId::new("mallory@corp").unwrap();
    assert_eq!(
        MandateChain::new(vec![misattributed.clone()]),
        Err(ChainError::RootNotGrantor(id(0)))
    );
    assert_eq!(
        MandateChain::new(vec![misattributed, follows]),
        Err(ChainError::RootNotGrantor(id(0)))
    );
    assert_eq!(
        ChainError::RootNotGrantor(id(0)).to_string(),
        "root mandate `m_0` names a root human other than the human who granted it"
    );
    assert_eq!(
        MandateChain::new(vec![root]).unwrap().root_human(),
        &alice()
    );
}

#[test]
fn revoking_a_mandate_denies_its_subtree_but_not_its_siblings() {
    // m_0 -> m_1 -> m_2, and m_0 -> m_3.
    let nodes = [
        mandate(0, None, &["crm.*"], ToolClass::Write),
        mandate(1, Some(0), &["crm.*"], ToolClass::Write),
        mandate(2, Some(1), &["crm.lookup"], ToolClass::Read),
        mandate(3, Some(0), &["crm.*"], ToolClass::Read),
    ];
    let mut tree = Tree {
        nodes: nodes.to_vec(),
        parents: vec![None, Some(0), Some(1), Some(0)],
    };
    tree.nodes[3].depth = 1;
    tree.nodes[1].status = revocation("sec-bob", "done", NOW);
    let lookup = target(&tool("crm.lookup"), ToolClass::Read);
    let allowed: Vec<bool> = (0..4)
        .map(|n| check_scope(&tree.chain(n), &lookup, NOW).is_ok())
        .collect();
    assert_eq!(allowed, vec![true, false, false, true]);
    assert_eq!(not_in_force(&tree.chain(2), NOW).mandate, id(1));
}

#[test]
fn the_spend_helper_spends_only_in_force_chains() {
    let mut root = mandate(0, None, &["crm.*"], ToolClass::Read);
    root.budget = Some(1);
    let mut tree = Tree::new(root);
    assert!(spend(&mut tree, 0, NOW));
    assert!(!spend(&mut tree, 0, NOW));
    assert_eq!(tree.nodes[0].uses, 1);
}
