//! Fixed texts returned by `get_report` and `read_config`.
//! Both are constant so benchmarks and redaction tests see the same bytes every run.

use std::fmt::Write;

/// A fake configuration file with credential-shaped values in it.
///
/// The key pair is AWS's documented example pair, not a real credential;
/// secret-redaction tests look for these exact strings.
pub(crate) const CONFIG: &str = "\
# demo service configuration
region = \"eu-west-1\"
aws_access_key_id = \"AKIAIOSFODNN7EXAMPLE\"
aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"
support_contact = \"ops@example.com\"
max_connections = 32
";

/// Monthly figures for the report: (month, new customers, revenue in euros).
const MONTHS: [(&str, u32, u32); 12] = [
    ("January", 12, 4_180),
    ("February", 9, 3_960),
    ("March", 15, 5_230),
    ("April", 11, 4_870),
    ("May", 18, 6_010),
    ("June", 14, 5_540),
    ("July", 7, 3_420),
    ("August", 6, 3_180),
    ("September", 17, 5_890),
    ("October", 19, 6_450),
    ("November", 13, 5_120),
    ("December", 10, 4_760),
];

/// The yearly report: a plain-text table of about 1 KiB, the same every time.
pub(crate) fn report() -> String {
    let mut text = String::with_capacity(1100);
    text.push_str("Demo Co. yearly report\n");
    text.push_str("======================\n\n");
    text.push_str("month        new customers   revenue (EUR)   running total\n");
    text.push_str("-----------------------------------------------------------\n");
    let mut total: u32 = 0;
    let mut customers: u32 = 0;
    for (month, new, revenue) in MONTHS {
        total += revenue;
        customers += new;
        // Writing to a `String` cannot fail.
        let _ = writeln!(text, "{month:<12} {new:>13}   {revenue:>13}   {total:>13}");
    }
    text.push_str("-----------------------------------------------------------\n");
    let _ = writeln!(text, "{:<12} {customers:>13}   {total:>13}", "total");
    text.push_str("\nAll figures are invented for the demo and carry no meaning.\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_is_about_one_kib_and_stable() {
        let first = report();
        assert!((900..=1200).contains(&first.len()), "{}", first.len());
        assert_eq!(first, report());
    }

    #[test]
    fn config_holds_the_values_redaction_tests_look_for() {
        assert!(CONFIG.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(CONFIG.contains("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        assert!(CONFIG.contains("ops@example.com"));
    }
}
