//! An RFC 9162 (Certificate Transparency v2, §2.1) Merkle tree over audit event hashes.
//!
//! A leaf's hash is SHA-256(0x00 ‖ leaf), an inner node's SHA-256(0x01 ‖ left ‖
//! right), and the tree over n leaves splits at the largest power of two below
//! n; the empty tree's root is SHA-256 of nothing. These are RFC 6962's hashes,
//! so any CT tool can check Mandate's roots and proofs.
//!
//! [`MerkleLog`] grows one leaf hash at a time and answers, for any size it has
//! reached, the root, an [`InclusionProof`] (this leaf is in that tree) and a
//! [`ConsistencyProof`] (that older tree is a prefix of this one). Each proof
//! checks itself exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 say, needing only
//! the hashes it is given.

use crate::EventHash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Prefix of a leaf hash's input (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an inner node hash's input (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// A Merkle tree, a proof or its arguments did not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index lies outside the tree.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The size of the tree.
        size: u64,
    },
    /// The tree size is larger than allowed: the log's length, or the newer size of a pair.
    #[error("tree size {size} is out of range: at most {len} is allowed here")]
    SizeOutOfRange {
        /// The size asked for.
        size: u64,
        /// The largest size allowed.
        len: u64,
    },
    /// The proof's path does not have the shape its sizes call for.
    #[error("malformed merkle proof: {0}")]
    BadProof(&'static str),
    /// The proof's path does not lead to the root (or roots) it was checked against.
    #[error("merkle proof does not match the expected root")]
    RootMismatch,
}

/// SHA-256(0x00 ‖ `leaf`): the hash of one leaf, such as an event's canonical bytes.
pub fn leaf_hash(leaf: &[u8]) -> EventHash {
    EventHash::from_bytes(
        Sha256::new()
            .chain_update([LEAF_PREFIX])
            .chain_update(leaf)
            .finalize()
            .into(),
    )
}

/// SHA-256(0x01 ‖ `left` ‖ `right`): the hash of an inner node.
pub(crate) fn node_hash(left: &EventHash, right: &EventHash) -> EventHash {
    let digest = Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left.as_bytes())
        .chain_update(right.as_bytes())
        .finalize();
    EventHash::from_bytes(digest.into())
}

/// SHA-256 of the empty string: the root of the empty tree.
pub(crate) fn empty_root() -> EventHash {
    EventHash::from_bytes(Sha256::digest([]).into())
}

/// The largest power of two below `n`, where RFC 9162 splits a tree of `n ≥ 2` leaves.
fn split(n: u64) -> u64 {
    let below = n.saturating_sub(1);
    1 << (u64::BITS - 1).saturating_sub(below.leading_zeros())
}

/// The height of a tree of `n` leaves: the most hashes a proof in it holds (one more for consistency).
fn depth(n: u64) -> usize {
    let bits = u64::BITS.saturating_sub(n.saturating_sub(1).leading_zeros());
    usize::try_from(bits).unwrap_or(0)
}

/// An append-only Merkle tree of leaf hashes, held in memory.
///
/// Appending and [`MerkleLog::root`] take O(log n) hashes; a past root or a
/// proof takes O(log n) lookups and at most O(log n) hashes, because every
/// complete subtree's hash is kept (about twice the leaves' memory).
///
/// ```
/// use mandate_audit::{MerkleLog, leaf_hash};
///
/// let mut log = MerkleLog::new();
/// for event in [&b"one"[..], b"two", b"three"] {
///     log.push_leaf_hash(leaf_hash(event));
/// }
/// let old_root = log.root_at(2)?;
/// let proof = log.inclusion_proof(1, 3)?;
/// proof.verify(&leaf_hash(b"two"), &log.root())?;
/// log.consistency_proof(2, 3)?.verify(&old_root, &log.root())?;
/// # Ok::<(), mandate_audit::MerkleError>(())
/// ```
#[derive(Clone, Default)]
pub struct MerkleLog {
    /// `levels[h][i]` is the hash of the complete subtree over leaves
    /// `i·2^h .. (i+1)·2^h`; `levels[0]` holds the leaf hashes.
    // INVARIANT: with n leaves, `levels[h].len() == n >> h` for every `h`, and
    // `levels` has one level per bit of n; `push_leaf_hash` keeps it. So level
    // `h` has an odd length exactly when bit `h` of n is set, and its last hash
    // is then the frontier's complete subtree of 2^h leaves.
    levels: Vec<Vec<EventHash>>,
}

impl MerkleLog {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.levels
            .first()
            .map_or(0, |leaves| u64::try_from(leaves.len()).unwrap_or(u64::MAX))
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash (see [`leaf_hash`]).
    pub fn push_leaf_hash(&mut self, hash: EventHash) {
        let mut carry = hash;
        for level in &mut self.levels {
            level.push(carry);
            // An even length means the new hash completed a pair: their parent
            // is a new complete subtree one level up.
            match level.last_chunk::<2>() {
                Some([left, right]) if level.len() % 2 == 0 => carry = node_hash(left, right),
                _ => return,
            }
        }
        self.levels.push(vec![carry]);
    }

    /// The root of the whole tree.
    pub fn root(&self) -> EventHash {
        // The frontier's complete subtrees, smallest (rightmost) first, folded
        // into their parents from the right edge inwards.
        self.levels
            .iter()
            .filter(|level| level.len() % 2 == 1)
            .filter_map(|level| level.last())
            .fold(None, |right, left| {
                Some(right.map_or(*left, |right| node_hash(left, &right)))
            })
            .unwrap_or_else(empty_root)
    }

    /// The root the tree had when it held its first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<EventHash, MerkleError> {
        self.check_size(size)?;
        self.subtree(0, size)
    }

    /// The RFC 9162 inclusion proof (PATH) of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, MerkleError> {
        self.check_size(size)?;
        if index >= size {
            return Err(MerkleError::IndexOutOfRange { index, size });
        }
        // Walk down from the root to the leaf, collecting the sibling of each
        // subtree entered; the proof lists them from the leaf up.
        let mut path = Vec::with_capacity(depth(size));
        let (mut start, mut width, mut offset) = (0, size, index);
        // INVARIANT: start + width <= size and offset < width.
        while width > 1 {
            let k = split(width);
            if offset < k {
                path.push(self.subtree(start + k, width - k)?);
                width = k;
            } else {
                path.push(self.subtree(start, k)?);
                start += k;
                offset -= k;
                width -= k;
            }
        }
        path.reverse();
        Ok(InclusionProof { index, size, path })
    }

    /// The RFC 9162 consistency proof (PROOF) between the trees of the first `old` and `new` leaves.
    ///
    /// It is empty when `old` is 0 or equals `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, MerkleError> {
        self.check_size(new)?;
        if old > new {
            return Err(MerkleError::SizeOutOfRange {
                size: old,
                len: new,
            });
        }
        let mut path = Vec::with_capacity(depth(new).saturating_add(1));
        if old > 0 && old < new {
            // SUBPROOF(m, D[start..start+width], whole), walked down from the
            // root; `whole` stays true while the old tree's root is the
            // subtree at hand, which the verifier already knows.
            let (mut start, mut width, mut m, mut whole) = (0, new, old, true);
            // INVARIANT: 0 < m <= width and start + width <= new.
            while m < width {
                let k = split(width);
                if m <= k {
                    path.push(self.subtree(start + k, width - k)?);
                    width = k;
                } else {
                    path.push(self.subtree(start, k)?);
                    start += k;
                    m -= k;
                    width -= k;
                    whole = false;
                }
            }
            if !whole {
                path.push(self.subtree(start, width)?);
            }
            path.reverse();
        }
        Ok(ConsistencyProof {
            old_size: old,
            new_size: new,
            path,
        })
    }

    fn check_size(&self, size: u64) -> Result<(), MerkleError> {
        let len = self.len();
        if size > len {
            return Err(MerkleError::SizeOutOfRange { size, len });
        }
        Ok(())
    }

    /// MTH of the `size` leaves from `start`.
    ///
    /// `start` must be a multiple of the smallest power of two at least
    /// `size`, as every subtree RFC 9162's recursion visits is. The range then
    /// splits into complete subtrees, one per set bit of `size`, largest
    /// first, each aligned to its own width and so kept in `levels`.
    fn subtree(&self, start: u64, size: u64) -> Result<EventHash, MerkleError> {
        let out_of_range = || MerkleError::SizeOutOfRange {
            size: start.saturating_add(size),
            len: self.len(),
        };
        let mut right_edge = start.checked_add(size).ok_or_else(out_of_range)?;
        let mut root: Option<EventHash> = None;
        let mut bits = size;
        while bits != 0 {
            let height = bits.trailing_zeros();
            bits &= bits.wrapping_sub(1);
            right_edge = right_edge
                .checked_sub(1 << height)
                .ok_or_else(out_of_range)?;
            let complete = self.complete(height, right_edge).ok_or_else(out_of_range)?;
            root = Some(root.map_or(*complete, |right| node_hash(complete, &right)));
        }
        Ok(root.unwrap_or_else(empty_root))
    }

    /// The kept hash of the complete subtree of 2^`height` leaves from `start`.
    fn complete(&self, height: u32, start: u64) -> Option<&EventHash> {
        let level = self.levels.get(usize::try_from(height).ok()?)?;
        level.get(usize::try_from(start >> height).ok()?)
    }
}

impl fmt::Debug for MerkleLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleLog")
            .field("len", &self.len())
            .field("root", &self.root())
            .finish()
    }
}

/// Proof that one leaf is in a tree of `size` leaves (RFC 9162 §2.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The leaf's position, from 0.
    pub index: u64,
    /// The size of the tree it is in.
    pub size: u64,
    /// The sibling hashes from the leaf up to the root.
    pub path: Vec<EventHash>,
}

impl InclusionProof {
    /// Checks, as RFC 9162 §2.1.3.2 does, that `leaf_hash` sits at `index` in the tree whose root is `root`.
    pub fn verify(&self, leaf_hash: &EventHash, root: &EventHash) -> Result<(), MerkleError> {
        if self.index >= self.size {
            return Err(MerkleError::IndexOutOfRange {
                index: self.index,
                size: self.size,
            });
        }
        // `fn_` and `sn` are the RFC's `fn` and `sn`: the leaf's and the last
        // leaf's positions, shifted up one level per step.
        let mut fn_ = self.index;
        let mut sn = self
            .size
            .checked_sub(1)
            .ok_or(MerkleError::IndexOutOfRange {
                index: self.index,
                size: self.size,
            })?;
        let mut r = *leaf_hash;
        for p in &self.path {
            if sn == 0 {
                return Err(MerkleError::BadProof("inclusion path is too long"));
            }
            if fn_ & 1 == 1 || fn_ == sn {
                r = node_hash(p, &r);
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        if sn != 0 {
            return Err(MerkleError::BadProof("inclusion path is too short"));
        }
        if r != *root {
            return Err(MerkleError::RootMismatch);
        }
        Ok(())
    }
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` (RFC 9162 §2.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub old_size: u64,
    /// The newer tree's size.
    pub new_size: u64,
    /// The hashes RFC 9162 §2.1.4.1's PROOF lists.
    pub path: Vec<EventHash>,
}

impl ConsistencyProof {
    /// Checks, as RFC 9162 §2.1.4.2 does, that the tree with root `old_root`
    /// is a prefix of the tree with root `new_root`.
    ///
    /// Between equal sizes the path must be empty and the roots equal; from
    /// size 0 the path must be empty and `old_root` the empty tree's root.
    pub fn verify(&self, old_root: &EventHash, new_root: &EventHash) -> Result<(), MerkleError> {
        let (old, new) = (self.old_size, self.new_size);
        if old > new {
            return Err(MerkleError::BadProof("old tree size exceeds new tree size"));
        }
        if old == new || old == 0 {
            if !self.path.is_empty() {
                return Err(MerkleError::BadProof(
                    "consistency path must be empty from an empty or equal tree",
                ));
            }
            if (old == 0 && *old_root != empty_root()) || (old == new && old_root != new_root) {
                return Err(MerkleError::RootMismatch);
            }
            return Ok(());
        }
        // 0 < old < new from here on.
        let (Some(mut fn_), Some(mut sn)) = (old.checked_sub(1), new.checked_sub(1)) else {
            return Err(MerkleError::BadProof("tree sizes must be positive"));
        };
        if self.path.is_empty() {
            return Err(MerkleError::BadProof("consistency path is empty"));
        }
        // For a power-of-two old size the old root is itself a node of the
        // new tree, and the path leaves it out.
        let prefix = old.is_power_of_two().then_some(old_root);
        let mut path = prefix.into_iter().chain(&self.path);
        while fn_ & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
        }
        let Some(first) = path.next() else {
            return Err(MerkleError::BadProof("consistency path is empty"));
        };
        let (mut fr, mut sr) = (*first, *first);
        for c in path {
            if sn == 0 {
                return Err(MerkleError::BadProof("consistency path is too long"));
            }
            if fn_ & 1 == 1 || fn_ == sn {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = node_hash(&sr, c);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        if sn != 0 {
            return Err(MerkleError::BadProof("consistency path is too short"));
        }
        if fr != *old_root || sr != *new_root {
            return Err(MerkleError::RootMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(hex: &str) -> EventHash {
        hex.parse().unwrap()
    }

    include!("../tests/vectors/rfc6962.rs");

    fn ct_log() -> MerkleLog {
        let mut log = MerkleLog::new();
        for leaf in CT_LEAVES {
            log.push_leaf_hash(leaf_hash(leaf));
        }
        log
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (7, 4),
            (8, 4),
            (9, 8),
            (63, 32),
        ] {
            assert_eq!(split(n), k, "split({n})");
        }
        assert_eq!(split(28937), 16384);
        assert_eq!(split(u64::MAX), 1 << 63);
    }

    #[test]
    fn hashes_follow_rfc_6962() {
        assert_eq!(empty_root(), h(CT_ROOTS[0]));
        assert_eq!(leaf_hash(b""), h(CT_ROOTS[1]));
        assert_eq!(
            node_hash(&leaf_hash(b""), &leaf_hash(b"\x00")),
            h(CT_ROOTS[2])
        );
    }

    #[test]
    fn reference_tree_roots_at_every_size() {
        let mut log = MerkleLog::new();
        assert_eq!(log.root(), h(CT_ROOTS[0]));
        assert!(log.is_empty());
        for (n, leaf) in CT_LEAVES.iter().enumerate() {
            log.push_leaf_hash(leaf_hash(leaf));
            assert_eq!(
                log.root(),
                h(CT_ROOTS[n + 1]),
                "root after {} leaves",
                n + 1
            );
        }
        assert_eq!(log.len(), 8);
        for (size, root) in CT_ROOTS.iter().enumerate() {
            assert_eq!(
                log.root_at(size as u64).unwrap(),
                h(root),
                "root_at({size})"
            );
        }
    }

    #[test]
    fn levels_keep_every_complete_subtree() {
        // Node hashes of the reference tree, level by level (transparency-dev/merkle `NodeHashes`).
        let log = ct_log();
        assert_eq!(log.levels.len(), 4);
        assert_eq!(
            log.levels[1],
            [
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            ]
            .map(h)
        );
        assert_eq!(
            log.levels[2],
            [
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
            .map(h)
        );
        assert_eq!(log.levels[3], [h(CT_ROOTS[8])]);
    }

    #[test]
    fn out_of_range_arguments_are_errors() {
        let log = ct_log();
        assert_eq!(
            log.root_at(9),
            Err(MerkleError::SizeOutOfRange { size: 9, len: 8 })
        );
        assert_eq!(
            log.inclusion_proof(0, 9),
            Err(MerkleError::SizeOutOfRange { size: 9, len: 8 })
        );
        assert_eq!(
            log.inclusion_proof(5, 5),
            Err(MerkleError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            log.inclusion_proof(0, 0),
            Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            log.inclusion_proof(u64::MAX, u64::MAX),
            Err(MerkleError::SizeOutOfRange {
                size: u64::MAX,
                len: 8
            })
        );
        assert_eq!(
            log.consistency_proof(3, 9),
            Err(MerkleError::SizeOutOfRange { size: 9, len: 8 })
        );
        assert_eq!(
            log.consistency_proof(5, 4),
            Err(MerkleError::SizeOutOfRange { size: 5, len: 4 })
        );
        assert_eq!(
            MerkleLog::new().root_at(1),
            Err(MerkleError::SizeOutOfRange { size: 1, len: 0 })
        );
        assert_eq!(
            MerkleError::IndexOutOfRange { index: 5, size: 5 }.to_string(),
            "leaf index 5 is outside a tree of 5 leaves"
        );
    }

    #[test]
    fn trivial_consistency_proofs_are_empty() {
        let log = ct_log();
        for n in 0..=8 {
            assert!(log.consistency_proof(0, n).unwrap().path.is_empty());
            assert!(log.consistency_proof(n, n).unwrap().path.is_empty());
        }
        let empty = h(CT_ROOTS[0]);
        let root = h(CT_ROOTS[5]);
        let from_empty = log.consistency_proof(0, 5).unwrap();
        from_empty.verify(&empty, &root).unwrap();
        assert_eq!(
            from_empty.verify(&root, &root),
            Err(MerkleError::RootMismatch)
        );
        let same = log.consistency_proof(5, 5).unwrap();
        same.verify(&root, &root).unwrap();
        assert_eq!(same.verify(&empty, &root), Err(MerkleError::RootMismatch));
        let padded = ConsistencyProof {
            path: vec![root],
            ..same
        };
        assert!(matches!(
            padded.verify(&root, &root),
            Err(MerkleError::BadProof(_))
        ));
    }

    #[test]
    fn malformed_proofs_are_errors() {
        let log = ct_log();
        let leaf = leaf_hash(CT_LEAVES[5]);
        let root = log.root();
        let good = log.inclusion_proof(5, 8).unwrap();
        let mut long = good.clone();
        long.path.push(root);
        assert_eq!(
            long.verify(&leaf, &root),
            Err(MerkleError::BadProof("inclusion path is too long"))
        );
        let mut short = good.clone();
        short.path.pop();
        assert_eq!(
            short.verify(&leaf, &root),
            Err(MerkleError::BadProof("inclusion path is too short"))
        );
        let past_end = InclusionProof {
            index: 8,
            ..good.clone()
        };
        assert_eq!(
            past_end.verify(&leaf, &root),
            Err(MerkleError::IndexOutOfRange { index: 8, size: 8 })
        );
        let empty_tree = InclusionProof {
            index: 0,
            size: 0,
            path: Vec::new(),
        };
        assert!(empty_tree.verify(&leaf, &root).is_err());

        let old = log.root_at(6).unwrap();
        let good = log.consistency_proof(6, 8).unwrap();
        let mut no_path = good.clone();
        no_path.path.clear();
        assert_eq!(
            no_path.verify(&old, &root),
            Err(MerkleError::BadProof("consistency path is empty"))
        );
        let mut long = good.clone();
        long.path.push(root);
        assert_eq!(
            long.verify(&old, &root),
            Err(MerkleError::BadProof("consistency path is too long"))
        );
        let mut short = good.clone();
        short.path.pop();
        assert_eq!(
            short.verify(&old, &root),
            Err(MerkleError::BadProof("consistency path is too short"))
        );
        let backwards = ConsistencyProof {
            old_size: 8,
            new_size: 6,
            path: good.path.clone(),
        };
        assert!(matches!(
            backwards.verify(&root, &old),
            Err(MerkleError::BadProof(_))
        ));
        let huge = ConsistencyProof {
            old_size: u64::MAX - 1,
            new_size: u64::MAX,
            path: vec![root; 200],
        };
        assert!(huge.verify(&old, &root).is_err());
        let huge = InclusionProof {
            index: u64::MAX - 1,
            size: u64::MAX,
            path: vec![root; 200],
        };
        assert!(huge.verify(&leaf, &root).is_err());
    }

    #[test]
    fn debug_shows_size_and_root() {
        assert_eq!(
            format!("{:?}", ct_log()),
            format!("MerkleLog {{ len: 8, root: EventHash({}) }}", CT_ROOTS[8])
        );
    }
}
