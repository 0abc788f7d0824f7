//! Remembered verdicts: Cedar's answer is a pure function of the facts it is shown, so a
//! call with the same facts as an earlier one gets the earlier answer without evaluating again.
//!
//! The facts are the leaf mandate (and, compared in full on every hit, what the request
//! shows of its chain: agents, depths, purpose, root human), the tool, its blast radius,
//! and whether the call was approved. Time and arguments are never shown to Cedar, so they
//! cannot change an answer. Memory is bounded: past `capacity` answers the memo starts over.

use crate::org::PolicyVerdict;
use mandate_core::{AgentId, BlastRadius, CallTarget, HumanId, MandateChain, MandateId, ToolName};
use std::collections::HashMap;
use std::sync::Mutex;

/// Answers kept before the memo is cleared (a few hundred bytes each).
pub(crate) const DEFAULT_CAPACITY: usize = 16_384;

pub(crate) struct VerdictMemo {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    answers: usize,
    by_mandate: HashMap<MandateId, ForMandate>,
}

/// The answers for one leaf mandate, valid while its chain shows Cedar the same facts.
struct ForMandate {
    seen: Seen,
    by_tool: HashMap<ToolName, Vec<(BlastRadius, bool, PolicyVerdict)>>,
}

/// Everything of a chain that the Cedar request is built from.
#[derive(PartialEq, Eq)]
struct Seen {
    human: HumanId,
    purpose: String,
    links: Vec<(AgentId, u32, u32)>,
}

impl Seen {
    fn of(chain: &MandateChain) -> Seen {
        Seen {
            human: chain.root_human().clone(),
            purpose: chain.leaf().purpose.clone(),
            links: chain
                .mandates()
                .iter()
                .map(|m| (m.agent.clone(), m.depth, m.depth_remaining))
                .collect(),
        }
    }

    /// Compares without allocating: this runs on every remembered call.
    fn matches(&self, chain: &MandateChain) -> bool {
        self.human == *chain.root_human()
            && self.purpose == chain.leaf().purpose
            && self.links.len() == chain.mandates().len()
            && self
                .links
                .iter()
                .zip(chain.mandates())
                .all(|((a, d, r), m)| *a == m.agent && *d == m.depth && *r == m.depth_remaining)
    }
}

impl VerdictMemo {
    pub(crate) fn new(capacity: usize) -> VerdictMemo {
        VerdictMemo {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// The remembered answer for these facts, if any.
    pub(crate) fn get(
        &self,
        chain: &MandateChain,
        target: &CallTarget,
        approved: bool,
    ) -> Option<PolicyVerdict> {
        let entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let for_mandate = entries.by_mandate.get(&chain.leaf().id)?;
        if !for_mandate.seen.matches(chain) {
            return None;
        }
        for_mandate
            .by_tool
            .get(&target.tool)?
            .iter()
            .find(|(radius, was_approved, _)| *radius == target.radius && *was_approved == approved)
            .map(|(_, _, verdict)| verdict.clone())
    }

    /// Remembers Cedar's answer for these facts.
    pub(crate) fn put(
        &self,
        chain: &MandateChain,
        target: &CallTarget,
        approved: bool,
        verdict: PolicyVerdict,
    ) {
        let mut entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if entries.answers >= self.capacity {
            entries.by_mandate.clear();
            entries.answers = 0;
        }
        let fresh = || ForMandate {
            seen: Seen::of(chain),
            by_tool: HashMap::new(),
        };
        let for_mandate = entries
            .by_mandate
            .entry(chain.leaf().id.clone())
            .or_insert_with(fresh);
        if !for_mandate.seen.matches(chain) {
            // The same id with other facts (never from one store): forget the old ones.
            *for_mandate = fresh();
        }
        let answers = for_mandate.by_tool.entry(target.tool.clone()).or_default();
        answers.retain(|(radius, was_approved, _)| {
            !(*radius == target.radius && *was_approved == approved)
        });
        answers.push((target.radius, approved, verdict));
        entries.answers += 1;
    }
}
