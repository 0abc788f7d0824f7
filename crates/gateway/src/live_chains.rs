//! Mandate chains kept in memory between calls, dropped whenever the store's liveness
//! epoch moves (a revocation or a spent budget, by any process), so none outlives its death.
//!
//! What a chain is made of never changes once recorded; only whether it is in force does,
//! and apart from the clock (checked on every call) that changes only with the epoch. The
//! write-ahead spend checks status and budget again inside its transaction, so even a
//! chain read a moment before a revocation can never get a call forwarded.

use mandate_core::{MandateChain, MandateId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Chains kept before the memory starts over.
const CAPACITY: usize = 16_384;

/// Chains by leaf mandate, valid for one liveness epoch.
#[derive(Debug, Default)]
pub struct LiveChains {
    inner: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    epoch: u64,
    chains: HashMap<MandateId, Arc<MandateChain>>,
}

impl LiveChains {
    /// The chain ending at `leaf`, if it was kept in this `epoch`.
    pub fn get(&self, leaf: &MandateId, epoch: u64) -> Option<Arc<MandateChain>> {
        let mut kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if kept.epoch != epoch {
            kept.chains.clear();
            kept.epoch = epoch;
            return None;
        }
        kept.chains.get(leaf).cloned()
    }

    /// Keeps `chain`, read from the store after the epoch was `epoch`.
    // INVARIANT: callers read the epoch *before* the chain, so a death committed in
    // between is either in the chain read or moves the epoch past the one kept here.
    pub fn put(&self, chain: Arc<MandateChain>, epoch: u64) {
        let mut kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if kept.epoch != epoch {
            // A newer epoch is already in use, or this read is older than the kept ones.
            if epoch < kept.epoch {
                return;
            }
            kept.chains.clear();
            kept.epoch = epoch;
        }
        if kept.chains.len() >= CAPACITY {
            kept.chains.clear();
        }
        kept.chains.insert(chain.leaf().id.clone(), chain);
    }
}
