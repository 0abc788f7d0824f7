//! Guards DESIGN.md invariant 2: a child mandate is a subset of its parent (tools, ceiling, expiry, budget, depth), and any widening is refused with a `Widening` naming the part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use mandate_core::{
    AgentId, ApprovalRule, ChildRequest, Grantor, InactiveCause, Mandate, MandateChain,
    MandateStatus, Timestamp, ToolClass, ToolName, ToolPattern, Widening, attenuate,
};
use proptest::prelude::*;
use proptest::sample::Index;
use support::{
    NOW, RawRequest, Tree, alice, arb_class, arb_pattern, arb_request, arb_root, arb_steps,
    arb_tool_name, arb_tree, chain_remaining, id, pattern, revocation,
};

/// Every way `request` is wider than `parent`'s leaf, worked out independently of `attenuate`.
fn expected_widenings(
    parent: &MandateChain,
    request: &ChildRequest,
    now: Timestamp,
) -> Vec<Widening> {
    if let Err(inactive) = parent.check_in_force(now) {
        return vec![Widening::ParentNotInForce(inactive)];
    }
    let leaf = parent.leaf();
    let mut expected = Vec::new();
    if request.tools.is_empty() {
        expected.push(Widening::NoTools);
    }
    for p in &request.tools {
        if !leaf.tools.iter().any(|w| p.is_within(w)) {
            expected.push(Widening::Tool {
                pattern: p.clone(),
                parent: leaf.tools.clone(),
            });
        }
    }
    if request.ceiling > leaf.ceiling {
        expected.push(Widening::Ceiling {
            requested: request.ceiling,
            parent: leaf.ceiling,
        });
    }
    let limit = parent
        .mandates()
        .iter()
        .map(|m| m.expires_at)
        .min()
        .unwrap();
    if request.expires_at > limit {
        expected.push(Widening::Expiry {
            requested: request.expires_at,
            limit,
        });
    }
    if request.expires_at <= now {
        expected.push(Widening::ExpiryPassed {
            requested: request.expires_at,
        });
    }
    if let (Some(requested), Some(remaining)) = (request.budget, chain_remaining(parent))
        && requested > remaining
    {
        expected.push(Widening::Budget {
            requested,
            remaining,
        });
    }
    if leaf.depth_remaining == 0 {
        expected.push(Widening::NoDepthLeft);
    } else if let Some(requested) = request.depth_remaining
        && requested >= leaf.depth_remaining
    {
        expected.push(Widening::Depth {
            requested,
            parent: leaf.depth_remaining,
        });
    }
    expected
}

/// Checks everything an accepted child must satisfy against the chain it was carved from.
fn assert_child_within(
    parent: &MandateChain,
    child: &Mandate,
    catalog: &[ToolName],
    now: Timestamp,
) -> Result<(), TestCaseError> {
    let leaf = parent.leaf();
    for t in catalog {
        if child.reaches(t) {
            prop_assert!(leaf.reaches(t), "child reaches {t}, parent leaf does not");
            for m in parent.mandates() {
                prop_assert!(
                    m.reaches(t),
                    "child reaches {t}, ancestor {} does not",
                    m.id
                );
            }
        }
    }
    for p in &child.tools {
        prop_assert!(leaf.tools.iter().any(|w| p.is_within(w)));
    }
    prop_assert!(!child.tools.is_empty());
    prop_assert!(child.ceiling <= leaf.ceiling);
    prop_assert!(child.expires_at <= parent.expires_at());
    prop_assert!(child.expires_at > now);
    for m in parent.mandates() {
        prop_assert!(child.expires_at <= m.expires_at);
    }
    if parent.mandates().iter().any(|m| m.budget.is_some()) {
        let b = child.budget;
        prop_assert!(b.is_some(), "a budgeted chain handed on an unlimited child");
        for m in parent.mandates() {
            if let Some(r) = m.remaining_budget() {
                prop_assert!(
                    b.unwrap() <= r,
                    "child budget {b:?} > {}'s remaining {r}",
                    m.id
                );
            }
        }
    }
    prop_assert!(child.depth_remaining < leaf.depth_remaining);
    // Approval rules: the child keeps every rule of its parent's, never fewer.
    for rule in &leaf.approvals {
        prop_assert!(
            child.approvals.contains(rule),
            "child dropped approval rule {rule}"
        );
    }
    prop_assert_eq!(child.depth, leaf.depth + 1);
    prop_assert_eq!(&child.root_human, &parent.root().root_human);
    prop_assert_eq!(child.parent(), Some(&leaf.id));
    prop_assert_eq!(child.uses, 0);
    prop_assert_eq!(&child.status, &MandateStatus::Active);
    let mut extended = parent.mandates().to_vec();
    extended.push(child.clone());
    prop_assert!(MandateChain::new(extended).is_ok());
    Ok(())
}

fn roundtrip(w: &Widening) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(w).unwrap();
    let back: Widening = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(&back, w, "{}", json);
    Ok(())
}

/// The same-as-parent request: must be accepted whenever the parent may delegate at all.
fn same_as_parent(parent: &MandateChain) -> ChildRequest {
    ChildRequest {
        constraints: Vec::new(),
        approvals: Vec::new(),
        agent: AgentId::new("child-agent").unwrap(),
        tools: parent.leaf().tools.clone(),
        ceiling: parent.leaf().ceiling,
        expires_at: parent.expires_at(),
        budget: None,
        depth_remaining: None,
        purpose: "delegated".to_owned(),
        by: "test".to_owned(),
    }
}

/// Which dimensions to widen, and by how much.
#[derive(Debug, Clone)]
struct Widen {
    tools: Option<ToolPattern>,
    ceiling: Option<ToolClass>,
    expiry_by: Option<i64>,
    budget_by: Option<u64>,
    depth_by: Option<u32>,
}

fn arb_widen() -> impl Strategy<Value = Widen> {
    (
        prop::option::of(arb_pattern()),
        prop::option::of(arb_class()),
        prop::option::of(1i64..50_000),
        prop::option::of(1u64..100),
        prop::option::of(0u32..3),
    )
        .prop_map(|(tools, ceiling, expiry_by, budget_by, depth_by)| Widen {
            tools,
            ceiling,
            expiry_by,
            budget_by,
            depth_by,
        })
}

proptest! {
    // Grow a tree by random (often widening) requests from random nodes; at
    // every step the outcome must be exactly what the rules say: an accepted
    // child lies within its chain in every dimension, and a refusal lists
    // every widening (and only real ones).
    #[test]
    fn attenuate_accepts_exactly_the_subsets_and_names_every_widening(
        root in arb_root(),
        steps in arb_steps(16),
        catalog in prop::collection::vec(arb_tool_name(), 1..8),
    ) {
        let mut tree = Tree::new(root);
        for (at, raw) in &steps {
            let parent = at.index(tree.nodes.len());
            let chain = tree.chain(parent);
            let (request, outcome) = tree.attenuate(parent, raw, NOW);
            let expected = expected_widenings(&chain, &request, NOW);
            match outcome {
                Ok(child) => {
                    prop_assert!(expected.is_empty(), "accepted a widening request: {expected:?}");
                    assert_child_within(&chain, &child, &catalog, NOW)?;
                }
                Err(widenings) => {
                    prop_assert!(!expected.is_empty(), "refused a subset request: {widenings:?}");
                    prop_assert_eq!(widenings.len(), expected.len(), "{:?} vs {:?}", widenings, expected);
                    for w in &expected {
                        prop_assert!(widenings.contains(w), "missing {w:?} in {widenings:?}");
                    }
                    for w in &widenings {
                        roundtrip(w)?;
                    }
                }
            }
        }
        // Every node of the tree still lies within every ancestor (transitivity).
        for node in 1..tree.nodes.len() {
            let chain = tree.chain(node);
            let (ancestors, leaf) = chain.mandates().split_at(chain.mandates().len() - 1);
            let leaf = &leaf[0];
            for t in &catalog {
                if leaf.reaches(t) {
                    prop_assert!(ancestors.iter().all(|a| a.reaches(t)));
                }
            }
            prop_assert!(ancestors.iter().all(|a| a.ceiling >= leaf.ceiling));
            prop_assert!(ancestors.iter().all(|a| a.expires_at >= leaf.expires_at));
            prop_assert!(ancestors.iter().all(|a| a.depth_remaining > leaf.depth_remaining));
            prop_assert!(ancestors
                .iter()
                .all(|a| a.approvals.iter().all(|r| leaf.approvals.contains(r))));
            if ancestors.iter().any(|a| a.budget.is_some()) {
                prop_assert!(ancestors.iter().filter_map(|a| a.budget).all(|b| leaf.budget.unwrap() <= b));
            }
        }
    }

    // Take any node, ask for its own scope, then widen a random set of
    // dimensions: the request is refused, and each widened dimension is named
    // with the requested and the allowed value.
    #[test]
    fn every_widening_is_refused_and_named(
        tree in arb_tree(),
        at in any::<Index>(),
        widen in arb_widen(),
    ) {
        let node = at.index(tree.nodes.len());
        let chain = tree.chain(node);
        let leaf = chain.leaf();
        let mut request = same_as_parent(&chain);
        if let Err(inactive) = chain.check_in_force(NOW) {
            // Only a spent budget can stop a freshly grown chain.
            let spent = matches!(inactive.cause, InactiveCause::BudgetSpent { .. });
            prop_assert!(spent, "{:?}", inactive);
            let refused = attenuate(&chain, request, id(99), NOW).unwrap_err();
            prop_assert_eq!(refused, vec![Widening::ParentNotInForce(inactive)]);
            return Ok(());
        }
        if leaf.depth_remaining > 0 {
            prop_assert!(attenuate(&chain, request.clone(), id(99), NOW).is_ok());
        }
        let mut expected = Vec::new();
        if let Some(p) = widen.tools {
            let outside = [p, pattern("*"), pattern("*.*")]
                .into_iter()
                .find(|p| !leaf.tools.iter().any(|w| p.is_within(w)));
            if let Some(outside) = outside {
                request.tools.push(outside.clone());
                expected.push(Widening::Tool { pattern: outside, parent: leaf.tools.clone() });
            }
        }
        if let Some(c) = widen.ceiling
            && c > leaf.ceiling
        {
            request.ceiling = c;
            expected.push(Widening::Ceiling { requested: c, parent: leaf.ceiling });
        }
        if let Some(by) = widen.expiry_by {
            request.expires_at = chain.expires_at().plus_millis(by);
            expected.push(Widening::Expiry { requested: request.expires_at, limit: chain.expires_at() });
        }
        if let (Some(by), Some(remaining)) = (widen.budget_by, chain_remaining(&chain)) {
            request.budget = Some(remaining + by);
            expected.push(Widening::Budget { requested: remaining + by, remaining });
        }
        if leaf.depth_remaining == 0 {
            request.depth_remaining = widen.depth_by;
            expected.push(Widening::NoDepthLeft);
        } else if let Some(by) = widen.depth_by {
            request.depth_remaining = Some(leaf.depth_remaining + by);
            expected.push(Widening::Depth { requested: leaf.depth_remaining + by, parent: leaf.depth_remaining });
        }
        if expected.is_empty() {
            return Ok(());
        }
        let refused = attenuate(&chain, request, id(99), NOW).unwrap_err();
        prop_assert_eq!(refused.len(), expected.len(), "{:?} vs {:?}", refused, expected);
        for w in &expected {
            prop_assert!(refused.contains(w), "missing {w:?} in {refused:?}");
            roundtrip(w)?;
        }
    }

    // A stored leaf recorded wider than its ancestors (later expiry, bigger
    // budget) still cannot hand on more than the whole chain allows: expiry and
    // budget limits come from every mandate of the chain, not the leaf alone.
    #[test]
    fn limits_come_from_the_whole_chain_even_when_the_leaf_is_wider(
        tree in arb_tree(),
        at in any::<Index>(),
        later_by in 0i64..50_000,
        leaf_budget in prop::option::of(0u64..100),
        raw in arb_request(),
    ) {
        let node = at.index(tree.nodes.len());
        let mut mandates = tree.chain(node).mandates().to_vec();
        let leaf = mandates.last_mut().unwrap();
        leaf.expires_at = leaf.expires_at.plus_millis(later_by);
        leaf.budget = leaf_budget;
        let chain = MandateChain::new(mandates).unwrap();
        let request = raw.resolve(&chain, NOW);
        if let Ok(child) = attenuate(&chain, request, id(99), NOW) {
            for m in chain.mandates() {
                prop_assert!(child.expires_at <= m.expires_at, "child outlives {}", m.id);
                if let Some(r) = m.remaining_budget() {
                    prop_assert!(child.budget.is_some_and(|b| b <= r), "child budget {:?} > {}'s {}", child.budget, m.id, r);
                }
            }
        }
    }

    // A chain with a revoked or expired mandate anywhere cannot hand anything on.
    #[test]
    fn a_dead_chain_cannot_delegate(
        tree in arb_tree(),
        at in any::<Index>(),
        dead in any::<Index>(),
        revoke in any::<bool>(),
        raw in arb_request(),
    ) {
        let node = at.index(tree.nodes.len());
        let path = tree.path(node);
        let dead = path[dead.index(path.len())];
        let mut tree = tree;
        let now = if revoke {
            tree.nodes[dead].status = revocation("sec-bob", "compromised", NOW);
            NOW
        } else {
            tree.nodes[dead].expires_at
        };
        let chain = tree.chain(node);
        let request = raw.resolve(&chain, now);
        let refused = attenuate(&chain, request, id(99), now).unwrap_err();
        prop_assert_eq!(refused.len(), 1);
        let Widening::ParentNotInForce(inactive) = &refused[0] else {
            panic!("expected ParentNotInForce, got {refused:?}");
        };
        // The mandate named is the first dead one from the root.
        let first_dead = tree.path(node).into_iter().find(|&i| {
            let m = &tree.nodes[i];
            m.revocation().is_some()
                || m.expires_at <= now
                || m.budget.is_some_and(|b| m.uses >= b)
        });
        prop_assert_eq!(Some(&inactive.mandate), first_dead.map(|i| &tree.nodes[i].id));
        prop_assert_eq!(inactive.is_leaf, first_dead == Some(node));
    }
}

fn parent_chain() -> MandateChain {
    MandateChain::new(vec![Mandate {
        constraints: Vec::new(),
        approvals: Vec::new(),
        id: id(0),
        grantor: Grantor::Human { human: alice() },
        root_human: alice(),
        agent: AgentId::new("planner").unwrap(),
        tools: vec![pattern("crm.lookup_*")],
        ceiling: ToolClass::Read,
        issued_at: NOW,
        expires_at: NOW.plus_millis(60_000),
        purpose: "triage".to_owned(),
        budget: Some(10),
        uses: 0,
        depth: 0,
        depth_remaining: 1,
        status: MandateStatus::Active,
    }])
    .unwrap()
}

fn texts(request: ChildRequest, chain: &MandateChain) -> Vec<String> {
    attenuate(chain, request, id(1), NOW)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn widening_messages_name_the_offending_part() {
    let chain = parent_chain();
    let request = ChildRequest {
        constraints: Vec::new(),
        approvals: Vec::new(),
        agent: AgentId::new("worker").unwrap(),
        tools: vec![pattern("crm.lookup_*"), pattern("crm.*")],
        ceiling: ToolClass::Write,
        expires_at: NOW.plus_millis(120_000),
        budget: Some(11),
        depth_remaining: Some(1),
        purpose: "too much".to_owned(),
        by: "planner".to_owned(),
    };
    let texts = texts(request, &chain);
    assert_eq!(
        texts,
        vec![
            "tools: `crm.*` reaches beyond the parent's grants (crm.lookup_*)".to_owned(),
            "ceiling: `write` is above the parent's ceiling `read`".to_owned(),
            format!(
                "expiry: {} is later than the chain's expiry {}",
                NOW.plus_millis(120_000),
                NOW.plus_millis(60_000)
            ),
            "budget: 11 calls exceed the 10 the chain has left".to_owned(),
            "depth: 1 further hand-offs is not fewer than the parent's 1".to_owned(),
        ]
    );
    assert_eq!(
        NOW.plus_millis(60_000).to_string(),
        "2023-11-14T22:14:20Z",
        "expiries read as RFC 3339"
    );
}

#[test]
fn widening_messages_for_empty_tools_past_expiry_and_no_depth() {
    let mut root = parent_chain().root().clone();
    root.depth_remaining = 0;
    let chain = MandateChain::new(vec![root]).unwrap();
    let request = ChildRequest {
        constraints: Vec::new(),
        approvals: Vec::new(),
        agent: AgentId::new("worker").unwrap(),
        tools: vec![],
        ceiling: ToolClass::Read,
        expires_at: NOW,
        budget: None,
        depth_remaining: None,
        purpose: "nothing".to_owned(),
        by: "planner".to_owned(),
    };
    assert_eq!(
        texts(request, &chain),
        vec![
            "a delegation must name at least one tool".to_owned(),
            "expiry: 2023-11-14T22:13:20Z is not in the future".to_owned(),
            "depth: the parent mandate may not delegate any further".to_owned(),
        ]
    );
}

#[test]
fn delegating_from_a_revoked_parent_says_who_revoked_it() {
    let mut root = parent_chain().root().clone();
    root.status = revocation("sec-bob", "laptop stolen", NOW.plus_millis(-1_000));
    let chain = MandateChain::new(vec![root]).unwrap();
    let mut request = same_as_parent(&chain);
    request.by = "planner".to_owned();
    assert_eq!(
        texts(request, &chain),
        vec![
            "cannot delegate: mandate `m_0` was revoked by sec-bob at 2023-11-14T22:13:19Z: laptop stolen"
                .to_owned()
        ]
    );
}

#[test]
fn a_child_inherits_the_least_remaining_budget_of_its_chain() {
    let mut root = parent_chain().root().clone();
    root.depth_remaining = 2;
    root.uses = 7;
    let chain = MandateChain::new(vec![root]).unwrap();
    let mut request = same_as_parent(&chain);
    request.budget = None;
    let child = attenuate(&chain, request.clone(), id(1), NOW).unwrap();
    assert_eq!(child.budget, Some(3));
    request.budget = Some(4);
    assert_eq!(
        attenuate(&chain, request, id(1), NOW).unwrap_err(),
        vec![Widening::Budget {
            requested: 4,
            remaining: 3
        }]
    );
}

#[test]
fn the_request_helper_clamps_to_the_parent() {
    // Keeps the helper's clamping honest: a fully narrowed request from a
    // delegating parent is accepted.
    let chain = {
        let mut root = parent_chain().root().clone();
        root.depth_remaining = 3;
        root.approvals = vec![ApprovalRule::Class(ToolClass::Write)];
        MandateChain::new(vec![root]).unwrap()
    };
    let raw = RawRequest {
        approvals: vec![
            ApprovalRule::Destructive,
            ApprovalRule::Class(ToolClass::Write),
        ],
        tools: vec![pattern("crm.lookup_a")],
        narrow_tools: None,
        ceiling: ToolClass::Orchestrate,
        narrow_ceiling: true,
        expiry_offset: 1_000_000,
        narrow_expiry: true,
        budget: Some(50),
        narrow_budget: true,
        depth_remaining: Some(9),
        narrow_depth: true,
    };
    let child = attenuate(&chain, raw.resolve(&chain, NOW), id(1), NOW).unwrap();
    assert_eq!(child.tools, vec![pattern("crm.lookup_a")]);
    assert_eq!(child.ceiling, ToolClass::Read);
    assert_eq!(child.budget, Some(10));
    assert_eq!(child.depth_remaining, 2);
    // The parent's approval rules, then the ones the child adds, each once.
    assert_eq!(
        child.approvals,
        vec![
            ApprovalRule::Class(ToolClass::Write),
            ApprovalRule::Destructive
        ]
    );
}
