//! How much unwritten data the whole system holds, for the Maildir group
//! commit's choice between one `syncfs` and an `fdatasync` per file.
//!
//! One `syncfs` is the cheapest way to make a batch of new files durable:
//! the filesystem writes their data in one sorted pass, their inodes
//! together and flushes the disk once, where a sync per file pays each of
//! those per file (measured on ext4: 5,000 messages fetched in 1.65 to
//! 1.75 s against 1.98 s). But `syncfs`
//! also writes out every other program's unwritten data on that filesystem
//! and waits for it: after another program wrote a gigabyte, a fetch would
//! wait for that gigabyte. So the commit uses `syncfs` only when the
//! kernel's count of unwritten data (`Dirty` + `Writeback` in
//! `/proc/meminfo`, every filesystem's) leaves at most [`OTHERS_MAX`] for
//! other programs beside the batch, and syncs its own files otherwise. The
//! count is read right before the `syncfs`, and a `syncfs` only waits for
//! what was unwritten when it began, so the most a commit can wait for is
//! that bound plus what others write in between. (In a container whose
//! `/proc/meminfo` is the container's own, as lxcfs makes it, the count
//! leaves out other containers' data on a shared filesystem; on overlayfs,
//! Docker's usual root, `syncfs` is not used at all.)

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The most data of other programs a commit may write out with `syncfs`.
pub(super) const OTHERS_MAX: u64 = 4 << 20;

/// Below this many files a batch syncs each file: the per-file cost is small
/// then, and many small batches at once (`-j`) would each walk the whole
/// filesystem's dirty inodes.
pub(super) const SYNCFS_MIN_FILES: usize = 16;

/// Whether `syncfs` on the filesystem holding `dir` is known to write its
/// data to disk and report a failure: ext2/3/4, XFS and Btrfs. Elsewhere
/// (FUSE, for one) it may return without either, and each file is synced.
pub(super) fn syncfs_is_sound(dir: &Path) -> bool {
    const EXT: u32 = 0xEF53;
    const XFS: u32 = 0x5846_5342;
    const BTRFS: u32 = 0x9123_683E;
    // Filesystem magic numbers are 32 bits, whatever the field's width.
    rustix::fs::statfs(dir).is_ok_and(|fs| matches!(fs.f_type as u32, EXT | XFS | BTRFS))
}

/// Whether a batch of `files` new files holding `ours` bytes may be made
/// durable with one `syncfs` (see the module doc). No when the count
/// cannot be read.
pub(super) fn syncfs_is_cheap(files: usize, ours: u64) -> bool {
    files >= SYNCFS_MIN_FILES
        && system_unwritten().is_some_and(|all| others(all, ours) <= OTHERS_MAX)
}

/// What is unwritten beyond `ours`.
fn others(all: u64, ours: u64) -> u64 {
    all.saturating_sub(ours)
}

/// `Dirty` + `Writeback` from `/proc/meminfo`, in bytes.
fn system_unwritten() -> Option<u64> {
    let mut text = String::new();
    File::open("/proc/meminfo")
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    parse_unwritten(&text)
}

/// `Dirty:` plus `Writeback:` of a `/proc/meminfo` text, in bytes; `None`
/// unless both are there and well formed.
fn parse_unwritten(meminfo: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = meminfo.lines().find_map(|l| l.strip_prefix(name))?;
        let mut words = line.split_whitespace();
        let n: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => n.checked_mul(1024),
            _ => None,
        }
    };
    field("Dirty:")?.checked_add(field("Writeback:")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: &str = "MemTotal:       24576000 kB\nDirty:               256 kB\n\
                        Writeback:             0 kB\nWritebackTmp:          0 kB\n";

    #[test]
    fn reads_dirty_and_writeback_in_bytes() {
        assert_eq!(parse_unwritten(IDLE), Some(256 * 1024));
        let busy = "Dirty:  1048576 kB\nWriteback:   2048 kB\n";
        assert_eq!(parse_unwritten(busy), Some((1048576 + 2048) * 1024));
    }

    #[test]
    fn a_count_it_cannot_read_is_none() {
        for text in [
            "",
            "Dirty: 12 kB\n",                                    // no Writeback
            "Dirty: x kB\nWriteback: 0 kB\n",                    // not a number
            "Dirty: 12\nWriteback: 0 kB\n",                      // no unit
            "Dirty: 12 MB\nWriteback: 0 kB\n",                   // a unit it does not know
            "Dirty: 18446744073709551615 kB\nWriteback: 0 kB\n", // overflows
        ] {
            assert_eq!(parse_unwritten(text), None, "{text:?}");
        }
    }

    #[test]
    fn only_what_others_left_unwritten_counts() {
        assert_eq!(others(10 << 20, 8 << 20), 2 << 20);
        // Our batch may already be partly written: never below zero.
        assert_eq!(others(1 << 20, 8 << 20), 0);
        assert!(others((8 << 20) + OTHERS_MAX, 8 << 20) <= OTHERS_MAX);
        assert!(others((8 << 20) + OTHERS_MAX + 1, 8 << 20) > OTHERS_MAX);
    }

    #[test]
    fn small_batches_sync_their_own_files() {
        assert!(!syncfs_is_cheap(SYNCFS_MIN_FILES - 1, 0));
    }

    #[test]
    fn syncfs_is_trusted_on_disk_filesystems_only() {
        // /proc's syncfs writes nothing anywhere.
        assert!(!syncfs_is_sound(Path::new("/proc")));
        assert!(!syncfs_is_sound(Path::new("/nonexistent/dir")));
    }
}
