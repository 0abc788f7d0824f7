//! The right edge of an RFC 9162 Merkle tree: enough to append leaves and compute the root
//! in O(log n) memory, for a signer that never needs proofs (those come from the full log).

use crate::hash::EventHash;
use crate::merkle::{empty_root, node_hash};

/// The complete subtrees along a tree's right edge, one per set bit of its size.
///
/// Holds at most 64 hashes whatever the size, where [`crate::MerkleLog`] holds every node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleFrontier {
    len: u64,
    /// `edge[h]` is the root of the complete subtree of `2^h` leaves on the right edge,
    /// present exactly when bit `h` of `len` is set.
    edge: Vec<Option<EventHash>>,
}

impl MerkleFrontier {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a leaf hash (see [`crate::leaf_hash`]).
    pub fn push_leaf_hash(&mut self, hash: EventHash) {
        // Binary addition of one leaf: equal-sized subtrees merge, carrying upwards.
        let mut carry = hash;
        let mut height = 0;
        while let Some(slot) = self.edge.get_mut(height) {
            match slot.take() {
                Some(left) => {
                    carry = node_hash(&left, &carry);
                    height += 1;
                }
                None => {
                    *slot = Some(carry);
                    self.len += 1;
                    return;
                }
            }
        }
        self.edge.push(Some(carry));
        self.len += 1;
    }

    /// The root of the whole tree (RFC 9162 MTH).
    pub fn root(&self) -> EventHash {
        // Smallest (rightmost) subtree first, folded into its left neighbours.
        self.edge
            .iter()
            .flatten()
            .fold(None, |right, left| {
                Some(right.map_or(*left, |right| node_hash(left, &right)))
            })
            .unwrap_or_else(empty_root)
    }
}
