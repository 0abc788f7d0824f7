//! Our RFC 9162 tree checked against an independent implementation, the `ct-merkle`
//! crate: same roots, and each side's inclusion and consistency proofs verify on the other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use mandate_audit::{
    ConsistencyProof, EventHash, InclusionProof, MerkleFrontier, MerkleLog, leaf_hash,
};
use proptest::prelude::*;
use sha2::Sha256;

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;
type CtInclusion = ct_merkle::InclusionProof<Sha256>;
type CtConsistency = ct_merkle::ConsistencyProof<Sha256>;

fn both(leaves: &[Vec<u8>]) -> (MerkleLog, CtTree) {
    let mut ours = MerkleLog::new();
    let mut theirs = CtTree::new();
    for leaf in leaves {
        ours.push_leaf_hash(leaf_hash(leaf));
        theirs.push(leaf.clone());
    }
    (ours, theirs)
}

fn concat(path: &[EventHash]) -> Vec<u8> {
    path.iter().flat_map(|h| h.as_bytes().to_vec()).collect()
}

fn split(bytes: &[u8]) -> Vec<EventHash> {
    bytes
        .chunks(32)
        .map(|c| EventHash::try_from(c).unwrap())
        .collect()
}

fn ct_root(tree: &CtTree, size: u64) -> ct_merkle::RootHash<Sha256> {
    // A tree of `size` leaves: rebuild the prefix (ct-merkle has no root-at-size).
    let mut prefix = CtTree::new();
    for leaf in &tree.items()[..size as usize] {
        prefix.push(leaf.clone());
    }
    prefix.root()
}

fn leaves() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..80)
}

proptest! {
    #[test]
    fn roots_agree(leaves in leaves()) {
        let (ours, theirs) = both(&leaves);
        let (ours, theirs) = (ours.root(), theirs.root());
        prop_assert_eq!(&ours.as_bytes()[..], &theirs.as_bytes()[..]);
    }

    /// The signer's O(log n) frontier gives the same root as both full trees, at every size.
    #[test]
    fn the_frontier_root_agrees_at_every_size(leaves in leaves()) {
        let mut frontier = MerkleFrontier::new();
        prop_assert_eq!(frontier.root(), MerkleLog::new().root());
        let mut theirs = CtTree::new();
        for leaf in &leaves {
            frontier.push_leaf_hash(leaf_hash(leaf));
            theirs.push(leaf.clone());
            let expected = theirs.root();
            let ours = frontier.root();
            prop_assert_eq!(&ours.as_bytes()[..], &expected.as_bytes()[..]);
            prop_assert_eq!(frontier.len(), theirs.len());
        }
    }

    #[test]
    fn inclusion_proofs_cross_verify(leaves in leaves(), pick in any::<prop::sample::Index>()) {
        let (ours, theirs) = both(&leaves);
        let size = ours.len();
        let index = pick.index(leaves.len()) as u64;
        let root = ours.root();

        // Ours, checked by ct-merkle.
        let proof = ours.inclusion_proof(index, size).unwrap();
        let as_ct = CtInclusion::try_from_bytes(concat(&proof.path)).unwrap();
        prop_assert!(theirs.root().verify_inclusion(&leaves[index as usize], index, &as_ct).is_ok());

        // ct-merkle's, checked by ours.
        let theirs_proof = theirs.prove_inclusion(index as usize);
        let as_ours = InclusionProof { index, size, path: split(theirs_proof.as_bytes()) };
        prop_assert!(as_ours.verify(&leaf_hash(&leaves[index as usize]), &root).is_ok());

        // And a proof for the wrong leaf fails on their side too.
        let mut wrong = leaves[index as usize].clone();
        wrong.push(0xff);
        prop_assert!(theirs.root().verify_inclusion(&wrong, index, &as_ct).is_err());
    }

    #[test]
    fn consistency_proofs_cross_verify(leaves in leaves(), pick in any::<prop::sample::Index>()) {
        prop_assume!(leaves.len() >= 2);
        let (ours, theirs) = both(&leaves);
        let new = ours.len();
        // ct-merkle proves old sizes 1..new (it cannot express a zero-size or equal old tree).
        let old = 1 + pick.index(leaves.len() - 1) as u64;
        let additions = (new - old) as usize;

        let proof = ours.consistency_proof(old, new).unwrap();
        let as_ct = CtConsistency::try_from_bytes(concat(&proof.path)).unwrap();
        prop_assert!(theirs.root().verify_consistency(&ct_root(&theirs, old), &as_ct).is_ok());

        if additions > 0 {
            let theirs_proof = theirs.prove_consistency(additions);
            let as_ours = ConsistencyProof {
                old_size: old,
                new_size: new,
                path: split(theirs_proof.as_bytes()),
            };
            let old_root = ours.root_at(old).unwrap();
            prop_assert!(as_ours.verify(&old_root, &ours.root()).is_ok());
        }
    }
}
