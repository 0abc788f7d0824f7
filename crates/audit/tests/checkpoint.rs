//! Signed checkpoints against a known answer computed elsewhere (python3
//! `cryptography` and `hashlib`, the same script reproducing the signature in
//! golang.org/x/mod/sumdb/note's tests), then round trips, and proofs that a
//! change to any byte of a note, or a note by any other key, does not verify.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use mandate_audit::{Checkpoint, CheckpointError, EventHash, NoteSigner, NoteVerifier};
use proptest::prelude::*;

const NAME: &str = "mandate.local/gw-1";

/// The key from seed 0x00, 0x01, …, 0x1f.
fn fixed_signer() -> NoteSigner {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    NoteSigner::new(NAME, SigningKey::from_bytes(&seed))
}

fn random_signer(name: &str) -> NoteSigner {
    NoteSigner::new(name, SigningKey::generate(&mut rand::rngs::OsRng))
}

fn fixed_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: NAME.to_owned(),
        size: 1_234_567,
        // SHA-256("mandate")
        root: "d959b638663f9a7de663a1be37e39bc5d820e3dbb3a31b0af1bad43e0c39fc69"
            .parse()
            .unwrap(),
        time: 1_700_000_000,
    }
}

/// The signature lines of `note`, after its blank line.
fn signature_lines(note: &str) -> &str {
    note.rsplit_once("\n\n").unwrap().1
}

#[test]
fn known_answer_matches_python_cryptography() {
    let signer = fixed_signer();
    assert_eq!(
        signer.verifier().vkey(),
        "mandate.local/gw-1+5ebe2796+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    );
    let note = signer.sign(&fixed_checkpoint());
    assert_eq!(
        note,
        "mandate.local/gw-1\n\
         1234567\n\
         2Vm2OGY/mn3mY6G+N+Obxdgg49uzoxsK8brUPgw5/Gk=\n\
         time 1700000000\n\
         \n\
         \u{2014} mandate.local/gw-1 Xr4nlrfIJ618vKybqPGCPI+raMyP2ptdUJKC3Ls74k/aPXSUitSVcnvuFGVzLQ/R9UGQ4UzRrRro6EYmzO2LlZHXJAo=\n"
    );
    assert_eq!(signer.verifier().verify(&note).unwrap(), fixed_checkpoint());
}

#[test]
fn sign_then_verify_round_trips() {
    let signer = random_signer(NAME);
    let cp = Checkpoint {
        origin: NAME.to_owned(),
        size: 0,
        root: EventHash::from_bytes([7; 32]),
        time: 0,
    };
    let note = signer.sign(&cp);
    assert_eq!(signer.verifier().verify(&note).unwrap(), cp);
}

#[test]
fn vkey_round_trips() {
    let verifier = random_signer("example.com/log+not").verifier();
    // `+` is not allowed in a key name: the vkey cannot be read back.
    assert!(NoteVerifier::from_vkey(&verifier.vkey()).is_err());
    assert!(NoteSigner::check_name("example.com/log+not").is_err());
    let verifier = random_signer(NAME).verifier();
    let vkey = verifier.vkey();
    let parsed = NoteVerifier::from_vkey(&vkey).unwrap();
    assert_eq!(parsed, verifier);
    assert_eq!(parsed.vkey(), vkey);
    assert_eq!(parsed.name(), NAME);
    // The same key under another name has another id.
    let (_, rest) = vkey.split_once('+').unwrap();
    assert!(matches!(
        NoteVerifier::from_vkey(&format!("other{NAME}+{rest}")),
        Err(CheckpointError::KeyIdMismatch(_))
    ));
}

#[test]
fn any_changed_character_is_rejected() {
    let signer = fixed_signer();
    let verifier = signer.verifier();
    let note = signer.sign(&fixed_checkpoint());
    for (i, c) in note.char_indices() {
        for replacement in ['A', 'B', '\n', ' ', '0'] {
            if replacement == c {
                continue;
            }
            let mut changed = note.clone();
            changed.replace_range(i..i + c.len_utf8(), replacement.encode_utf8(&mut [0; 4]));
            assert!(
                verifier.verify(&changed).is_err(),
                "changed {c:?} at {i} to {replacement:?}: {changed:?}"
            );
        }
    }
}

#[test]
fn tampered_body_signature_key_id_or_name_is_rejected() {
    let signer = fixed_signer();
    let verifier = signer.verifier();
    let note = signer.sign(&fixed_checkpoint());
    let (body, _) = note.split_once("\n\n").unwrap();
    let line = signature_lines(&note);
    let b64 = line.trim_end().rsplit_once(' ').unwrap().1;
    let raw = BASE64.decode(b64).unwrap();
    let resign = |raw: &[u8]| format!("{body}\n\n\u{2014} {NAME} {}\n", BASE64.encode(raw));
    assert!(verifier.verify(&resign(&raw)).is_ok());

    // Another body under the same signature.
    let other = fixed_checkpoint();
    for cp in [
        Checkpoint {
            size: other.size + 1,
            ..other.clone()
        },
        Checkpoint {
            time: other.time + 1,
            ..other.clone()
        },
        Checkpoint {
            origin: "mandate.local/gw-2".into(),
            ..other.clone()
        },
        Checkpoint {
            root: EventHash::from_bytes([0; 32]),
            ..other.clone()
        },
    ] {
        let forged = format!("{}\n{line}", cp.body());
        assert!(matches!(
            verifier.verify(&forged),
            Err(CheckpointError::BadSignature(_))
        ));
    }
    // Every bit of the signature.
    for i in 4..raw.len() {
        for bit in 0..8 {
            let mut bad = raw.clone();
            bad[i] ^= 1 << bit;
            assert!(matches!(
                verifier.verify(&resign(&bad)),
                Err(CheckpointError::BadSignature(_))
            ));
        }
    }
    // A truncated or extended signature.
    for bad in [&raw[..raw.len() - 1], &[raw.as_slice(), &[0]].concat()] {
        assert!(matches!(
            verifier.verify(&resign(bad)),
            Err(CheckpointError::BadSignature(_))
        ));
    }
    // Every bit of the key id: the line is another key's, and is ignored.
    for i in 0..4 {
        for bit in 0..8 {
            let mut bad = raw.clone();
            bad[i] ^= 1 << bit;
            let err = verifier.verify(&resign(&bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "no signature by key `mandate.local/gw-1+5ebe2796`"
            );
        }
    }
    // Another key name.
    let renamed = note.replace(&format!("\u{2014} {NAME} "), "\u{2014} mandate.local/gw-2 ");
    assert!(matches!(
        verifier.verify(&renamed),
        Err(CheckpointError::NoSignature(_))
    ));
}

#[test]
fn another_keys_signature_is_ignored() {
    let ours = fixed_signer().verifier();
    for theirs in [random_signer(NAME), random_signer("someone.else/log")] {
        let note = theirs.sign(&fixed_checkpoint());
        let err = ours.verify(&note).unwrap_err();
        assert!(matches!(err, CheckpointError::NoSignature(_)));
        assert!(err.to_string().starts_with("no signature by key"), "{err}");
    }
}

#[test]
fn a_note_with_two_signers_verifies_for_each() {
    let (a, b) = (fixed_signer(), random_signer("witness.example/w1"));
    let cp = fixed_checkpoint();
    let both = format!("{}{}", a.sign(&cp), signature_lines(&b.sign(&cp)));
    assert_eq!(both.matches('\u{2014}').count(), 2);
    for signer in [&a, &b] {
        assert_eq!(signer.verifier().verify(&both).unwrap(), cp);
    }
    let third = random_signer("third.example/log").verifier();
    assert!(matches!(
        third.verify(&both),
        Err(CheckpointError::NoSignature(_))
    ));

    // A bad line by our key fails the note even beside a good one.
    let b_on_other = b.sign(&Checkpoint {
        size: 1,
        ..cp.clone()
    });
    let mixed = format!("{both}{}", signature_lines(&b_on_other));
    assert!(a.verifier().verify(&mixed).is_ok());
    assert!(matches!(
        b.verifier().verify(&mixed),
        Err(CheckpointError::BadSignature(_))
    ));
}

#[test]
fn malformed_notes_are_rejected() {
    let signer = fixed_signer();
    let verifier = signer.verifier();
    let note = signer.sign(&fixed_checkpoint());
    let body = fixed_checkpoint().body();
    let line = signature_lines(&note);
    for (bad, why) in [
        (body.clone(), "no blank line"),
        (format!("{body}\n"), "no signatures"),
        (
            note.trim_end().to_owned(),
            "last signature line without newline",
        ),
        (
            format!("{note}trailing text\n"),
            "extra text after the signatures",
        ),
        (format!("{note}trailing"), "extra text without newline"),
        (format!("{note}\n{line}"), "blank line among the signatures"),
        (note.replacen('\u{2014}', "-", 1), "hyphen for em dash"),
        (
            note.replacen('\u{2014}', "\u{2014}\u{2014}", 1),
            "two em dashes",
        ),
        (note.replace(" Xr4n", "  Xr4n"), "two spaces"),
        (note.replace('=', ""), "unpadded base64"),
        (note.replace("Xr4n", "Xr4n!"), "bad base64"),
        (format!("\t{note}"), "control character"),
        (
            note.replacen("time 1700000000\n", "", 1),
            "missing time line",
        ),
        (note.replacen("1234567\n", "", 1), "missing size line"),
        (format!("\n{note}"), "empty origin"),
    ] {
        assert!(verifier.verify(&bad).is_err(), "{why}: {bad:?}");
    }
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        "[!-*,-~\u{a1}-\u{17f}]{1,40}",
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<i64>(),
    )
        .prop_map(|(origin, size, root, time)| Checkpoint {
            origin,
            size,
            root: EventHash::from_bytes(root),
            time,
        })
}

proptest! {
    #[test]
    fn arbitrary_text_never_verifies(text in any::<String>()) {
        let verifier = fixed_signer().verifier();
        prop_assert!(verifier.verify(&text).is_err());
    }

    #[test]
    fn note_shaped_text_never_verifies(
        text in "[a-z0-9/+= \n\u{2014}.-]{0,300}",
        line in "(\u{2014} mandate.local/gw-1 [A-Za-z0-9+/]{0,100}={0,2}\n){0,3}",
    ) {
        let verifier = fixed_signer().verifier();
        prop_assert!(verifier.verify(&text).is_err());
        let note = format!("{text}\n\n{line}");
        prop_assert!(verifier.verify(&note).is_err());
    }

    #[test]
    fn every_checkpoint_round_trips(cp in checkpoint()) {
        let signer = fixed_signer();
        let note = signer.sign(&cp);
        prop_assert_eq!(signer.verifier().verify(&note).unwrap(), cp);
    }

    #[test]
    fn any_inserted_or_removed_character_is_rejected(
        cp in checkpoint(),
        at in any::<prop::sample::Index>(),
        c in any::<char>(),
        insert in any::<bool>(),
    ) {
        let signer = fixed_signer();
        let note = signer.sign(&cp);
        let chars: Vec<char> = note.chars().collect();
        let i = at.index(chars.len());
        let mut changed = chars.clone();
        if insert {
            changed.insert(i, c);
        } else {
            changed.remove(i);
        }
        let changed: String = changed.into_iter().collect();
        prop_assert!(signer.verifier().verify(&changed).is_err(), "{:?}", changed);
    }
}
