//! Personal data detectors: e-mail addresses, payment card numbers, phone numbers and IBANs.
//!
//! Each finds candidates with a regex, then checks what a regex cannot: the Luhn
//! and mod-97 check digits, known card prefixes and IBAN lengths, digit counts.

use super::{Candidate, DetectError, LabelKind};
use regex::bytes::{Regex, RegexBuilder};

/// The labels these detectors produce.
pub(crate) const LABELS: [&str; 4] = ["email", "payment_card", "phone_number", "iban"];

/// Countries with an IBAN; literals let the regex engine skip ahead to them.
const IBAN_COUNTRIES: &str = "AD|AE|AL|AT|AZ|BA|BE|BG|BH|BR|BY|CH|CR|CY|CZ|DE|DK|DO|EE|EG|ES|FI|FO|FR|GB|GE|GI|GL|GR|GT|HR|HU|IE|IL|IQ|IS|IT|JO|KW|KZ|LB|LC|LI|LT|LU|LV|MC|MD|ME|MK|MR|MT|MU|NL|NO|PK|PL|PS|PT|QA|RO|RS|SA|SC|SE|SI|SK|SM|ST|SV|TL|TN|TR|UA|VA|VG|XK";

/// Rank of personal data candidates: after every credential rule.
const RANK: usize = usize::MAX;

/// The compiled personal data detectors.
#[derive(Debug)]
pub(crate) struct Personal {
    email: Regex,
    card: Regex,
    phone: Regex,
    iban: Regex,
}

impl Personal {
    pub(crate) fn new() -> Result<Personal, DetectError> {
        Ok(Personal {
            email: build(
                "email",
                r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}",
            )?,
            card: build("payment_card", r"[0-9](?:[ -]?[0-9]){12,40}")?,
            phone: build("phone_number", r"\+[1-9][0-9 ().-]{6,24}[0-9]")?,
            iban: build(
                "iban",
                &format!(r"(?:{IBAN_COUNTRIES})[0-9]{{2}}(?: ?[A-Z0-9]){{11,40}}"),
            )?,
        })
    }

    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        let bytes = text.as_bytes();
        if bytes.contains(&b'@') {
            each(&self.email, bytes, "email", out, |start, end| {
                email_end(bytes, start, end).map_or((None, end), |stop| (Some((start, stop)), stop))
            });
        }
        each(&self.card, bytes, "payment_card", out, |start, end| {
            // A window never spans the match's last group, so a card cut by the
            // 41-digit cap is found again from there.
            let last = bytes
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .rposition(|b| !b.is_ascii_digit());
            let resume = last.map_or(end, |i| start.saturating_add(i).saturating_add(1));
            card_in(bytes, start, end).map_or((None, resume), |found| (Some(found), found.1))
        });
        if bytes.contains(&b'+') {
            each(&self.phone, bytes, "phone_number", out, |start, end| {
                phone_end(bytes, start, end).map_or((None, end), |stop| (Some((start, stop)), stop))
            });
        }
        each(&self.iban, bytes, "iban", out, |start, end| {
            // A rejected run may still hold an IBAN further in: look again from the next byte.
            iban_end(bytes, start, end).map_or((None, start), |stop| (Some((start, stop)), stop))
        });
    }
}

/// Runs `check` on each regex match; it returns the span found (if any) and where to look next.
fn each(
    regex: &Regex,
    bytes: &[u8],
    label: &str,
    out: &mut Vec<Candidate>,
    mut check: impl FnMut(usize, usize) -> (Option<(usize, usize)>, usize),
) {
    let mut at = 0;
    while let Some(m) = regex.find_at(bytes, at) {
        let (found, resume) = check(m.start(), m.end());
        out.extend(found.map(|(start, end)| candidate(label, start, end)));
        // INVARIANT: the search moves forward, so the loop ends.
        at = resume.max(m.start().saturating_add(1));
    }
}

fn build(name: &str, pattern: &str) -> Result<Regex, DetectError> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .map_err(|e| DetectError::BadRegex {
            rule: name.to_owned(),
            reason: e.to_string(),
        })
}

fn candidate(label: &str, start: usize, end: usize) -> Candidate {
    Candidate {
        label: label.to_owned(),
        kind: LabelKind::PersonalData,
        start,
        end,
        rank: RANK,
    }
}

fn byte_at(bytes: &[u8], at: usize) -> Option<u8> {
    bytes.get(at).copied()
}

fn before(bytes: &[u8], start: usize) -> Option<u8> {
    start.checked_sub(1).and_then(|i| byte_at(bytes, i))
}

fn is_word(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether the match starting at `start` is glued to a word (or a redaction
/// marker) before it. Markers count as words so that redacting a neighbour
/// never turns a rejected candidate into a finding on a second scan.
fn glued_before(bytes: &[u8], start: usize) -> bool {
    let prev = before(bytes, start);
    if prev == Some(b']') {
        let head = bytes.get(..start.saturating_sub(1)).unwrap_or_default();
        let label_len = head
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'_')
            .count();
        return head
            .get(..head.len().saturating_sub(label_len))
            .is_some_and(|h| h.ends_with(b"[REDACTED:"));
    }
    is_word(prev)
}

/// Whether the match ending at `end` is glued to a word (or a redaction marker) after it.
fn glued_after(bytes: &[u8], end: usize) -> bool {
    is_word(byte_at(bytes, end))
        || bytes
            .get(end..)
            .is_some_and(|t| t.starts_with(b"[REDACTED:"))
}

/// Where the e-mail address matched at `start..end` ends: dropping trailing
/// domain labels until it stands alone (`a@b.com.GB82…` is `a@b.com`), and
/// not an image name like `icon@2x.png`.
fn email_end(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    let at = start.checked_add(bytes.get(start..end)?.iter().position(|&b| b == b'@')?)?;
    let mut stop = end;
    while glued_after(bytes, stop) {
        let dot = at.checked_add(bytes.get(at..stop)?.iter().rposition(|&b| b == b'.')?)?;
        let tld_start = bytes.get(at..dot)?.iter().rposition(|&b| b == b'.')?;
        let tld = bytes.get(at.checked_add(tld_start)?.checked_add(1)?..dot)?;
        if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        stop = dot;
    }
    let tail = bytes
        .get(stop.saturating_sub(5)..stop)?
        .to_ascii_lowercase();
    let file_like = [&b".png"[..], b".jpg", b".jpeg", b".gif", b".svg", b".webp"];
    (!file_like.iter().any(|ext| tail.ends_with(ext))).then_some(stop)
}

/// The card number inside a run of digits and single separators: the longest
/// window of whole digit groups with a known issuer prefix, length and Luhn sum.
fn card_in(bytes: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let span = bytes.get(start..end)?;
    // The match's digits, and digit groups as (first digit, digit count, byte start, byte end).
    let digits: Vec<u8> = span
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect();
    if digits.len() < 13 {
        return None;
    }
    let mut groups: Vec<(usize, usize, usize)> = Vec::new();
    let (mut first_digit, mut group_start) = (0, start);
    for (i, &b) in span.iter().enumerate() {
        if !b.is_ascii_digit() {
            let at = start.saturating_add(i);
            let count = at.saturating_sub(group_start);
            groups.push((first_digit, group_start, at));
            first_digit = first_digit.saturating_add(count);
            group_start = at.saturating_add(1);
        }
    }
    groups.push((first_digit, group_start, end));
    // Inner groups touch separators; the outer ones whatever surrounds the match.
    let first_alone = !glued_before(bytes, start) && before(bytes, start) != Some(b'.');
    let last_alone = !glued_after(bytes, end);
    let mut best: Option<(usize, usize)> = None;
    for (i, &(from_digit, from, _)) in groups.iter().enumerate() {
        if from == start && !first_alone {
            continue;
        }
        let mut to_digit = from_digit;
        for &(_, group_from, to) in groups.iter().skip(i) {
            to_digit = to_digit.saturating_add(to.saturating_sub(group_from));
            if to == end && !last_alone {
                continue;
            }
            let window = digits.get(from_digit..to_digit).unwrap_or_default();
            let longer = best.is_none_or(|(s, e)| to.saturating_sub(from) > e.saturating_sub(s));
            if longer && card_number_ok(window) {
                best = Some((from, to));
            }
        }
    }
    best
}

/// Known issuer prefix and length, and a valid Luhn check digit.
pub(crate) fn card_number_ok(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && issuer_known(digits) && luhn_ok(digits)
}

fn issuer_known(digits: &[u8]) -> bool {
    let prefix = |n: usize| {
        digits
            .iter()
            .take(n)
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    let len = digits.len();
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        4 => matches!(len, 13 | 16 | 19),          // Visa
        5 if (51..=55).contains(&p2) => len == 16, // Mastercard
        2 if (2221..=2720).contains(&p4) || (2200..=2204).contains(&p4) => len == 16, // Mastercard, Mir
        3 if p2 == 34 || p2 == 37 => len == 15, // American Express
        3 if (3528..=3589).contains(&p4) => len >= 16, // JCB
        3 if (300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39) => len >= 14, // Diners Club
        6 if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) => len >= 16, // Discover
        6 if p2 == 62 => len >= 16,             // UnionPay
        5 | 6 => matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763), // Maestro
        _ => false,
    }
}

/// The Luhn (mod 10) check over decimal digits, check digit last.
pub(crate) fn luhn_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if !i.is_multiple_of(2) {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Where the phone number starting at `start` ends: the longest prefix of the
/// match that ends on a digit, stands alone, and passes [`phone_ok`].
fn phone_end(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    if glued_before(bytes, start) || before(bytes, start) == Some(b'+') {
        return None;
    }
    (start..=end).rev().find(|&stop| {
        let last_is_digit = stop
            .checked_sub(1)
            .and_then(|i| byte_at(bytes, i))
            .is_some_and(|b| b.is_ascii_digit());
        let next = byte_at(bytes, stop);
        let alone = if stop == end {
            !glued_after(bytes, stop)
        } else {
            next.is_some_and(|b| !b.is_ascii_digit())
        };
        last_is_digit && alone && phone_ok(bytes.get(start..stop).unwrap_or_default())
    })
}

/// `+`, then 8 to 15 digits with single separators and at most one `(..)` pair.
fn phone_ok(span: &[u8]) -> bool {
    let digits = span.iter().filter(|b| b.is_ascii_digit()).count();
    let opens = span.iter().filter(|&&b| b == b'(').count();
    let closes = span.iter().filter(|&&b| b == b')').count();
    let doubled = span
        .windows(2)
        .any(|w| matches!(w, [a, b] if is_sep(*a) && is_sep(*b)));
    (8..=15).contains(&digits) && opens == closes && opens <= 1 && !doubled
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'-')
}

/// Where a valid IBAN starting at `start` ends: the country's length, mod-97 == 1.
fn iban_end(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    if glued_before(bytes, start) {
        return None;
    }
    let country = bytes.get(start..start.checked_add(2)?)?;
    let want = iban_length(country)?;
    let mut chars = Vec::with_capacity(want);
    let mut stop = start;
    for i in start..end {
        let b = byte_at(bytes, i)?;
        if b != b' ' {
            chars.push(b);
            if chars.len() == want {
                stop = i.checked_add(1)?;
                break;
            }
        }
    }
    if chars.len() != want || glued_after(bytes, stop) {
        return None;
    }
    iban_checksum_ok(&chars).then_some(stop)
}

/// ISO 13616 mod-97: move the first four characters to the end, letters to 10..35.
pub(crate) fn iban_checksum_ok(chars: &[u8]) -> bool {
    let (head, tail) = chars.split_at(chars.len().min(4));
    let mut rem: u32 = 0;
    for &b in tail.iter().chain(head) {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if value >= 10 {
            (rem * 100 + value) % 97
        } else {
            (rem * 10 + value) % 97
        };
    }
    chars.len() >= 15 && rem == 1
}

/// The IBAN length for a country (SWIFT IBAN registry).
fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        _ => return None,
    };
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    fn found(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        Personal::new().unwrap().scan(text, &mut out);
        out.into_iter()
            .map(|c| (c.label, text.get(c.start..c.end).unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok(&digits("4111111111111111")));
        assert!(luhn_ok(&digits("79927398713")));
        assert!(!luhn_ok(&digits("4111111111111112")));
        assert!(!luhn_ok(&[]));
    }

    #[test]
    fn issuers() {
        for good in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "3566002020360505",
            "2223003122003222",
            "30569309025904",
        ] {
            assert!(card_number_ok(&digits(good)), "{good}");
        }
        // Luhn-valid but no known issuer prefix.
        assert!(!card_number_ok(&digits("1234567812345670")));
    }

    #[test]
    fn iban_checksum() {
        assert!(iban_checksum_ok(b"GB82WEST12345698765432"));
        assert!(!iban_checksum_ok(b"GB83WEST12345698765432"));
        assert!(!iban_checksum_ok(b"GB82"));
    }

    #[test]
    fn card_window_skips_neighbouring_numbers() {
        assert_eq!(
            found("order 12 4111 1111 1111 1111 2024"),
            vec![("payment_card".to_owned(), "4111 1111 1111 1111".to_owned())]
        );
    }

    #[test]
    fn phone_shapes() {
        assert_eq!(
            found("call +1 (415) 555-2671."),
            vec![("phone_number".to_owned(), "+1 (415) 555-2671".to_owned())]
        );
        assert!(found("x+14155552671").is_empty());
        assert!(found("+1 415").is_empty());
        assert!(found("+1--415-555-2671").is_empty());
    }

    #[test]
    fn iban_stops_at_its_length() {
        assert_eq!(
            found("to GB82 WEST 1234 5698 7654 32 today"),
            vec![("iban".to_owned(), "GB82 WEST 1234 5698 7654 32".to_owned())]
        );
        assert!(found("XX82WEST12345698765432").is_empty());
    }

    #[test]
    fn email_not_image_names() {
        assert!(found("icon@2x.png").is_empty());
        assert_eq!(
            found("mail a.b+c@mail.example.org!"),
            vec![("email".to_owned(), "a.b+c@mail.example.org".to_owned())]
        );
    }

    #[test]
    fn brackets_are_boundaries_but_redaction_markers_glue() {
        assert_eq!(found("[ops@example.com]").len(), 1);
        assert_eq!(found("[4111111111111111]").len(), 1);
        assert_eq!(found("[+44 20 7946 0958]").len(), 1);
        assert!(found("[REDACTED:x]+44 20 7946 0958").is_empty());
        assert!(found("4111111111111111[REDACTED:email]").is_empty());
    }

    #[test]
    fn email_drops_glued_domain_labels() {
        assert_eq!(
            found("ops@example.com.GB82x"),
            vec![("email".to_owned(), "ops@example.com".to_owned())]
        );
        assert!(found("ops@example.GB82x").is_empty());
        assert!(found("ops@example.comx1").is_empty());
    }

    #[test]
    fn every_iban_country_has_a_length() {
        for country in IBAN_COUNTRIES.split('|') {
            assert!(iban_length(country.as_bytes()).is_some(), "{country}");
        }
        assert_eq!(IBAN_COUNTRIES.split('|').count(), 77);
    }
}
