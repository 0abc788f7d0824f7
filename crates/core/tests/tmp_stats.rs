#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
#[test]
fn stats() {
    let mut runner = TestRunner::default();
    let mut sizes = vec![0usize; 20];
    let mut depth = vec![0usize; 8];
    let mut budgeted = 0;
    let mut tot = 0;
    let mut single_d0 = 0;
    let mut nsteps = 0;
    let mut single = 0;
    let mut kinds = std::collections::BTreeMap::new();
    for _ in 0..1000 {
        let root = support::arb_root().new_tree(&mut runner).unwrap().current();
        let steps = support::arb_steps(14)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut t = support::Tree::new(root);
        for (at, raw) in &steps {
            let p = at.index(t.nodes.len());
            if let (_, Err(ws)) = t.attenuate(p, raw, support::NOW) {
                for w in ws {
                    let k = format!("{w:?}");
                    let k = k.split(|c| c == '(' || c == ' ').next().unwrap().to_owned();
                    *kinds.entry(k).or_insert(0) += 1;
                }
            }
        }
        sizes[t.nodes.len()] += 1;
        if t.nodes.len() == 1 {
            single += 1;
            nsteps += steps.len();
            if t.nodes[0].depth_remaining == 0 {
                single_d0 += 1;
            }
        }
        for n in &t.nodes {
            depth[n.depth as usize] += 1;
            tot += 1;
            if n.budget.is_some() {
                budgeted += 1;
            }
        }
    }
    eprintln!(
        "sizes {sizes:?}\ndepths {depth:?} budgeted {budgeted}/{tot} single_d0 {single_d0}/{single} steps {nsteps}\n{kinds:?}"
    );
}
