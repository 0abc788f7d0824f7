//! Strategies and builders shared by the core's property tests: tool patterns
//! over a small alphabet (so patterns overlap often), random root mandates, and
//! random trees grown by calling `attenuate` with random, often widening, requests.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use mandate_core::{
    AgentId, ApprovalRule, BlastRadius, CallTarget, ChildRequest, Grantor, HumanId, Mandate,
    MandateChain, MandateId, MandateStatus, Revocation, Timestamp, ToolClass, ToolName,
    ToolPattern, Widening, attenuate,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// The time the trees are grown at.
pub const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

/// The human who grants every root.
pub fn alice() -> HumanId {
    HumanId::new("alice@corp").unwrap()
}

pub fn pattern(s: &str) -> ToolPattern {
    ToolPattern::new(s).unwrap()
}

pub fn tool(s: &str) -> ToolName {
    ToolName::new(s).unwrap()
}

pub fn id(n: usize) -> MandateId {
    MandateId::new(format!("m_{n}")).unwrap()
}

pub fn target(tool: &ToolName, class: ToolClass) -> CallTarget {
    CallTarget {
        arguments: Some(Default::default()),
        tool: tool.clone(),
        radius: BlastRadius {
            class,
            destructive: false,
            open_world: false,
        },
    }
}

pub fn revocation(by: &str, reason: &str, at: Timestamp) -> MandateStatus {
    MandateStatus::Revoked(Revocation {
        by: by.to_owned(),
        reason: reason.to_owned(),
        at,
    })
}

pub fn arb_class() -> impl Strategy<Value = ToolClass> {
    select(ToolClass::ALL.to_vec())
}

/// A concrete catalog tool: `crm` or `fs`, then a name over `[ab_]`.
pub fn arb_tool_name() -> impl Strategy<Value = ToolName> {
    (select(vec!["crm", "fs"]), "[ab_]{1,4}")
        .prop_map(|(upstream, name)| ToolName::from_parts(upstream, &name).unwrap())
}

/// A pattern over the same alphabet, with stars anywhere.
pub fn arb_pattern() -> impl Strategy<Value = ToolPattern> {
    prop_oneof![
        1 => Just("*".to_owned()),
        1 => select(vec!["crm", "fs", "c"]).prop_map(|u| format!("{u}*")),
        8 => (select(vec!["crm", "fs", "*", "c*"]), "[ab_*]{1,4}")
            .prop_map(|(upstream, name)| format!("{upstream}.{name}")),
    ]
    .prop_map(|s| pattern(&s))
}

/// Up to `max` approval rules: destructive, a class, or a pattern of the same alphabet.
pub fn arb_rules(max: usize) -> impl Strategy<Value = Vec<ApprovalRule>> {
    let rule = prop_oneof![
        1 => Just(ApprovalRule::Destructive),
        1 => arb_class().prop_map(ApprovalRule::Class),
        2 => arb_pattern().prop_map(ApprovalRule::Tool),
    ];
    prop::collection::vec(rule, 0..=max)
}

pub fn arb_patterns(max: usize) -> impl Strategy<Value = Vec<ToolPattern>> {
    prop::collection::vec(arb_pattern(), 1..=max)
}

/// A root mandate granted by alice at `NOW`; its budget may already be spent.
pub fn arb_root() -> impl Strategy<Value = Mandate> {
    (
        arb_patterns(3),
        arb_class(),
        1i64..20_000,
        prop::option::weighted(0.6, 0u64..30),
        prop_oneof![1 => Just(0u32), 5 => 1u32..=4],
        arb_rules(2),
    )
        .prop_map(
            |(tools, ceiling, lifetime, budget, depth_remaining, approvals)| Mandate {
                constraints: Vec::new(),
                approvals,
                id: id(0),
                grantor: Grantor::Human { human: alice() },
                root_human: alice(),
                agent: AgentId::new("root-agent").unwrap(),
                tools,
                ceiling,
                issued_at: NOW,
                expires_at: NOW.plus_millis(lifetime),
                purpose: "root".to_owned(),
                budget,
                uses: 0,
                depth: 0,
                depth_remaining,
                status: MandateStatus::Active,
            },
        )
}

/// A request in raw form: each dimension is either taken as drawn (and so
/// often wider than the parent) or first clamped to the parent's.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub tools: Vec<ToolPattern>,
    pub narrow_tools: Option<Index>,
    pub ceiling: ToolClass,
    pub narrow_ceiling: bool,
    pub expiry_offset: i64,
    pub narrow_expiry: bool,
    pub budget: Option<u64>,
    pub narrow_budget: bool,
    pub depth_remaining: Option<u32>,
    pub narrow_depth: bool,
    pub approvals: Vec<ApprovalRule>,
}

pub fn arb_request() -> impl Strategy<Value = RawRequest> {
    (
        (
            prop::collection::vec(arb_pattern(), 0..=3),
            prop::option::weighted(0.85, any::<Index>()),
        ),
        (arb_class(), prop::bool::weighted(0.85)),
        (-100i64..25_000, prop::bool::weighted(0.85)),
        (
            prop::option::weighted(0.5, 0u64..40),
            prop::bool::weighted(0.85),
        ),
        (
            prop::option::weighted(0.5, 0u32..6),
            prop::bool::weighted(0.85),
        ),
        arb_rules(2),
    )
        .prop_map(
            |(
                (tools, narrow_tools),
                (ceiling, narrow_ceiling),
                (expiry_offset, narrow_expiry),
                (budget, narrow_budget),
                (depth_remaining, narrow_depth),
                approvals,
            )| RawRequest {
                approvals,
                tools,
                narrow_tools,
                ceiling,
                narrow_ceiling,
                expiry_offset,
                narrow_expiry,
                budget,
                narrow_budget,
                depth_remaining,
                narrow_depth,
            },
        )
}

/// The least budget any mandate of the chain has left (`None`: all unlimited).
pub fn chain_remaining(chain: &MandateChain) -> Option<u64> {
    chain
        .mandates()
        .iter()
        .filter_map(Mandate::remaining_budget)
        .min()
}

impl RawRequest {
    /// The request this raw form makes against `parent`, relative to `now`.
    pub fn resolve(&self, parent: &MandateChain, now: Timestamp) -> ChildRequest {
        let leaf = parent.leaf();
        let tools = match self.narrow_tools {
            // Keep the drawn patterns that fit, plus one of the parent's own.
            Some(pick) => {
                let mut tools: Vec<ToolPattern> = self
                    .tools
                    .iter()
                    .filter(|p| leaf.tools.iter().any(|w| p.is_within(w)))
                    .cloned()
                    .collect();
                if let Some(own) = leaf.tools.get(pick.index(leaf.tools.len().max(1))) {
                    tools.push(own.clone());
                }
                tools
            }
            None => self.tools.clone(),
        };
        let ceiling = if self.narrow_ceiling {
            self.ceiling.min(leaf.ceiling)
        } else {
            self.ceiling
        };
        let mut expires_at = now.plus_millis(self.expiry_offset);
        if self.narrow_expiry {
            expires_at = expires_at.min(parent.expires_at());
        }
        let budget = match (self.budget, chain_remaining(parent)) {
            (Some(b), Some(r)) if self.narrow_budget => Some(b.min(r)),
            (b, _) => b,
        };
        let depth_remaining = if self.narrow_depth {
            self.depth_remaining
                .map(|d| d.min(leaf.depth_remaining.saturating_sub(1)))
        } else {
            self.depth_remaining
        };
        ChildRequest {
            constraints: Vec::new(),
            approvals: self.approvals.clone(),
            agent: AgentId::new("child-agent").unwrap(),
            tools,
            ceiling,
            expires_at,
            budget,
            depth_remaining,
            purpose: "delegated".to_owned(),
            by: leaf.agent.to_string(),
        }
    }
}

/// Mandates with their parents, node 0 the root.
#[derive(Debug, Clone)]
pub struct Tree {
    pub nodes: Vec<Mandate>,
    pub parents: Vec<Option<usize>>,
}

impl Tree {
    pub fn new(root: Mandate) -> Self {
        Self {
            nodes: vec![root],
            parents: vec![None],
        }
    }

    /// The indices of `node`'s chain, root first.
    pub fn path(&self, node: usize) -> Vec<usize> {
        let mut path = vec![node];
        let mut at = node;
        while let Some(p) = self.parents[at] {
            path.push(p);
            at = p;
        }
        path.reverse();
        path
    }

    /// `node`'s chain, checked by `MandateChain::new`.
    pub fn chain(&self, node: usize) -> MandateChain {
        MandateChain::new(
            self.path(node)
                .into_iter()
                .map(|i| self.nodes[i].clone())
                .collect(),
        )
        .unwrap()
    }

    /// Is `ancestor` on `node`'s chain (itself included)?
    pub fn is_on_chain(&self, ancestor: usize, node: usize) -> bool {
        self.path(node).contains(&ancestor)
    }

    /// Attenuates `raw` from `parent` at `now`; an accepted child joins the tree.
    pub fn attenuate(
        &mut self,
        parent: usize,
        raw: &RawRequest,
        now: Timestamp,
    ) -> (ChildRequest, Result<Mandate, Vec<Widening>>) {
        let chain = self.chain(parent);
        let request = raw.resolve(&chain, now);
        let outcome = attenuate(&chain, request.clone(), id(self.nodes.len()), now);
        if let Ok(child) = &outcome {
            self.nodes.push(child.clone());
            self.parents.push(Some(parent));
        }
        (request, outcome)
    }
}

pub fn arb_steps(max: usize) -> impl Strategy<Value = Vec<(Index, RawRequest)>> {
    prop::collection::vec((any::<Index>(), arb_request()), 0..=max)
}

/// Grows a tree at `NOW` from `root` by the attenuation `steps`, each from a random node.
pub fn grow(root: Mandate, steps: &[(Index, RawRequest)]) -> Tree {
    let mut tree = Tree::new(root);
    for (at, raw) in steps {
        let parent = at.index(tree.nodes.len());
        let _ = tree.attenuate(parent, raw, NOW);
    }
    tree
}

pub fn arb_tree() -> impl Strategy<Value = Tree> {
    (arb_root(), arb_steps(14)).prop_map(|(root, steps)| grow(root, &steps))
}
