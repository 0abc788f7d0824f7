//! The sensitivity detectors from outside: every credential rule finds and
//! redacts its sample, personal data detectors check their digits, ordinary
//! text is left alone, and redaction is idempotent and never panics.
//!
//! Token-shaped samples are assembled at run time, so this file holds nothing a
//! secret scanner would flag.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_audit::detect::{self, Finding, LabelKind, redact, redact_json, scan, scan_json};
use proptest::prelude::*;
use serde_json::json;

/// `n` characters cycling through a high-entropy alphabet, starting at `seed`.
fn body(n: usize, seed: usize) -> String {
    const ALPHABET: &[u8] = b"aZ3kQ9xR2mW7pL5tB8vN4cY6hJ1dF0gS";
    (0..n)
        .map(|i| ALPHABET[(i * 7 + seed) % ALPHABET.len()] as char)
        .collect()
}

/// (label, text, the secret inside it) for every credential rule.
fn credential_samples() -> Vec<(&'static str, String, String)> {
    let pem_body = format!("MIIEpAIBAAKCAQEA{}\n{}", body(64, 1), body(64, 2));
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----");
    let aws_secret = format!("{}/K7MDENG/bPxRfiCY{}", body(14, 3), body(9, 4));
    let gh = |prefix: &str| format!("{prefix}_{}", body(36, prefix.len() + 5));
    let fine = format!("github_pat_{}", body(82, 6));
    let glpat = format!("glpat-{}", body(20, 7));
    let slack = format!(
        "xoxb-{}-{}-{}",
        "123456789012",
        "1234567890123",
        body(24, 8)
    );
    let webhook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        "00000000",
        "00000000",
        body(24, 9)
    );
    let stripe = format!("sk_{}_{}", "live", body(24, 10));
    let openai = format!("sk-proj-{}T3Blbk{}{}", body(58, 11), "FJ", body(58, 12));
    let anthropic = format!("sk-ant-api03-{}AA", body(93, 13));
    let gcp = format!("AIza{}", body(35, 14));
    let jwt = format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.{}", body(43, 15));
    let generic = body(24, 16);
    vec![
        ("private_key", format!("key:\n{pem}\n"), pem),
        (
            "aws_access_key",
            "id=AKIAIOSFODNN7EXAMPLE;".to_owned(),
            "AKIAIOSFODNN7EXAMPLE".to_owned(),
        ),
        (
            "aws_secret_key",
            format!("AWS_SECRET_ACCESS_KEY=\"{aws_secret}\"\n"),
            aws_secret,
        ),
        ("github_pat", format!("token {} here", gh("ghp")), gh("ghp")),
        ("github_fine_grained_pat", format!("({fine})"), fine),
        ("github_oauth", format!("{} ", gh("gho")), gh("gho")),
        ("github_app_token", format!("use {}", gh("ghs")), gh("ghs")),
        (
            "github_refresh_token",
            format!("'{}'", gh("ghr")),
            gh("ghr"),
        ),
        ("gitlab_pat", format!("GITLAB {glpat}."), glpat),
        ("slack_token", format!("bot: {slack}"), slack),
        (
            "slack_webhook_url",
            format!("post to {webhook} now"),
            webhook,
        ),
        ("stripe_access_token", format!("stripe {stripe}\n"), stripe),
        ("openai_api_key", format!("OPENAI {openai}"), openai),
        (
            "anthropic_api_key",
            format!("x-api {anthropic} "),
            anthropic,
        ),
        ("gcp_api_key", format!("maps \"{gcp}\""), gcp),
        ("jwt", format!("Authorization: Bearer {jwt}"), jwt),
        (
            "generic_api_key",
            format!("client_secret = \"{generic}\""),
            generic,
        ),
    ]
}

fn only(text: &str) -> (String, String) {
    let findings = scan(text);
    assert_eq!(findings.len(), 1, "{text:?}: {findings:?}");
    let f = &findings[0];
    (f.label.clone(), text[f.start..f.end].to_owned())
}

#[test]
fn every_credential_rule_finds_and_redacts_its_sample() {
    let labels = detect::check().unwrap();
    let samples = credential_samples();
    for (label, text, secret) in &samples {
        assert!(
            labels.contains(&(*label).to_owned()),
            "{label} is not a rule label"
        );
        assert_eq!(
            only(text),
            ((*label).to_owned(), secret.clone()),
            "in {text:?}"
        );
        let findings = scan(text);
        assert_eq!(findings[0].kind, LabelKind::Credential);
        let redacted = redact(text, &findings);
        assert_eq!(
            redacted,
            text.replace(secret.as_str(), &format!("[REDACTED:{label}]"))
        );
        assert!(scan(&redacted).is_empty(), "{redacted:?}");
    }
    // Every credential label has a sample.
    let personal = ["email", "payment_card", "phone_number", "iban"];
    for label in labels.iter().filter(|l| !personal.contains(&l.as_str())) {
        assert!(
            samples.iter().any(|(l, _, _)| l == label),
            "no sample for {label}"
        );
    }
}

#[test]
fn a_private_key_cut_off_by_the_end_of_the_text_is_still_found() {
    let text = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}", body(100, 1));
    assert_eq!(only(&text), ("private_key".to_owned(), text.clone()));
}

#[test]
fn low_entropy_and_placeholder_values_are_not_generic_secrets() {
    for text in [
        "password = \"aaaaaaaaaaaaaaaa\"",
        "api_key: your_api_key_here",
        "token=1111111111111111",
        "secret = \"[REDACTED:generic_api_key]\"",
        "idempotency_key = 123e4567-e89b-12d3-a456-426614174000",
    ] {
        assert!(scan(text).is_empty(), "{text}: {:?}", scan(text));
    }
}

#[test]
fn payment_cards_need_a_valid_luhn_digit() {
    for good in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",
        "378282246310005",
    ] {
        assert_eq!(
            only(&format!("card {good} exp")),
            ("payment_card".to_owned(), good.to_owned())
        );
    }
    for bad in [
        "4111111111111112",
        "4111 1111 1111 1112",
        "5555-5555-5555-4445",
        "378282246310006",
    ] {
        assert!(scan(&format!("card {bad} exp")).is_empty(), "{bad}");
    }
}

#[test]
fn ibans_need_a_valid_mod_97() {
    assert_eq!(
        only("pay GB82WEST12345698765432."),
        ("iban".to_owned(), "GB82WEST12345698765432".to_owned())
    );
    assert_eq!(
        only("DE89 3704 0044 0532 0130 00"),
        ("iban".to_owned(), "DE89 3704 0044 0532 0130 00".to_owned())
    );
    assert!(scan("pay GB81WEST12345698765432.").is_empty());
    assert!(scan("pay GB82WEST12345698765433.").is_empty());
}

#[test]
fn emails_and_phone_numbers() {
    assert_eq!(
        only("write to jane.doe+mcp@mail.example.co.uk today"),
        (
            "email".to_owned(),
            "jane.doe+mcp@mail.example.co.uk".to_owned()
        )
    );
    assert_eq!(
        only("call +44 20 7946 0958"),
        ("phone_number".to_owned(), "+44 20 7946 0958".to_owned())
    );
    assert_eq!(
        only("tel:+14155552671"),
        ("phone_number".to_owned(), "+14155552671".to_owned())
    );
    assert!(scan("not an address: user@localhost, a@b").is_empty());
}

#[test]
fn ordinary_text_and_identifiers_are_not_sensitive() {
    let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for text in [
        "The quick brown fox jumps over the lazy dog. Keys and tokens are discussed here.",
        "request 550e8400-e29b-41d4-a716-446655440000 finished",
        &format!("sha256:{sha}"),
        &format!("{{\"digest\": \"{sha}\"}}"),
        "at 2024-01-15T10:30:00.123+05:30 and 2024-01-15 10:30:00Z",
        "1700000000000 12345678901234567890 42 3.14159265358979 -17",
        "version 1.2.3, build 20240115, port 8080, pid 4111",
        "the api: see https://example.com/docs?page=2",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    ] {
        assert!(scan(text).is_empty(), "{text}: {:?}", scan(text));
    }
}

#[test]
fn credentials_win_over_personal_data_they_contain() {
    let url = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        "00000000",
        "00000000",
        body(24, 9)
    );
    let text = format!("{url}?from=ops@example.com");
    let findings = scan(&text);
    assert_eq!(detect::labels(&findings), ["email", "slack_webhook_url"]);
    let jwt = format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.{}", body(43, 15));
    // A card-shaped run inside a credential is the credential.
    let text = format!("token={jwt}4111111111111111 ");
    let labels = detect::labels(&scan(&text));
    assert!(!labels.contains(&"payment_card".to_owned()), "{labels:?}");
}

#[test]
fn json_redaction_keeps_structure_and_keys() {
    let mut value = json!({
        "content": [
            {"type": "text", "text": "key AKIAIOSFODNN7EXAMPLE, mail ops@example.com"},
            {"type": "text", "text": "nothing here"}
        ],
        "ops@example.com": {"iban": "GB82WEST12345698765432", "n": 7, "ok": true, "none": null}
    });
    let found = scan_json(&value);
    let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "/content/0/text",
            "/content/0/text",
            "/ops@example.com/iban"
        ]
    );
    assert_eq!(redact_json(&mut value), ["aws_access_key", "email", "iban"]);
    assert_eq!(
        value,
        json!({
            "content": [
                {"type": "text", "text": "key [REDACTED:aws_access_key], mail [REDACTED:email]"},
                {"type": "text", "text": "nothing here"}
            ],
            "ops@example.com": {"iban": "[REDACTED:iban]", "n": 7, "ok": true, "none": null}
        })
    );
    assert!(scan_json(&value).is_empty());
}

#[test]
fn findings_are_sorted_and_disjoint() {
    let samples = credential_samples();
    let text: String = samples
        .iter()
        .map(|(_, t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let text =
        format!("{text} ops@example.com +44 20 7946 0958 4111111111111111 GB82WEST12345698765432");
    let findings = scan(&text);
    assert!(
        findings.windows(2).all(|w| w[0].end <= w[1].start),
        "{findings:?}"
    );
    assert_eq!(findings.len(), samples.len() + 4);
}

/// Past proptest failures: each found a candidate that a neighbour hid, and
/// redacting the neighbour exposed it on a second scan.
#[test]
fn redaction_exposes_nothing_that_a_neighbour_hid() {
    let sample = |label: &str| {
        credential_samples()
            .into_iter()
            .find(|(l, _, _)| l == &label)
            .unwrap()
            .1
    };
    let glued = [
        format!("{}+44 20 7946 0958", sample("slack_token")),
        "+44 20 7946 0958ops@example.com".to_owned(),
        format!(
            "{}api_key = client_secret = \"{}\"",
            sample("jwt"),
            body(24, 16)
        ),
        format!("{}4111 1111 1111 1111", sample("github_oauth")),
        "GB82WEST12345698765432 GB82WEST12345698765432 ".to_owned(),
        "ops@example.com.GB82WEST12345698765432".to_owned(),
    ];
    for text in glued {
        let findings = scan(&text);
        let once = redact(&text, &findings);
        assert_eq!(scan(&once), [], "{text:?} became {once:?}");
    }
}

/// Text built from pieces that detectors care about, glued in arbitrary ways.
fn fragment() -> impl Strategy<Value = String> {
    let samples: Vec<String> = credential_samples()
        .into_iter()
        .map(|(_, t, _)| t)
        .collect();
    prop_oneof![
        proptest::sample::select(samples),
        proptest::sample::select(vec![
            "ops@example.com".to_owned(),
            "4111 1111 1111 1111".to_owned(),
            "+44 20 7946 0958".to_owned(),
            "GB82WEST12345698765432".to_owned(),
            "api_key = ".to_owned(),
            "\"".to_owned(),
            "=".to_owned(),
            "[REDACTED:".to_owned(),
            "]".to_owned(),
            " ".to_owned(),
            "é".to_owned(),
        ]),
        "[a-zA-Z0-9+@._=:/ -]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn redaction_is_idempotent_on_glued_fragments(parts in proptest::collection::vec(fragment(), 0..8)) {
        let text = parts.concat();
        let findings = scan(&text);
        for f in &findings {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end) && f.start < f.end);
        }
        let once = redact(&text, &findings);
        prop_assert_eq!(scan(&once), Vec::<Finding>::new(), "text {:?} became {:?}", text, once);
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>(), start in 0usize..64, end in 0usize..64) {
        let findings = scan(&text);
        let once = redact(&text, &findings);
        prop_assert!(scan(&once).is_empty());
        // Arbitrary offsets, even inside a character or past the end, are safe.
        let odd = [Finding { label: "x".to_owned(), kind: LabelKind::PersonalData, start, end }];
        let _ = redact(&text, &odd);
    }
}

/// Rough throughput on 1 MiB of mixed text; run with
/// `cargo test --release -p mandate-audit --test detect -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a check"]
fn throughput() {
    let samples = credential_samples();
    let mut text = String::new();
    let prose = "The deployment finished at 2024-01-15T10:30:00Z with request id 550e8400-e29b-41d4-a716-446655440000; the api token count was 1234 and the key results are below. ";
    let mut i = 0;
    while text.len() < 1 << 20 {
        text.push_str(prose);
        if i % 20 == 0 {
            text.push_str(&samples[i / 20 % samples.len()].1);
            text.push_str(" ops@example.com 4111 1111 1111 1111 ");
        }
        i += 1;
    }
    let mb = text.len() as f64 / (1024.0 * 1024.0);
    let _ = scan(&text);
    let start = std::time::Instant::now();
    let rounds = 5;
    let mut n = 0;
    for _ in 0..rounds {
        n = scan(&text).len();
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "scan: {mb:.2} MiB mixed text, {n} findings, {:.1} ms, {:.0} MiB/s",
        secs * 1e3,
        mb / secs
    );
    let clean = prose.repeat((1 << 20) / prose.len());
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        let _ = scan(&clean);
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "scan: 1 MiB clean prose, {:.1} ms, {:.0} MiB/s",
        secs * 1e3,
        1.0 / secs
    );
}
