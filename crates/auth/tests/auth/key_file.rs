//! The signing key file: created private, reloaded as the same key, and
//! refused when it is not what it should be.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use mandate_auth::{KeyError, TokenIssuer, TokenKey, TokenVerifier};

use crate::support::{AUDIENCE, ISSUER, NOW, request};

const KEY_FILE: &str = "token-signing-key.pem";

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_a_private_pem_file_and_reloads_the_same_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").join("keys");
    let created = TokenKey::load_or_create(&dir).unwrap();
    let path = dir.join(KEY_FILE);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let pem = fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");

    let reloaded = TokenKey::load_or_create(&dir).unwrap();
    assert_eq!(reloaded.kid(), created.kid());
    assert_eq!(reloaded.public_key_bytes(), created.public_key_bytes());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        pem,
        "file was rewritten"
    );
    assert_eq!(mode(&path), 0o600);

    // Only the key file is left behind: no temporary files.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [KEY_FILE]);
}

#[test]
fn tokens_signed_before_a_restart_verify_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let before = TokenIssuer::new(
        TokenKey::load_or_create(tmp.path()).unwrap(),
        ISSUER,
        AUDIENCE,
    );
    let token = before.issue(&request()).unwrap().token;
    let after = TokenKey::load_or_create(tmp.path()).unwrap();
    let verifier = TokenVerifier::new(ISSUER, AUDIENCE, vec![after.verifier_key()]);
    assert!(verifier.verify(&token, NOW).is_ok());
}

#[test]
fn existing_directory_keeps_its_mode() {
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o750)).unwrap();
    TokenKey::load_or_create(tmp.path()).unwrap();
    assert_eq!(mode(tmp.path()), 0o750);
    assert_eq!(mode(&tmp.path().join(KEY_FILE)), 0o600);
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    TokenKey::load_or_create(tmp.path()).unwrap();
    let path = tmp.path().join(KEY_FILE);
    for bad in [0o644, 0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        let err = TokenKey::load_or_create(tmp.path()).unwrap_err();
        assert!(
            matches!(err, KeyError::InsecurePermissions { mode, .. } if mode == bad),
            "{bad:o}: {err:?}"
        );
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(TokenKey::load_or_create(tmp.path()).is_ok());
}

#[test]
fn garbage_key_file_is_refused_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(KEY_FILE);
    for content in [
        "",
        "not a key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = TokenKey::load_or_create(tmp.path()).unwrap_err();
        assert!(matches!(err, KeyError::InvalidKey { .. }), "{err:?}");
        assert_eq!(fs::read_to_string(&path).unwrap(), content);
    }
    let message = TokenKey::load_or_create(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(message.contains(KEY_FILE), "{message}");
}

#[test]
fn directory_that_cannot_be_created_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    fs::write(&file, "").unwrap();
    let err = TokenKey::load_or_create(&file.join("sub")).unwrap_err();
    assert!(matches!(err, KeyError::Io { .. }), "{err:?}");
}

#[test]
fn racing_creators_all_end_up_with_one_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh");
    let kids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| TokenKey::load_or_create(&dir).unwrap().kid().to_owned()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let on_disk = TokenKey::load_or_create(&dir).unwrap();
    assert!(kids.iter().all(|k| k == on_disk.kid()), "{kids:?}");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}
