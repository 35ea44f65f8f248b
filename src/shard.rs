//! `--shard K/N`: split a fleet of accounts between N processes (machines,
//! Kubernetes Indexed Job pods, systemd template instances) without any
//! coordination between them.
//!
//! An account belongs to shard `FNV-1a-64(name) mod N + 1`, where `name`
//! is its `[account.NAME]` as UTF-8 bytes and FNV-1a-64 is the fixed
//! 64-bit Fowler–Noll–Vo hash (offset basis 0xcbf29ce484222325, prime
//! 0x100000001b3). It depends on the name and N alone: never on the order
//! of the file, the other accounts, the machine or the run (Rust's own
//! hasher is seeded at random per process, so it is not used), so every
//! shard computes the same split, run after run. Adding or removing an
//! account moves no other account; changing N moves most of them.
//!
//! Each shard keeps its own state directory. A shard that finds another
//! shard's state directory refuses to run (see [`claim`]): the state of an
//! account is only in the directory of the shard that fetches it, so
//! directories that shards share or swap mean accounts whose delivered
//! UIDs are not where the fetching process looks, and with `keep` their
//! mail is delivered again.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::account::limits;
use crate::state::{
    NOFOLLOW, StateError, check_private_dir, create_filled, create_private_dir, sync_dir,
};

/// The file in a state directory that records which shard uses it.
pub const MARKER: &str = "shard";

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `K/N` with 1 ≤ K ≤ N ≤ 10000, as `--shard` and `POPFETCH_SHARD`
    /// take it.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let max = *limits::SHARDS.end();
        let usage = || {
            format!(
                "{s:?} is not a shard: write K/N, shard K of N, with 1 <= K <= N <= {max} \
                 (e.g. 1/4; in a Kubernetes Indexed Job, whose JOB_COMPLETION_INDEX counts \
                 from 0: $((JOB_COMPLETION_INDEX + 1))/N)"
            )
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(usage)?;
        let number = |t: &str| {
            let t = t.trim();
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u64>().ok())
                .flatten()
        };
        let (Some(index), Some(count)) = (number(k), number(n)) else {
            return Err(usage());
        };
        if !limits::SHARDS.contains(&count) {
            return Err(format!(
                "{s:?}: the number of shards must be 1 to {max}, not {count}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "{s:?}: shards are numbered 1 to {count}, so {index} is not one of them \
                 (a Kubernetes JOB_COMPLETION_INDEX counts from 0: add 1)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the account named `name` belongs to this shard.
    pub fn contains(&self, name: &str) -> bool {
        shard_of(name, self.count) == self.index
    }
}

/// The shard (1-based) of `count` that the account `name` belongs to.
pub fn shard_of(name: &str, count: u64) -> u64 {
    fnv1a64(name.as_bytes()) % count.max(1) + 1
}

/// The 64-bit FNV-1a hash.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Why a shard may not use a state directory.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// The directory's marker names another shard (or a sharded run
    /// finds it while this one is not sharded).
    #[error(
        "the state directory {} belongs to {recorded} (its file {MARKER} says so), but this run \
         is {given}: each shard needs a state directory of its own (give --state-dir or \
         state_dir per shard, e.g. ~/.local/state/popfetch/shard-K); if the fleet was split \
         anew on purpose, see \"Many mailboxes\" in the README for moving the state, then \
         delete {}",
        dir.display(),
        marker.display()
    )]
    Mismatch {
        dir: PathBuf,
        marker: PathBuf,
        recorded: String,
        given: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// How a run names itself in a marker and in messages.
fn describe(shard: Option<Shard>) -> String {
    match shard {
        Some(s) => format!("shard {s}"),
        None => "not sharded (no --shard)".to_string(),
    }
}

/// Make sure no other shard uses `dir`. With a shard, the directory's
/// marker must name this shard, and is written (0600) when the directory
/// has none; without one, a directory with a marker is refused, since a
/// run over every account would fetch the other shards' accounts without
/// their state. A directory without a marker is free for anyone: popfetch
/// cannot tell which runs used it before.
pub fn claim(dir: &Path, shard: Option<Shard>) -> Result<(), ShardError> {
    let marker = dir.join(MARKER);
    let want = shard.map(|s| format!("shard {s}\n"));
    // A marker we may not read or write is most often in a directory
    // another user owns: say that, with its fix, rather than "permission
    // denied".
    let explain = |e: StateError| match check_private_dir(dir) {
        Err(not_ours @ StateError::UnsafeDir { .. }) => not_ours,
        _ => e,
    };
    let recorded = match read_marker(&marker).map_err(explain)? {
        Some(text) => text,
        None => {
            let Some(want) = &want else {
                return Ok(());
            };
            match write_marker(dir, &marker, want) {
                Ok(()) => return Ok(()),
                // Another shard wrote it a moment ago: compare with theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    read_marker(&marker).map_err(explain)?.unwrap_or_default()
                }
                Err(e) => return Err(explain(StateError::io("write", &marker, e)).into()),
            }
        }
    };
    if want.as_deref() == Some(recorded.as_str()) {
        return Ok(());
    }
    let shown = crate::text::printable_capped(recorded.trim().as_bytes(), 40);
    Err(ShardError::Mismatch {
        dir: dir.to_path_buf(),
        marker,
        recorded: if shown.is_empty() {
            "an unknown shard".to_string()
        } else {
            shown
        },
        given: describe(shard),
    })
}

fn read_marker(marker: &Path) -> Result<Option<String>, StateError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(marker);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io("read", marker, e)),
    };
    let mut text = String::new();
    // A marker is one short line; more is not ours.
    Read::by_ref(&mut file)
        .take(256)
        .read_to_string(&mut text)
        .map_err(|e| StateError::io("read", marker, e))?;
    Ok(Some(text))
}

/// Make the marker appear with its text already in it: a run of the same
/// shard starting at the same instant must never read it empty and take
/// it for another shard's. So the text goes into a private file first,
/// which is then hard-linked into place ([`create_filled`]).
fn write_marker(dir: &Path, marker: &Path, text: &str) -> io::Result<()> {
    create_private_dir(dir)?;
    // Unique to this call (threads of one process share the pid).
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let tmp = dir.join(format!(
        "{MARKER}.{}.{}.tmp",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    create_filled(marker, &tmp, text.as_bytes(), true)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_values() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_split_is_pinned() {
        // These must never change: a changed split moves accounts away
        // from their state.
        let got: Vec<u64> = ["work", "home", "acct0", "acct1", "acct2", "support"]
            .iter()
            .map(|n| shard_of(n, 4))
            .collect();
        // Computed independently (Python) from the FNV-1a definition.
        let want: [u64; 6] = [1, 3, 3, 2, 1, 1];
        assert_eq!(got, want);
        // 0xaf63dc4c8601ec8c is even.
        assert_eq!(shard_of("a", 2), 1);
    }

    #[test]
    fn every_account_is_in_exactly_one_shard() {
        for n in [1, 2, 3, 7, 100] {
            for i in 0..500 {
                let name = format!("acct{i}");
                let hits = (1..=n)
                    .filter(|&k| Shard { index: k, count: n }.contains(&name))
                    .count();
                assert_eq!(hits, 1, "{name} in {n} shards");
            }
        }
    }

    #[test]
    fn the_split_is_roughly_even() {
        let ones = (0..1000)
            .filter(|i| Shard { index: 1, count: 2 }.contains(&format!("acct{i}")))
            .count();
        assert!((400..=600).contains(&ones), "{ones}");
    }

    #[test]
    fn parse_checks_ranges() {
        assert_eq!(Shard::parse("1/2"), Ok(Shard { index: 1, count: 2 }));
        assert_eq!(
            Shard::parse(" 3 / 10000 "),
            Ok(Shard {
                index: 3,
                count: 10000
            })
        );
        for bad in [
            "",
            "1",
            "/",
            "0/2",
            "3/2",
            "1/0",
            "1/10001",
            "a/b",
            "-1/2",
            "+1/2",
            "1/2/3",
            "1.0/2",
            "99999999999999999999/2",
        ] {
            assert!(Shard::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn runs_of_one_shard_starting_together_all_claim() {
        for _ in 0..20 {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("state");
            let one = Shard { index: 1, count: 2 };
            std::thread::scope(|s| {
                let runs: Vec<_> = (0..8).map(|_| s.spawn(|| claim(&dir, Some(one)))).collect();
                for r in runs {
                    r.join().unwrap().unwrap();
                }
            });
        }
    }

    #[test]
    fn claim_writes_then_checks_the_marker() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let one = Shard { index: 1, count: 2 };
        let two = Shard { index: 2, count: 2 };
        claim(&dir, None).unwrap();
        assert!(
            !dir.join(MARKER).exists(),
            "an unsharded run writes no marker"
        );
        claim(&dir, Some(one)).unwrap();
        assert_eq!(fs::read_to_string(dir.join(MARKER)).unwrap(), "shard 1/2\n");
        let files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, [MARKER], "nothing but the marker is left");
        claim(&dir, Some(one)).unwrap();
        let e = claim(&dir, Some(two)).unwrap_err().to_string();
        assert!(
            e.contains("belongs to shard 1/2") && e.contains("this run is shard 2/2"),
            "{e}"
        );
        let e = claim(&dir, None).unwrap_err().to_string();
        assert!(e.contains("not sharded"), "{e}");
    }
}
