//! Suspicious tool definitions: text aimed at the model rather than at the people reading
//! it (hidden characters, injection phrases, requests to read secret files or send secrets).
//!
//! Pure functions over a definition's strings. A heuristic, tuned to be quiet on ordinary
//! descriptions: a flagged tool is not refused for good, it waits for an operator to look.

use serde::Serialize;
use std::fmt;

/// What kind of thing a flag points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Characters or markup a human reader does not see: zero-width and bidi controls,
    /// HTML comments, long runs of blanks pushing text out of view.
    HiddenText,
    /// Characters of the Unicode tag block (U+E0000–U+E007F): invisible ASCII.
    UnicodeTags,
    /// Phrases that try to steer the model: "ignore previous instructions", "do not tell
    /// the user", `<IMPORTANT>`, talk of system prompts.
    Injection,
    /// Names of files that hold keys and secrets (`~/.ssh`, `id_rsa`, `.env`, `/etc/passwd`).
    SecretFile,
    /// Asks to send, pass or include secrets somewhere, or to exfiltrate.
    Exfiltration,
}

impl FlagKind {
    /// The kind's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::HiddenText => "hidden_text",
            FlagKind::UnicodeTags => "unicode_tags",
            FlagKind::Injection => "injection",
            FlagKind::SecretFile => "secret_file",
            FlagKind::Exfiltration => "exfiltration",
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One suspicious thing found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// What kind of thing.
    pub kind: FlagKind,
    /// Where, as a JSON path into the definition (`description`,
    /// `inputSchema.properties.note.description`).
    pub at: String,
    /// What was found, with invisible characters made visible.
    pub what: String,
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}: {}", self.kind, self.at, self.what)
    }
}

/// The longest excerpt a flag quotes, in characters.
const EXCERPT: usize = 60;

/// Every flag raised by any string (keys included) of a tool's definition.
pub fn review(definition: &rmcp::model::Tool) -> Vec<Flag> {
    let value = serde_json::to_value(definition).unwrap_or_default();
    let mut flags = Vec::new();
    walk(&value, "", &mut flags);
    flags
}

fn walk(value: &serde_json::Value, at: &str, flags: &mut Vec<Flag>) {
    let path = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        serde_json::Value::String(text) => {
            let place = if at.is_empty() { "definition" } else { at };
            flags.extend(review_text(text).into_iter().map(|(kind, what)| Flag {
                kind,
                at: place.to_owned(),
                what,
            }));
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}[{i}]"), flags);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                let here = path(key);
                flags.extend(review_text(key).into_iter().map(|(kind, what)| Flag {
                    kind,
                    at: format!("{here} (the key)"),
                    what,
                }));
                walk(item, &here, flags);
            }
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

/// The flags one piece of text raises, each with what was found; at most one per kind.
pub fn review_text(text: &str) -> Vec<(FlagKind, String)> {
    let mut found: Vec<(FlagKind, String)> = Vec::new();
    let mut add = |kind: FlagKind, what: String| {
        if !found.iter().any(|(k, _)| *k == kind) {
            found.push((kind, what));
        }
    };
    if let Some(what) = unicode_tags(text) {
        add(FlagKind::UnicodeTags, what);
    }
    if let Some(what) = hidden_characters(text).or_else(|| hidden_markup(text)) {
        add(FlagKind::HiddenText, what);
    }
    // Words are matched on what a model reads: invisible characters dropped, tags decoded.
    let readable = readable(text);
    if let Some(what) = injection(&readable) {
        add(FlagKind::Injection, what);
    }
    if let Some(what) = secret_file(&readable) {
        add(FlagKind::SecretFile, what);
    }
    if let Some(what) = exfiltration(&readable) {
        add(FlagKind::Exfiltration, what);
    }
    found
}

/// `text` with every invisible or control character written as `\u{…}`, safe to print.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if invisible(c).is_some() || (c.is_control() && c != '\n') {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// What an invisible character is, if `c` is one (tags excluded: they have their own flag).
fn invisible(c: char) -> Option<&'static str> {
    match u32::from(c) {
        0xE0000..=0xE007F => Some("a Unicode tag character"),
        0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x180E | 0x00AD | 0x034F => {
            Some("a zero-width character")
        }
        0x115F | 0x1160 | 0x3164 | 0xFFA0 => Some("a blank filler character"),
        0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C => {
            Some("a bidirectional control character")
        }
        0xE0100..=0xE01EF => Some("a variation selector that can carry hidden data"),
        0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x10_0000..=0x10_FFFD => {
            Some("a private-use character")
        }
        _ => None,
    }
}

/// Is `c` in the Unicode tag block?
fn is_tag(c: char) -> bool {
    (0xE0000..=0xE007F).contains(&u32::from(c))
}

fn unicode_tags(text: &str) -> Option<String> {
    let hidden: String = text
        .chars()
        .filter(|c| is_tag(*c))
        .map(|c| {
            char::from_u32(u32::from(c) - 0xE0000)
                .filter(|a| a.is_ascii_graphic() || *a == ' ')
                .unwrap_or('?')
        })
        .collect();
    (!hidden.is_empty()).then(|| format!("Unicode tag characters spelling `{}`", excerpt(&hidden)))
}

fn hidden_characters(text: &str) -> Option<String> {
    text.chars().filter(|c| !is_tag(*c)).find_map(|c| {
        let what = match invisible(c) {
            Some(what) => what,
            None if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => "a control character",
            None => return None,
        };
        Some(format!("{what} (U+{:04X})", u32::from(c)))
    })
}

/// Blank runs this long (or holding this many line breaks) before more text hide it.
const BLANK_RUN: usize = 16;
const BLANK_LINES: usize = 5;

fn hidden_markup(text: &str) -> Option<String> {
    if let Some(at) = text.find("<!--") {
        let comment = text.get(at..).unwrap_or_default();
        return Some(format!("an HTML comment `{}`", excerpt(comment)));
    }
    let mut run = 0usize;
    let mut lines = 0usize;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            run += 1;
            lines += usize::from(c == '\n');
            continue;
        }
        if run >= BLANK_RUN || lines >= BLANK_LINES {
            let after = text.get(i..).unwrap_or_default();
            return Some(format!(
                "{run} blank characters before `{}`, out of a reader's view",
                excerpt(after)
            ));
        }
        run = 0;
        lines = 0;
    }
    None
}

/// Lower case, invisible characters dropped, Unicode tags decoded, curly quotes straight.
fn readable(text: &str) -> String {
    text.chars()
        .filter_map(|c| match u32::from(c) {
            n @ 0xE0020..=0xE007E => char::from_u32(n - 0xE0000),
            _ if invisible(c).is_some() => None,
            _ => Some(match c {
                '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
                other => other,
            }),
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of lower-cased text: runs of letters, digits, `_` and `'`.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\''))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Phrases that address the model, matched on words joined by single spaces.
const INJECTION_PHRASES: &[&str] = &[
    "ignore the above",
    "disregard the above",
    "ignore everything",
    "forget everything",
    "do not tell the user",
    "don't tell the user",
    "dont tell the user",
    "never tell the user",
    "without telling the user",
    "without informing the user",
    "do not inform the user",
    "do not mention this",
    "don't mention this",
    "do not mention that",
    "never mention",
    "hide this from the user",
    "keep this from the user",
    "the user must not know",
    "the user should not know",
    "system prompt",
    "system message",
    "you are now",
    "new instructions",
    "your instructions",
    "your real task",
];

/// Verbs that, followed closely by an object below, tell the model to drop its orders.
const OVERRIDE_VERBS: &[&str] = &["ignore", "disregard", "forget", "override", "bypass"];
const OVERRIDE_OBJECTS: &[&str] = &["instruction", "prompt", "direction", "guideline"];

/// Tags in angle brackets that injected text uses to look authoritative.
const SHOUTING_TAGS: &[&str] = &[
    "important",
    "system",
    "instructions",
    "instruction",
    "secret",
    "hidden",
    "admin",
    "critical",
];

fn injection(readable: &str) -> Option<String> {
    let words = words(readable);
    let joined = format!(" {} ", words.join(" "));
    if let Some(phrase) = INJECTION_PHRASES
        .iter()
        .find(|p| joined.contains(&format!(" {p} ")))
    {
        return Some(format!("the phrase `{phrase}`"));
    }
    for (i, word) in words.iter().enumerate() {
        if OVERRIDE_VERBS.contains(word) {
            let mut near = words.iter().skip(i + 1).take(4);
            if let Some(object) = near.find(|w| OVERRIDE_OBJECTS.iter().any(|o| w.starts_with(o))) {
                return Some(format!("`{word} … {object}`"));
            }
        }
    }
    if let Some(tag) = shouting_tag(readable) {
        return Some(format!("the tag `<{tag}>`"));
    }
    readable
        .contains("<|")
        .then(|| "a chat-template token `<|`".to_owned())
}

/// The first `<tag>` or `</tag>` of [`SHOUTING_TAGS`] in lower-cased text.
fn shouting_tag(readable: &str) -> Option<&'static str> {
    readable.match_indices('<').find_map(|(at, _)| {
        let rest = readable.get(at + 1..)?;
        let rest = rest.strip_prefix('/').unwrap_or(rest).trim_start();
        let end = rest.find('>')?;
        let name = rest.get(..end)?.trim();
        SHOUTING_TAGS.iter().find(|t| **t == name).copied()
    })
}

/// Files that hold keys and secrets, matched in lower-cased text.
const SECRET_FILES: &[&str] = &[
    "~/.ssh",
    ".ssh/",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "id_dsa",
    "authorized_keys",
    "/etc/passwd",
    "/etc/shadow",
    ".aws/credentials",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".git-credentials",
    ".kube/config",
    ".docker/config.json",
    ".gnupg",
    ".bash_history",
    ".zsh_history",
    "mcp.json",
    "claude_desktop_config",
    "wallet.dat",
];

fn secret_file(readable: &str) -> Option<String> {
    if let Some(file) = SECRET_FILES.iter().find(|f| readable.contains(*f)) {
        return Some(format!("names the secret file `{file}`"));
    }
    // `.env` as a file of its own, not `process.env` or `.envelope`.
    let dotenv = readable.match_indices(".env").any(|(at, _)| {
        let before = readable.get(..at).and_then(|b| b.chars().last());
        let after = readable.get(at + 4..).and_then(|a| a.chars().next());
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    dotenv.then(|| "names the secret file `.env`".to_owned())
}

/// Verbs that move data somewhere.
const SEND_VERBS: &[&str] = &[
    "send",
    "pass",
    "include",
    "upload",
    "post",
    "forward",
    "transmit",
    "leak",
    "share",
    "copy",
    "attach",
    "embed",
    "append",
    "paste",
    "email",
    "exfiltrate",
];
/// Words naming secrets outright.
const SECRETS: &[&str] = &["secret", "password", "passwd", "passphrase", "credential"];
/// Words that make a following `key` or `token` a secret one.
const SECRET_QUALIFIERS: &[&str] = &[
    "api", "private", "secret", "access", "ssh", "signing", "auth", "bearer", "refresh", "session",
    "oauth",
];

fn exfiltration(readable: &str) -> Option<String> {
    if readable.contains("exfiltrat") {
        return Some("the word `exfiltrate`".to_owned());
    }
    let words = words(readable);
    for (i, verb) in words.iter().enumerate() {
        if !SEND_VERBS.contains(verb) {
            continue;
        }
        let window = words.iter().enumerate().skip(i + 1).take(8);
        for (j, word) in window {
            let qualified = matches!(*word, "key" | "keys" | "token" | "tokens")
                && j.checked_sub(1)
                    .and_then(|k| words.get(k))
                    .is_some_and(|prev| SECRET_QUALIFIERS.contains(prev));
            if qualified || SECRETS.iter().any(|s| word.starts_with(s)) {
                return Some(format!("`{verb} … {word}`"));
            }
        }
    }
    None
}

/// The start of `text`, at most [`EXCERPT`] characters, made visible.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(EXCERPT).collect();
    if text.chars().nth(EXCERPT).is_some() {
        short.push('…');
    }
    visible(&short)
}

#[cfg(test)]
mod tests;
