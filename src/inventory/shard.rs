//! `prov run --shard K/N`: one of N independent runs, each on the hosts a stable hash of
//! `inventory_hostname` gives it (as AWX's job slicing splits an inventory), so N controllers
//! (a Kubernetes Indexed Job, say) share a large inventory; `prov recap` merges their event
//! streams.

use crate::error::{Error, Result};
use sha2::Digest as _;

/// Shard `index` of `count` (index counts from 0, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl Shard {
    /// Reads `K/N` (`0 <= K < N`).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::options(format!("--shard {s}: expected K/N, with 0 <= K < N")).hint(
                "shards count from 0, as Kubernetes' JOB_COMPLETION_INDEX: --shard 0/3, 1/3, 2/3",
            )
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard of `host` among `count`: the first 8 bytes of the SHA-256 of its inventory
    /// name (big-endian) modulo `count`. The same on every machine and in every version.
    pub fn of(host: &str, count: u64) -> u64 {
        let d = sha2::Sha256::digest(host.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_be_bytes(b) % count.max(1)
    }

    /// Whether `host` belongs to this shard.
    pub fn holds(&self, host: &str) -> bool {
        Shard::of(host, self.count) == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_is_in_exactly_one_shard() {
        let shards: Vec<Shard> = (0..3)
            .map(|k| Shard::parse(&format!("{k}/3")).unwrap())
            .collect();
        let mut sizes = [0; 3];
        for i in 0..300 {
            let h = format!("web{i}.example.com");
            let holders: Vec<usize> = (0..3).filter(|&k| shards[k].holds(&h)).collect();
            assert_eq!(holders.len(), 1, "{h}");
            sizes[holders[0]] += 1;
        }
        // roughly even (a hash, not round-robin)
        assert!(sizes.iter().all(|&n| (70..=130).contains(&n)), "{sizes:?}");
        // stable: a fixed value, whatever the machine
        assert_eq!(Shard::of("web1", 1000), Shard::of("web1", 1000));
        assert_eq!(Shard::of("host1", 7), {
            let d = sha2::Sha256::digest(b"host1");
            u64::from_be_bytes(d[..8].try_into().unwrap()) % 7
        });
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "1", "a/3", "0/0", "-1/3"] {
            let e = Shard::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected K/N"), "{bad}: {e}");
        }
    }
}
