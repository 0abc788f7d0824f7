//! The RFC 9162 Merkle tree against answers computed elsewhere: a python3
//! `hashlib` transcription of RFC 9162's MTH, PATH and PROOF (itself checked
//! against transparency-dev/merkle's published vectors), and a naive
//! recursive transcription here; then proptests that proofs verify and that
//! any change to a leaf, index, path element or root makes them fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_audit::{
    ConsistencyProof, EventHash, InclusionProof, MerkleError, MerkleLog, leaf_hash,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn h(hex: &str) -> EventHash {
    hex.parse().unwrap()
}

/// Leaf hashes of the leaves `[0x00]`, `[0x01]`, … (one byte each), the tree
/// the python cross-check used.
fn byte_leaves(n: u64) -> Vec<EventHash> {
    (0..n).map(|i| leaf_hash(&[i as u8])).collect()
}

fn log_of(leaves: &[EventHash]) -> MerkleLog {
    let mut log = MerkleLog::new();
    for leaf in leaves {
        log.push_leaf_hash(*leaf);
    }
    log
}

// --- A naive transcription of RFC 9162 §2.1, independent of the crate. ---

fn node(left: &EventHash, right: &EventHash) -> EventHash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left.as_bytes());
    hasher.update(right.as_bytes());
    EventHash::from_bytes(hasher.finalize().into())
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[EventHash]) -> EventHash {
    match d.len() {
        0 => EventHash::from_bytes(Sha256::digest(b"").into()),
        1 => d[0],
        n => {
            let k = k_of(n);
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn naive_path(m: usize, d: &[EventHash]) -> Vec<EventHash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = k_of(n);
    let (mut p, sibling) = if m < k {
        (naive_path(m, &d[..k]), mth(&d[k..]))
    } else {
        (naive_path(m - k, &d[k..]), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

fn naive_subproof(m: usize, d: &[EventHash], b: bool) -> Vec<EventHash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = k_of(n);
    let (mut p, sibling) = if m <= k {
        (naive_subproof(m, &d[..k], b), mth(&d[k..]))
    } else {
        (naive_subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

fn naive_proof(m: usize, d: &[EventHash]) -> Vec<EventHash> {
    if m == 0 {
        return Vec::new();
    }
    naive_subproof(m, d, true)
}

fn flip(hash: &EventHash, bit: usize) -> EventHash {
    let mut bytes = *hash.as_bytes();
    bytes[(bit / 8) % 32] ^= 1 << (bit % 8);
    EventHash::from_bytes(bytes)
}

// --- Known answers from python3 (not committed; see the module docs). ---

/// SHA-256 over `"{m} {n}[ {hex}]*\n"` for every proof of the byte-leaf tree
/// up to 70 leaves, as python3 wrote it; all three from the same script.
const PY_ROOTS_DIGEST: &str = "df83a8defe839d3a0b2a1ee539e5e6933e87521c08bc6b913cb3fd82d3f5faa2";
const PY_INCLUSION_DIGEST: &str =
    "ea9d3e38234bd0ad03c051a88bc25d405ac17098b3bba60e9898d3bd1719c5a9";
const PY_CONSISTENCY_DIGEST: &str =
    "c1f9b8cf60e0a0b2cdbc1cd0720d253aeabf1e25d1bda999ebcce7c3d2414b8f";
const PY_MAX: u64 = 70;

fn proof_line(m: u64, n: u64, path: &[EventHash]) -> String {
    let mut line = format!("{m} {n}");
    for hash in path {
        line.push(' ');
        line.push_str(&hash.to_string());
    }
    line.push('\n');
    line
}

#[test]
fn every_root_and_proof_up_to_70_leaves_matches_python() {
    let log = log_of(&byte_leaves(PY_MAX));
    let (mut roots, mut inclusion, mut consistency) = (Sha256::new(), Sha256::new(), Sha256::new());
    for n in 0..=PY_MAX {
        let root = log.root_at(n).unwrap();
        roots.update(format!("{n} {root}\n"));
        for m in 0..n {
            let proof = log.inclusion_proof(m, n).unwrap();
            proof.verify(&leaf_hash(&[m as u8]), &root).unwrap();
            inclusion.update(proof_line(m, n, &proof.path));
        }
        for m in 0..=n {
            let proof = log.consistency_proof(m, n).unwrap();
            proof.verify(&log.root_at(m).unwrap(), &root).unwrap();
            consistency.update(proof_line(m, n, &proof.path));
        }
    }
    assert_eq!(hex::encode(roots.finalize()), PY_ROOTS_DIGEST);
    assert_eq!(hex::encode(inclusion.finalize()), PY_INCLUSION_DIGEST);
    assert_eq!(hex::encode(consistency.finalize()), PY_CONSISTENCY_DIGEST);
}

#[test]
fn thirteen_leaves_match_python() {
    let log = log_of(&byte_leaves(13));
    let root = h("df5ee130e5a247600d190c31074458de3c0dc58f0b0d8a6a2b3dd4fd7e569501");
    assert_eq!(log.root(), root);
    let roots = [
        (
            3,
            "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688",
        ),
        (
            4,
            "9bcd51240af4005168f033121ba85be5a6ed4f0e6a5fac262066729b8fbfdecb",
        ),
        (
            7,
            "3560191803028444b232018ac047fdb561c09c23a7a6876c85e08b5e4d48e9f3",
        ),
        (
            12,
            "e1638fb3b9f61905f83ee361fd1342365d39e2848015a44a69a1dd82105ef04d",
        ),
    ];
    for (size, hex) in roots {
        assert_eq!(log.root_at(size).unwrap(), h(hex), "root_at({size})");
    }

    let inclusion: [(u64, &[&str]); 3] = [
        (
            12,
            &[
                "4e2757c82865d7d2cc00fed50a28e94713285335d78cd6f31d3fe84f11ae0e66",
                "ef7f49b620f6c7ea9b963a214da34b5021c6ded8ed57734380a311ab726aa907",
            ],
        ),
        (
            4,
            &[
                "9f1afa4dc124cba73134e82ff50f17c8f7164257c79fed9a13f5943a6acb8e3d",
                "bbb0feb32f648c73fe170518bcec1f675af1b780dc23d6fbf30b745c1ca5fa11",
                "9bcd51240af4005168f033121ba85be5a6ed4f0e6a5fac262066729b8fbfdecb",
                "cc7376d91fe7b67209b305915b21ab4a0f0070b40582c74ec402e8074912a51d",
            ],
        ),
        (
            0,
            &[
                "b413f47d13ee2fe6c845b2ee141af81de858df4ec549a58b7970bb96645bc8d2",
                "52c56b473e5246933e7852989cd9feba3b38f078742b93afff1e65ed46797825",
                "c1fe42b33ebb8e8a7e4a90abc481c7434e2be02cff2f6a18d7ffab4f1e25891b",
                "cc7376d91fe7b67209b305915b21ab4a0f0070b40582c74ec402e8074912a51d",
            ],
        ),
    ];
    for (index, want) in inclusion {
        let proof = log.inclusion_proof(index, 13).unwrap();
        assert_eq!(
            proof.path,
            want.iter().copied().map(h).collect::<Vec<_>>(),
            "PATH({index}, D[13])"
        );
        proof.verify(&leaf_hash(&[index as u8]), &root).unwrap();
    }

    let consistency: [(u64, &[&str]); 4] = [
        (
            3,
            &[
                "fcf0a6c700dd13e274b6fba8deea8dd9b26e4eedde3495717cac8408c9c5177f",
                "583c7dfb7b3055d99465544032a571e10a134b1b6f769422bbb71fd7fa167a5d",
                "a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a",
                "c1fe42b33ebb8e8a7e4a90abc481c7434e2be02cff2f6a18d7ffab4f1e25891b",
                "cc7376d91fe7b67209b305915b21ab4a0f0070b40582c74ec402e8074912a51d",
            ],
        ),
        (
            4,
            &[
                "c1fe42b33ebb8e8a7e4a90abc481c7434e2be02cff2f6a18d7ffab4f1e25891b",
                "cc7376d91fe7b67209b305915b21ab4a0f0070b40582c74ec402e8074912a51d",
            ],
        ),
        (
            7,
            &[
                "40d88127d4d31a3891f41598eeed41174e5bc89b1eb9bbd66a8cbfc09956a3fd",
                "2ecd8a6b7d2845546659ad4cf443533cf921b19dc81fa83934e83821b4dfdcb7",
                "4b8c129ed14cce2c08cfc6766db7f8cdb133b5f698b8de3d5890ea7ff7f0a8d1",
                "9bcd51240af4005168f033121ba85be5a6ed4f0e6a5fac262066729b8fbfdecb",
                "cc7376d91fe7b67209b305915b21ab4a0f0070b40582c74ec402e8074912a51d",
            ],
        ),
        (
            12,
            &[
                "4e2757c82865d7d2cc00fed50a28e94713285335d78cd6f31d3fe84f11ae0e66",
                "fe251e4dd034dcf589c84794120c85d6015d65ca7d9a2c2ec73c9ecb5e33d83b",
                "ef7f49b620f6c7ea9b963a214da34b5021c6ded8ed57734380a311ab726aa907",
            ],
        ),
    ];
    for (old, want) in consistency {
        let proof = log.consistency_proof(old, 13).unwrap();
        assert_eq!(
            proof.path,
            want.iter().copied().map(h).collect::<Vec<_>>(),
            "PROOF({old}, D[13])"
        );
        proof.verify(&log.root_at(old).unwrap(), &root).unwrap();
    }
}

include!("vectors/rfc6962.rs");

fn ct_log() -> MerkleLog {
    let leaves: Vec<EventHash> = CT_LEAVES.iter().map(|leaf| leaf_hash(leaf)).collect();
    log_of(&leaves)
}

#[test]
fn reference_inclusion_proofs() {
    let log = ct_log();
    let cases: [(u64, u64, &[&str]); 7] = [
        (0, 1, &[]),
        (
            0,
            2,
            &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        ),
        (
            1,
            2,
            &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, size, path) in cases {
        let proof = log.inclusion_proof(index, size).unwrap();
        let want: Vec<EventHash> = path.iter().copied().map(h).collect();
        assert_eq!(proof.path, want, "PATH({index}, D[{size}])");
        let leaf = leaf_hash(CT_LEAVES[index as usize]);
        proof.verify(&leaf, &h(CT_ROOTS[size as usize])).unwrap();
    }
}

#[test]
fn reference_consistency_proofs() {
    let log = ct_log();
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old, new, path) in cases {
        let proof = log.consistency_proof(old, new).unwrap();
        let want: Vec<EventHash> = path.iter().copied().map(h).collect();
        assert_eq!(proof.path, want, "PROOF({old}, D[{new}])");
        proof
            .verify(&h(CT_ROOTS[old as usize]), &h(CT_ROOTS[new as usize]))
            .unwrap();
    }
}

#[test]
fn proofs_serialise_with_hex_hashes() {
    let log = log_of(&byte_leaves(5));
    let inclusion = log.inclusion_proof(4, 5).unwrap();
    let json = serde_json::to_value(&inclusion).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "index": 4,
            "size": 5,
            "path": [log.root_at(4).unwrap().to_string()],
        })
    );
    let back: InclusionProof = serde_json::from_value(json).unwrap();
    assert_eq!(back, inclusion);

    let consistency = log.consistency_proof(3, 5).unwrap();
    let text = serde_json::to_string(&consistency).unwrap();
    assert!(text.starts_with(r#"{"old_size":3,"new_size":5,"path":[""#));
    let back: ConsistencyProof = serde_json::from_str(&text).unwrap();
    assert_eq!(back, consistency);

    assert!(
        serde_json::from_str::<InclusionProof>(r#"{"index":0,"size":1,"path":["abc"]}"#).is_err()
    );
    assert!(
        serde_json::from_str::<ConsistencyProof>(
            r#"{"old_size":0,"new_size":1,"path":[],"extra":1}"#
        )
        .is_err()
    );
}

#[test]
fn a_large_log_proves_every_leaf() {
    const N: u64 = (1 << 14) + 3;
    let leaves = byte_leaves(N);
    let log = log_of(&leaves);
    let root = log.root();
    assert_eq!(root, mth(&leaves));
    assert_eq!(log.root_at(N).unwrap(), root);
    for (index, leaf) in leaves.iter().enumerate() {
        let proof = log.inclusion_proof(index as u64, N).unwrap();
        proof.verify(leaf, &root).unwrap();
    }
    for old in [1, 2, 3, 1 << 13, (1 << 13) + 1, 1 << 14, N - 1] {
        let old_root = log.root_at(old).unwrap();
        assert_eq!(old_root, mth(&leaves[..old as usize]));
        log.consistency_proof(old, N)
            .unwrap()
            .verify(&old_root, &root)
            .unwrap();
    }
}

fn leaves(max: usize) -> impl Strategy<Value = Vec<EventHash>> {
    proptest::collection::vec(any::<[u8; 8]>(), 1..=max)
        .prop_map(|raw| raw.iter().map(|bytes| leaf_hash(bytes)).collect())
}

proptest! {
    // Each case hashes O(n²) for the naive roots: fewer, larger cases.
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn incremental_root_is_the_naive_mth(leaves in leaves(200)) {
        let mut log = MerkleLog::new();
        let mut roots = vec![mth(&[])];
        prop_assert_eq!(log.root(), roots[0]);
        for (n, leaf) in leaves.iter().enumerate() {
            log.push_leaf_hash(*leaf);
            roots.push(mth(&leaves[..=n]));
            prop_assert_eq!(log.len(), n as u64 + 1);
            prop_assert_eq!(log.root(), roots[n + 1]);
        }
        for (size, root) in roots.iter().enumerate() {
            prop_assert_eq!(log.root_at(size as u64).unwrap(), *root);
        }
    }
}

proptest! {
    #[test]
    fn inclusion_proofs_verify_and_bind_everything(
        leaves in leaves(200),
        size_pick in any::<prop::sample::Index>(),
        index_pick in any::<prop::sample::Index>(),
        other_pick in any::<prop::sample::Index>(),
        bit in 0usize..256,
    ) {
        let log = log_of(&leaves);
        let size = size_pick.index(leaves.len()) + 1;
        let index = index_pick.index(size);
        let leaf = leaves[index];
        let root = log.root_at(size as u64).unwrap();
        let proof = log.inclusion_proof(index as u64, size as u64).unwrap();
        prop_assert_eq!(&proof.path, &naive_path(index, &leaves[..size]));
        prop_assert_eq!(proof.verify(&leaf, &root), Ok(()));

        // Another leaf.
        prop_assert!(proof.verify(&flip(&leaf, bit), &root).is_err());
        // Another root, made up or of another size.
        prop_assert!(proof.verify(&leaf, &flip(&root, bit)).is_err());
        let other_size = other_pick.index(leaves.len()) + 1;
        if other_size != size && index < other_size {
            let other_root = log.root_at(other_size as u64).unwrap();
            prop_assert!(proof.verify(&leaf, &other_root).is_err());
        }
        // Another index.
        let other_index = other_pick.index(size);
        if other_index != index {
            let moved = InclusionProof { index: other_index as u64, ..proof.clone() };
            prop_assert!(moved.verify(&leaf, &root).is_err());
        }
        // A flipped path element.
        if !proof.path.is_empty() {
            let mut tampered = proof.clone();
            let at = bit % tampered.path.len();
            tampered.path[at] = flip(&tampered.path[at], bit);
            prop_assert_eq!(tampered.verify(&leaf, &root), Err(MerkleError::RootMismatch));
        }
    }

    #[test]
    fn consistency_proofs_verify_and_bind_both_roots(
        leaves in leaves(200),
        new_pick in any::<prop::sample::Index>(),
        old_pick in any::<prop::sample::Index>(),
        bit in 0usize..256,
    ) {
        let log = log_of(&leaves);
        let new = new_pick.index(leaves.len() + 1);
        let old = old_pick.index(new + 1);
        let (old_root, new_root) = (mth(&leaves[..old]), mth(&leaves[..new]));
        let proof = log.consistency_proof(old as u64, new as u64).unwrap();
        prop_assert_eq!(&proof.path, &naive_proof(old, &leaves[..new]));
        prop_assert_eq!(proof.verify(&old_root, &new_root), Ok(()));

        prop_assert!(proof.verify(&flip(&old_root, bit), &new_root).is_err());
        if old > 0 {
            // From the empty tree nothing ties the new root down.
            prop_assert!(proof.verify(&old_root, &flip(&new_root, bit)).is_err());
        }
        if !proof.path.is_empty() {
            let mut tampered = proof.clone();
            let at = bit % tampered.path.len();
            tampered.path[at] = flip(&tampered.path[at], bit);
            prop_assert_eq!(
                tampered.verify(&old_root, &new_root),
                Err(MerkleError::RootMismatch)
            );
        }
        // A proof is for its own sizes only.
        if old > 0 && old < new {
            let shifted = ConsistencyProof { old_size: proof.old_size - 1, ..proof.clone() };
            prop_assert!(shifted.verify(&old_root, &new_root).is_err());
        }
    }

    #[test]
    fn out_of_range_arguments_are_errors_not_panics(
        n in 0u64..40,
        a in prop_oneof![0u64..50, any::<u64>()],
        b in prop_oneof![0u64..50, any::<u64>()],
    ) {
        let log = log_of(&byte_leaves(n));
        prop_assert_eq!(log.root_at(a).is_ok(), a <= n);
        match log.inclusion_proof(a, b) {
            Ok(proof) => prop_assert!(a < b && b <= n && proof.verify(&leaf_hash(&[a as u8]), &log.root_at(b).unwrap()).is_ok()),
            Err(MerkleError::SizeOutOfRange { size, len }) => prop_assert!(size == b && len == n && b > n),
            Err(MerkleError::IndexOutOfRange { index, size }) => prop_assert!(index == a && size == b && a >= b),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
        match log.consistency_proof(a, b) {
            Ok(_) => prop_assert!(a <= b && b <= n),
            Err(MerkleError::SizeOutOfRange { .. }) => prop_assert!(a > b || b > n),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    #[test]
    fn arbitrary_proofs_never_panic(
        index in any::<u64>(),
        size in any::<u64>(),
        path in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        root in any::<[u8; 32]>(),
    ) {
        let path: Vec<EventHash> = path.into_iter().map(EventHash::from_bytes).collect();
        let root = EventHash::from_bytes(root);
        let inclusion = InclusionProof { index, size, path: path.clone() };
        prop_assert!(inclusion.verify(&leaf_hash(b"x"), &root).is_err());
        let consistency = ConsistencyProof { old_size: index, new_size: size, path };
        let _ = consistency.verify(&root, &root);
    }
}

/// Scale check, too slow for a debug build: run with
/// `cargo test -p mandate-audit --release --test merkle -- --ignored --nocapture`.
#[test]
#[ignore = "a release-mode scale check"]
fn a_million_leaves_stay_fast() {
    const N: u64 = 1_000_000;
    let start = std::time::Instant::now();
    let mut log = MerkleLog::new();
    for seq in 0..N {
        log.push_leaf_hash(leaf_hash(&seq.to_be_bytes()));
    }
    let root = log.root();
    eprintln!("append {N} leaves and take the root: {:?}", start.elapsed());

    let start = std::time::Instant::now();
    assert_eq!(log.root_at(N).unwrap(), root);
    for seq in 0..N {
        let proof = log.inclusion_proof(seq, N).unwrap();
        proof.verify(&leaf_hash(&seq.to_be_bytes()), &root).unwrap();
    }
    eprintln!("prove and verify every leaf: {:?}", start.elapsed());

    let start = std::time::Instant::now();
    for old in (1..N).step_by(997) {
        let old_root = log.root_at(old).unwrap();
        log.consistency_proof(old, N)
            .unwrap()
            .verify(&old_root, &root)
            .unwrap();
    }
    eprintln!(
        "1004 past roots and consistency proofs: {:?}",
        start.elapsed()
    );
}
