//! Signed checkpoints: the log's size, Merkle root and time as a C2SP signed note.
//!
//! A [`Checkpoint`]'s body is the c2sp.org/tlog-checkpoint text: the origin, the
//! tree size in decimal, the base64 root hash, then one extension line of ours,
//! `time <unix seconds>`, each ending in a newline. A [`NoteSigner`] signs that
//! body as a c2sp.org/signed-note with an Ed25519 key: the body, a blank line,
//! then `— <key name> <base64(key id ‖ signature)>`. A [`NoteVerifier`], built
//! from a verifier key `<name>+<hex key id>+<base64(0x01 ‖ public key)>` as
//! golang.org/x/mod/sumdb/note writes it, checks a note and hands back the
//! checkpoint, so any signed-note tool can check Mandate's checkpoints.

use crate::EventHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Starts every signature line: U+2014 EM DASH, then a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// The signed-note signature type of Ed25519 keys.
const ALG_ED25519: u8 = 0x01;
/// Starts our one extension line.
const TIME_PREFIX: &str = "time ";
/// The most signature lines a note may hold (the spec asks to accept at least 16).
const MAX_SIGNATURES: usize = 100;

/// A checkpoint could not be signed, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// A key name is empty or holds a space, a `+` or a control character.
    #[error(
        "invalid key name `{0}`: it must be non-empty, with no spaces, `+` or control characters"
    )]
    BadKeyName(String),
    /// A verifier key is not `<name>+<hex key id>+<base64(0x01 ‖ Ed25519 public key)>`.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(&'static str),
    /// A verifier key's id is not the one its name and public key give.
    #[error("verifier key id `{0}` does not match its name and public key")]
    KeyIdMismatch(String),
    /// The text is not a signed note.
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The note's signed body is not a checkpoint as Mandate writes them.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The note holds no signature line by the verifier's key (name and key id).
    #[error("no signature by key `{0}`")]
    NoSignature(String),
    /// A signature line by the verifier's key does not verify.
    #[error("invalid signature by key `{0}`")]
    BadSignature(String),
}

/// A signed statement that the log held `size` events with Merkle root `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name, first line of the body; a non-empty line without control characters.
    pub origin: String,
    /// The tree size: how many events the root covers.
    pub size: u64,
    /// The RFC 9162 Merkle root over the first `size` events.
    pub root: EventHash,
    /// When it was signed, in Unix seconds (our `time` extension line).
    pub time: i64,
}

impl Checkpoint {
    /// The note body: origin, size, base64 root and `time <unix seconds>`, each line ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{TIME_PREFIX}{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.as_bytes()),
            self.time
        )
    }

    /// Parses a body that [`Checkpoint::body`] could have written, and nothing else.
    fn parse(body: &str) -> Result<Self, CheckpointError> {
        let malformed = CheckpointError::MalformedCheckpoint;
        let text = body
            .strip_suffix('\n')
            .ok_or(malformed("the body does not end in a newline"))?;
        let mut lines = text.split('\n');
        let mut line = |what| match lines.next() {
            Some(line) if !line.is_empty() => Ok(line),
            _ => Err(malformed(what)),
        };
        let origin = line("missing origin line")?;
        let size = line("missing tree size line")?;
        let root = line("missing root hash line")?;
        let time = line("missing `time` extension line")?;
        if lines.next().is_some() {
            return Err(malformed("unexpected line after the `time` line"));
        }
        let size = decimal_u64(size).ok_or(malformed("tree size is not a canonical decimal"))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(EventHash::from_bytes)
            .ok_or(malformed("root hash is not 32 bytes of standard base64"))?;
        let time = time
            .strip_prefix(TIME_PREFIX)
            .and_then(decimal_i64)
            .ok_or(malformed("fourth line is not `time <unix seconds>`"))?;
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
        };
        // INVARIANT: a verified checkpoint re-encodes to exactly the bytes that were
        // signed, so there is one signed text per checkpoint.
        if checkpoint.body() != body {
            return Err(malformed("the body is not in canonical form"));
        }
        Ok(checkpoint)
    }
}

/// Signs checkpoints as signed notes with one named Ed25519 key.
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl NoteSigner {
    /// A signer under the key name `name` (by convention the log's origin).
    ///
    /// The name should pass [`NoteSigner::check_name`]: notes signed under a
    /// name that does not will never verify.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Self {
        let name = name.into();
        let key_id = key_id(&name, &key.verifying_key());
        Self { name, key_id, key }
    }

    /// Whether `name` can be a key name: non-empty, with no Unicode spaces,
    /// `+` or control characters.
    pub fn check_name(name: &str) -> Result<(), CheckpointError> {
        let bad = |c: char| c.is_whitespace() || c == '+' || c < ' ';
        if name.is_empty() || name.contains(bad) {
            return Err(CheckpointError::BadKeyName(name.to_owned()));
        }
        Ok(())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full signed note: `cp`'s body, a blank line and one signature line.
    ///
    /// `cp.origin` must be a non-empty line without control characters (a
    /// valid key name always is); otherwise the note will not verify.
    pub fn sign(&self, cp: &Checkpoint) -> String {
        let body = cp.body();
        let signature = self.key.sign(body.as_bytes());
        let line = signature_line(&self.name, self.key_id, &signature);
        format!("{body}\n{line}")
    }

    /// The verifier for this signer's notes.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

/// Checks signed notes against one named Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    // INVARIANT: `key_id` is `key_id(&name, &key)`; both constructors compute or check it.
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<8 hex digits key id>+<base64(0x01 ‖ public key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, CheckpointError> {
        let bad = CheckpointError::BadVerifierKey;
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected `<name>+<key id>+<key>`"));
        };
        NoteSigner::check_name(name)?;
        let mut id = [0u8; 4];
        hex::decode_to_slice(id_hex, &mut id).map_err(|_| bad("key id is not 8 hex digits"))?;
        let bytes = BASE64
            .decode(key_b64)
            .map_err(|_| bad("key is not standard base64"))?;
        let Some((&alg, raw)) = bytes.split_first() else {
            return Err(bad("key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(bad("key type is not Ed25519 (0x01)"));
        }
        let raw = <[u8; 32]>::try_from(raw).map_err(|_| bad("Ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad("not an Ed25519 public key"))?;
        if key.is_weak() {
            return Err(bad("Ed25519 key has small order"));
        }
        if key_id(name, &key) != id {
            return Err(CheckpointError::KeyIdMismatch(id_hex.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The verifier key, `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(key)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id: the first 4 bytes of SHA-256(name ‖ `\n` ‖ 0x01 ‖ public key).
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks that `note` is a well-formed signed note holding a valid
    /// signature by this key, and returns the checkpoint it signs.
    ///
    /// Other keys' signature lines are ignored (they must still be well
    /// formed); every line with this key's name and key id must verify.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let body = self.open(note)?;
        Checkpoint::parse(body)
    }

    /// The signed text of `note`, once a signature line by this key verifies.
    fn open<'a>(&self, note: &'a str) -> Result<&'a str, CheckpointError> {
        let malformed = CheckpointError::MalformedNote;
        if note.contains(|c: char| c < ' ' && c != '\n') {
            return Err(malformed("control character other than newline"));
        }
        // The body ends at the last blank line, and keeps its final newline.
        let (head, signatures) = note
            .rsplit_once("\n\n")
            .ok_or(malformed("no blank line before the signatures"))?;
        let body = note
            .get(..head.len().saturating_add(1))
            .ok_or(malformed("no blank line before the signatures"))?;
        let signatures = signatures
            .strip_suffix('\n')
            .ok_or(malformed("the signatures do not end in a newline"))?;
        let mut found = false;
        for (count, line) in signatures.split('\n').enumerate() {
            if count >= MAX_SIGNATURES {
                return Err(malformed("too many signatures"));
            }
            let (name, id, signature) = parse_signature_line(line)?;
            if name != self.name || id != self.key_id {
                continue;
            }
            let bad = || CheckpointError::BadSignature(self.display_key());
            let signature = Signature::from_slice(&signature).map_err(|_| bad())?;
            self.key
                .verify_strict(body.as_bytes(), &signature)
                .map_err(|_| bad())?;
            found = true;
        }
        if !found {
            return Err(CheckpointError::NoSignature(self.display_key()));
        }
        Ok(body)
    }

    /// `<name>+<hex key id>`, how errors name this key.
    fn display_key(&self) -> String {
        format!("{}+{}", self.name, hex::encode(self.key_id))
    }
}

/// SHA-256(name ‖ `\n` ‖ 0x01 ‖ public key)[..4]: a signed-note Ed25519 key id.
fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(key.as_bytes())
        .finalize()
        .into();
    let [a, b, c, d, ..] = digest;
    [a, b, c, d]
}

/// `— <name> <base64(key id ‖ signature)>\n`.
fn signature_line(name: &str, key_id: [u8; 4], signature: &Signature) -> String {
    let mut bytes = key_id.to_vec();
    bytes.extend_from_slice(&signature.to_bytes());
    format!("{SIG_PREFIX}{name} {}\n", BASE64.encode(bytes))
}

/// Splits one signature line (without its newline) into key name, key id and signature.
fn parse_signature_line(line: &str) -> Result<(&str, [u8; 4], Vec<u8>), CheckpointError> {
    let malformed = CheckpointError::MalformedNote;
    let (name, b64) = line
        .strip_prefix(SIG_PREFIX)
        .and_then(|rest| rest.split_once(' '))
        .ok_or(malformed(
            "a signature line is not `— <key name> <signature>`",
        ))?;
    NoteSigner::check_name(name)
        .map_err(|_| malformed("a signature line has an invalid key name"))?;
    let bytes = BASE64
        .decode(b64)
        .map_err(|_| malformed("a signature is not standard base64"))?;
    match bytes.split_first_chunk::<4>() {
        Some((id, signature)) if !signature.is_empty() => Ok((name, *id, signature.to_vec())),
        _ => Err(malformed("a signature is shorter than 5 bytes")),
    }
}

/// `s` as a `u64` written in ASCII decimal with no sign and no leading zeros.
fn decimal_u64(s: &str) -> Option<u64> {
    canonical_digits(s).then(|| s.parse().ok()).flatten()
}

/// `s` as an `i64` written as [`i64`]'s `Display` writes it.
fn decimal_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let negative_zero = digits == "0" && digits.len() != s.len();
    (canonical_digits(digits) && !negative_zero)
        .then(|| s.parse().ok())
        .flatten()
}

/// Whether `s` is non-empty ASCII digits without a leading zero (other than `0` itself).
fn canonical_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From golang.org/x/mod/sumdb/note's tests: the reference implementation's vectors.
    const PETER_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> NoteSigner {
        let seed = BASE64.decode(PETER_SEED).unwrap();
        assert_eq!(seed[0], ALG_ED25519);
        let seed: [u8; 32] = seed[1..].try_into().unwrap();
        NoteSigner::new("PeterNeumann", SigningKey::from_bytes(&seed))
    }

    #[test]
    fn key_id_and_vkey_match_the_go_reference() {
        let signer = peter();
        assert_eq!(signer.verifier().vkey(), PETER_VKEY);
        assert_eq!(
            NoteVerifier::from_vkey(PETER_VKEY).unwrap(),
            signer.verifier()
        );
    }

    #[test]
    fn signature_line_matches_the_go_reference() {
        let signer = peter();
        let signature = signer.key.sign(GO_TEXT.as_bytes());
        assert_eq!(
            signature_line(signer.name(), signer.key_id, &signature),
            PETER_SIG
        );
    }

    #[test]
    fn open_accepts_go_notes_signed_by_either_key() {
        let note = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        for vkey in [PETER_VKEY, ENOCH_VKEY] {
            let verifier = NoteVerifier::from_vkey(vkey).unwrap();
            assert_eq!(verifier.open(&note).unwrap(), GO_TEXT);
        }
        // The Go tests' malformed notes.
        let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        for bad in [
            GO_TEXT.to_owned(),
            format!("{GO_TEXT}\n"),
            format!("{GO_TEXT}\n{}", PETER_SIG.trim_end_matches('\n')),
            format!("\x01{GO_TEXT}\n{PETER_SIG}"),
            format!(
                "{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
            format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101)),
        ] {
            assert!(
                matches!(peter.open(&bad), Err(CheckpointError::MalformedNote(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn body_is_the_tlog_checkpoint_text() {
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 0,
            root: EventHash::from_bytes([0; 32]),
            time: -1,
        };
        let body = cp.body();
        assert_eq!(
            body,
            "example.com/log\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ntime -1\n"
        );
        assert_eq!(Checkpoint::parse(&body).unwrap(), cp);
    }

    #[test]
    fn parse_rejects_non_canonical_bodies() {
        let root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        for bad in [
            format!("o\n0\n{root}\ntime 1"),
            format!("o\n0\n{root}\n"),
            format!("\n0\n{root}\ntime 1\n"),
            format!("o\n00\n{root}\ntime 1\n"),
            format!("o\n+1\n{root}\ntime 1\n"),
            format!("o\n18446744073709551616\n{root}\ntime 1\n"),
            "o\n1\nAAAA\ntime 1\n".to_owned(),
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\ntime 1\n".to_owned(),
            format!("o\n1\n{root}\ntime -0\n"),
            format!("o\n1\n{root}\ntime 01\n"),
            format!("o\n1\n{root}\ntime  1\n"),
            format!("o\n1\n{root}\nwhen 1\n"),
            format!("o\n1\n{root}\ntime 1\nmore\n"),
            format!("o\n1\n{root}\ntime 1\n\n"),
        ] {
            assert!(
                matches!(
                    Checkpoint::parse(&bad),
                    Err(CheckpointError::MalformedCheckpoint(_))
                ),
                "{bad:?}"
            );
        }
        let extremes = format!("o\n18446744073709551615\n{root}\ntime -9223372036854775808\n");
        let cp = Checkpoint::parse(&extremes).unwrap();
        assert_eq!((cp.size, cp.time), (u64::MAX, i64::MIN));
    }

    #[test]
    fn key_names_follow_the_signed_note_rules() {
        for good in ["a", "example.com/log-1", "ünïcode"] {
            assert!(NoteSigner::check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\nb",
            "a\u{1}b",
        ] {
            assert!(NoteSigner::check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn from_vkey_rejects_manglings() {
        assert!(NoteVerifier::from_vkey(PETER_VKEY).is_ok());
        let bytes = PETER_VKEY.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] = b[i].wrapping_add(1);
            if let Ok(s) = String::from_utf8(b) {
                assert!(NoteVerifier::from_vkey(&s).is_err(), "{s}");
            }
            assert!(NoteVerifier::from_vkey(&PETER_VKEY[..i]).is_err());
            assert!(NoteVerifier::from_vkey(&PETER_VKEY[i + 1..]).is_err());
        }
        // The Go tests' wrong-length and unknown-algorithm keys, each with a matching key id.
        for bad in [
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(matches!(
                NoteVerifier::from_vkey(bad),
                Err(CheckpointError::BadVerifierKey(_))
            ));
        }
    }
}
