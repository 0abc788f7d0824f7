//! Signed checkpoints of the audit log: an RFC 9162 Merkle tree over every event,
//! signed (C2SP signed note), kept in the store and published outside it.
//!
//! A checkpoint commits to the first `size` events; verifying later events against it
//! proves the log only grew, and a signed size beyond the log proves it was cut.

use crate::config::AuditConfig;
use mandate_audit::{
    Checkpoint, CheckpointError, MerkleFrontier, MerkleLog, NoteSigner, NoteVerifier, StoredEvent,
    leaf_hash,
};
use mandate_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

/// The checkpoint signing key's file, in the data directory's `keys/`.
pub const KEY_FILE: &str = "audit-checkpoint-key.pem";

/// Why a checkpoint could not be made or published.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointFailure {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The events are not a continuous log (run `mandate audit verify`).
    #[error("the audit log is not continuous at event #{0}; run `mandate audit verify`")]
    Gap(u64),
    /// The signed note could not be published.
    #[error("cannot publish the checkpoint to `{path}`: {source}")]
    Publish {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The signed note could not be posted (it is kept in the store all the same).
    #[error("cannot post the checkpoint to {url}: {reason}")]
    Post {
        /// Where to.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// Makes checkpoints: keeps the right edge of the tree of everything seen so far (O(log n)
/// hashes, however long the log) and signs its root.
pub struct Checkpointer {
    signer: NoteSigner,
    key: ed25519_dalek::SigningKey,
    config: AuditConfig,
    state: Mutex<State>,
}

/// The tree so far, and the size of the last checkpoint (`None` until read from the store).
#[derive(Default)]
struct State {
    tree: MerkleFrontier,
    signed: Option<u64>,
}

impl Checkpointer {
    /// Loads (or creates) the signing key in `keys_dir`.
    pub fn open(keys_dir: &Path, config: &AuditConfig) -> Result<Self, mandate_auth::KeyError> {
        let key = mandate_auth::load_or_create_ed25519(keys_dir, KEY_FILE)?;
        Ok(Self {
            signer: NoteSigner::new(config.origin.clone(), key.clone()),
            key,
            config: config.clone(),
            state: Mutex::new(State::default()),
        })
    }

    /// The public key that verifies this gateway's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The verifier for a note this gateway's key signed under `origin`: checkpoints
    /// stay verifiable after the operator renames the log (a new `public_url` or `node`).
    pub fn verifier_for(&self, note: &str) -> NoteVerifier {
        let origin = note.lines().next().unwrap_or_default();
        NoteSigner::new(origin.to_owned(), self.key.clone()).verifier()
    }

    /// Events appended since the last checkpoint, as far as this checkpointer knows.
    pub async fn unsigned(&self, store: &dyn Store) -> Result<u64, StoreError> {
        let head = store.audit_head().await?.map_or(0, |(seq, _)| seq);
        let signed = self.state.lock().await.signed.unwrap_or(0);
        Ok(head.saturating_sub(signed))
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    /// Brings the tree up to the log's head; when it holds events no checkpoint
    /// covers yet, signs one, keeps it in the store and publishes it.
    pub async fn checkpoint(
        &self,
        store: &dyn Store,
        now_secs: i64,
    ) -> Result<Option<String>, CheckpointFailure> {
        let mut state = self.state.lock().await;
        let signed_up_to = match state.signed {
            Some(size) => size,
            None => store
                .checkpoints()
                .await?
                .last()
                .map_or(0, |(size, _)| *size),
        };
        state.signed = Some(signed_up_to);
        let tree = &mut state.tree;
        let head = store.audit_head().await?.map_or(0, |(seq, _)| seq);
        while tree.len() < head {
            // Small pages: catching up on a long log must not hold much of it in memory at once.
            let batch = store.events(tree.len(), 1_000).await?;
            if batch.is_empty() {
                return Err(CheckpointFailure::Gap(tree.len() + 1));
            }
            for event in batch.iter().take_while(|e| e.seq <= head) {
                if event.seq != tree.len() + 1 {
                    return Err(CheckpointFailure::Gap(tree.len() + 1));
                }
                tree.push_leaf_hash(leaf_hash(&event.canonical));
            }
        }
        if tree.is_empty() || tree.len() <= signed_up_to {
            return Ok(None);
        }
        let checkpoint = Checkpoint {
            origin: self.config.origin.clone(),
            size: tree.len(),
            root: tree.root(),
            time: now_secs,
        };
        let note = self.signer.sign(&checkpoint);
        store.add_checkpoint(checkpoint.size, note.clone()).await?;
        state.signed = Some(checkpoint.size);
        if let Some(path) = &self.config.checkpoint_file {
            publish(path, &note).map_err(|source| CheckpointFailure::Publish {
                path: path.clone(),
                source,
            })?;
        }
        if let Some(url) = &self.config.checkpoint_url {
            post(url, &note).await?;
        }
        tracing::debug!(size = checkpoint.size, "audit checkpoint signed");
        Ok(Some(note))
    }
}

/// Replaces the published checkpoint atomically (write aside, then rename), so a reader
/// outside the gateway never sees half a note.
fn publish(path: &Path, note: &str) -> std::io::Result<()> {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, note)?;
    std::fs::rename(&aside, path)
}

/// Posts the note to a collector outside the gateway; a refusal is an error like a lost
/// connection, so the operator hears of a witness that stopped listening.
async fn post(url: &reqwest::Url, note: &str) -> Result<(), CheckpointFailure> {
    let failed = |reason: String| CheckpointFailure::Post {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client
        .post(url.clone())
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(note.to_owned())
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("answered {}", response.status())));
    }
    Ok(())
}

/// The Merkle tree over `events` (seq 1, 2, … in order).
pub fn tree_of<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> MerkleLog {
    let mut tree = MerkleLog::new();
    for event in events {
        tree.push_leaf_hash(leaf_hash(&event.canonical));
    }
    tree
}

/// Why a kept or published checkpoint does not vouch for the log as it is.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointMismatch {
    /// The note's signature or format is bad.
    #[error("checkpoint {which}: {source}")]
    Signature {
        /// Which checkpoint.
        which: String,
        /// Why.
        source: CheckpointError,
    },
    /// The checkpoint signed more events than the log holds: the log was cut.
    #[error(
        "checkpoint {which} signed {signed} events but the log holds {held}: events were removed from the end"
    )]
    Truncated {
        /// Which checkpoint.
        which: String,
        /// The signed size.
        signed: u64,
        /// The events in the log.
        held: u64,
    },
    /// The log's first `size` events are not the ones that were signed.
    #[error(
        "checkpoint {which}: the log's first {size} events differ from the ones signed (an event at or before #{size} was changed, inserted, removed or reordered)"
    )]
    RootMismatch {
        /// Which checkpoint.
        which: String,
        /// The signed size.
        size: u64,
    },
}

/// Checks one signed note against the tree of the log as it is now.
pub fn check_note(
    verifier: &NoteVerifier,
    tree: &MerkleLog,
    note: &str,
    which: &str,
) -> Result<Checkpoint, CheckpointMismatch> {
    let checkpoint = verifier
        .verify(note)
        .map_err(|source| CheckpointMismatch::Signature {
            which: which.to_owned(),
            source,
        })?;
    if checkpoint.size > tree.len() {
        return Err(CheckpointMismatch::Truncated {
            which: which.to_owned(),
            signed: checkpoint.size,
            held: tree.len(),
        });
    }
    match tree.root_at(checkpoint.size) {
        Ok(root) if root == checkpoint.root => Ok(checkpoint),
        _ => Err(CheckpointMismatch::RootMismatch {
            which: which.to_owned(),
            size: checkpoint.size,
        }),
    }
}
