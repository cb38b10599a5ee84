//! `--shard I/N`: which share of the projects one audit process takes.
//!
//! A project belongs to shard `1 + h mod N`, where `h` is the first 8 bytes (big-endian) of
//! the SHA-256 of its key: the same key lands in the same shard on every machine, whatever
//! the order of the lists or the server's listing, so the N shards are disjoint and together
//! hold every project exactly once. SHA-256 rather than a process's own hasher: the share
//! must not change between Rust versions or runs.

use crate::error::{quote, ConfigError};
use sha2::{Digest, Sha256};

/// The most shards an audit may be split into.
pub const MAX_SHARDS: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `I/N`, with 1 ≤ I ≤ N ≤ 1000.
    pub fn parse(text: &str) -> Result<Shard, ConfigError> {
        Shard::parse_from(text, "flag --shard")
    }

    /// `parse`, an error naming `source` (the flag, or the variable the value came from).
    pub fn parse_from(text: &str, source: &str) -> Result<Shard, ConfigError> {
        let bad = |why: &str| {
            ConfigError::new(source, format!("{} {why}", quote(text)))
                .hint("write I/N: this process's share (from 1) of N, e.g. --shard 2/7")
        };
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("is not I/N"))?;
        let parse = |v: &str| v.trim().parse::<u32>().ok();
        let (Some(index), Some(count)) = (parse(i), parse(n)) else {
            return Err(bad("is not two whole numbers I/N"));
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(bad(&format!("has N outside 1 to {MAX_SHARDS}")));
        }
        if index == 0 || index > count {
            return Err(bad("has I outside 1 to N"));
        }
        Ok(Shard { index, count })
    }

    /// The shard (1-based) a key belongs to among `count`.
    pub fn of(key: &str, count: u32) -> u32 {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count)) as u32 + 1
    }

    pub fn owns(&self, key: &str) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_complete_and_stable() {
        let keys: Vec<String> = (0..3000).map(|i| format!("acme_svc-{i:05}")).collect();
        for n in [1, 3, 7] {
            let mut counts = vec![0usize; n as usize];
            for k in &keys {
                let owners: Vec<u32> = (1..=n)
                    .filter(|&i| Shard { index: i, count: n }.owns(k))
                    .collect();
                assert_eq!(owners.len(), 1, "{k} in {owners:?} of {n}");
                counts[owners[0] as usize - 1] += 1;
            }
            // Spread evenly enough that no shard is idle.
            let mean = keys.len() / n as usize;
            assert!(counts.iter().all(|&c| c > mean * 3 / 4), "{counts:?}");
        }
        // Stable across runs, machines and versions: shards written down (SHA-256 of the key,
        // its first 8 bytes big-endian, mod N, plus 1; checked with Python's hashlib).
        for (key, of7, of3) in [("acme_payments-api", 4, 2), ("acme_web", 4, 1), ("k", 7, 2)] {
            assert_eq!(
                (Shard::of(key, 7), Shard::of(key, 3), Shard::of(key, 1)),
                (of7, of3, 1),
                "{key}"
            );
        }
    }

    #[test]
    fn bad_shards_are_refused_with_a_hint() {
        for (text, says) in [
            ("3", "is not I/N"),
            ("a/b", "whole numbers"),
            ("0/3", "I outside"),
            ("4/3", "I outside"),
            ("1/0", "N outside"),
            ("1/1001", "N outside"),
        ] {
            let e = Shard::parse(text).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("hint"), "{text}: {e}");
        }
        assert_eq!(Shard::parse(" 2/7 ").unwrap(), Shard { index: 2, count: 7 });
    }
}
