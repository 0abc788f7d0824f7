//! Tokens already verified, so that an agent's second call skips the signature check.
//!
//! Entries are found by a hash of the token's signature and confirmed by comparing the
//! whole token, so a token differing in any byte is never taken for a remembered one.

use crate::verify::VerifiedToken;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

/// Tokens kept before the memory starts over (each entry costs about its token's length).
pub(crate) const CAPACITY: usize = 16_384;

/// Remembered tokens: `hash of signature → [(whole token, verified claims)]`.
#[derive(Debug, Default)]
pub(crate) struct Remembered {
    hasher: RandomState,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    count: usize,
    buckets: HashMap<u64, Vec<Known>>,
}

/// One remembered token: its whole text and what verifying it gave.
type Known = (Box<str>, Arc<VerifiedToken>);

impl Remembered {
    fn bucket_of(&self, token: &str) -> u64 {
        // The signature is the last part and differs between any two tokens we issued;
        // hashing only it keeps lookups cheap. Equality below is on the whole token.
        let signature = token.rsplit('.').next().unwrap_or(token);
        self.hasher.hash_one(signature)
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        let bucket = self.bucket_of(token);
        let entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .buckets
            .get(&bucket)?
            .iter()
            .find(|(text, _)| **text == *token)
            .map(|(_, verified)| Arc::clone(verified))
    }

    pub(crate) fn put(&self, token: &str, verified: Arc<VerifiedToken>) {
        let bucket = self.bucket_of(token);
        let mut entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if entries.count >= CAPACITY {
            entries.buckets.clear();
            entries.count = 0;
        }
        let slot = entries.buckets.entry(bucket).or_default();
        if slot.iter().any(|(text, _)| **text == *token) {
            return;
        }
        slot.push((token.into(), verified));
        entries.count += 1;
    }
}
