//! The intent journal: before a message is delivered, popfetch records
//! which UID is about to land under which target token; after a crash the
//! next run asks the destination whether each message it names landed, so
//! a message is neither lost nor delivered twice.
//!
//! Format, one record per line, appended:
//!
//! ```text
//! B <uid> <token>     about to deliver <uid>; <token> names the target
//! D <uid>             delivered
//! ```
//!
//! A `B` record goes to the kernel at once and is fsynced (by
//! [`Journal::sync`]) before the message it names becomes durable in the
//! target. `D` records are buffered and not fsynced: a lost one only makes
//! recovery ask the destination. For targets that deliver in commit (MDA,
//! LMTP, SMTP) the `D` record is journalled as soon as the target said
//! yes, and written before the next message is handed over: for the MDA
//! that is what keeps at most one message in doubt when popfetch is
//! killed; the sync follows as the next MDA starts (see `deliver::mda`
//! for what a power cut can repeat). UIDs and tokens never contain spaces or
//! newlines (UIDs are escaped when parsed; tokens are made by popfetch).
//! The journal is truncated to nothing once the state file has been saved
//! with every outcome it records.
//!
//! Zeros written ahead: while records are being added, the file is longer
//! than they are, the rest zeros ([`AHEAD`] at a time, written and synced
//! once). A record then overwrites zeros in place, and the sync that makes
//! it durable changes no file size: on ext4 and XFS such an fdatasync is a
//! data write and a cache flush, about a third of one that must also
//! commit the new size, and delivery through an MDA pays it once a
//! message. The first zero byte ends what the file holds: a crash can
//! leave records written after the last sync half on disk, in any order,
//! past a run of zeros, and none of them matters (see [`parse`]). A
//! cleared journal is empty, with no zeros.
//!
//! [`parse`] and [`encode_begin`]/[`encode_done`] are pure; [`read`] and
//! [`Journal`] do the file work around them.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{ParseError, Reason, StateError, files};

/// A delivery the journal knows about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub uid: String,
    pub token: String,
    /// A `D` record followed the `B` record.
    pub done: bool,
}

/// Append the record `B <uid> <token>` to `out`.
pub(crate) fn encode_begin(out: &mut Vec<u8>, uid: &str, token: &str) {
    for part in [b"B ", uid.as_bytes(), b" ", token.as_bytes(), b"\n"] {
        out.extend_from_slice(part);
    }
}

/// Append the record `D <uid>` to `out`.
pub(crate) fn encode_done(out: &mut Vec<u8>, uid: &str) {
    for part in [b"D ", uid.as_bytes(), b"\n"] {
        out.extend_from_slice(part);
    }
}

/// The records in the bytes of a journal, in the order of their `B`
/// records. They end at the first zero byte: what follows was written
/// after the last sync, if at all, and is not read (no record holds a
/// zero byte). A `D` record marks the latest `B` record of its UID as done (a
/// `D` without one is ignored). Bytes that are not UTF-8 are replaced by
/// U+FFFD. A torn last line (no '\n': the crash hit while writing it) is
/// ignored: a `B` record is fsynced whole before its message becomes
/// durable, so a torn one names nothing that landed; a torn `D` record
/// only leaves recovery to ask the destination.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Record>, ParseError> {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let mut records: Vec<Record> = Vec::new();
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let Some(line) = line.strip_suffix(b"\n") else {
            break; // torn tail
        };
        let line = String::from_utf8_lossy(line);
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["B", uid, token] => records.push(Record {
                uid: uid.to_string(),
                token: token.to_string(),
                done: false,
            }),
            ["D", uid] => {
                if let Some(r) = records.iter_mut().rev().find(|r| r.uid == *uid) {
                    r.done = true;
                }
            }
            _ => {
                return Err(ParseError {
                    line: i + 1,
                    reason: Reason::NotJournalRecord,
                });
            }
        }
    }
    Ok(records)
}

/// How many zeros are written ahead of the records at a time: room for
/// about a thousand messages' records.
const AHEAD: u64 = 64 * 1024;

pub struct Journal {
    file: File,
    path: PathBuf,
    /// Records not yet written: `D` records wait for the next `B` record
    /// or sync, so a batch costs one write per message, not two.
    buf: Vec<u8>,
    /// Where the next record goes: the end of the records.
    end: u64,
    /// The file's length; from `end` on it holds zeros.
    len: u64,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal, StateError> {
        // Added to across runs, so opened as found, but never through a
        // link (one there was planted: popfetch makes none).
        let mut file = files::open_private(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .custom_flags(files::NOFOLLOW),
            path,
        )
        .map_err(|e| StateError::io("open", path, e))?;
        // Records go after those there. What follows them is not taken
        // for zeros written ahead: a crash can leave records written after
        // the last sync past them, which the next records must not run
        // into. The first record written zeros all of it again.
        let mut held = Vec::new();
        file.read_to_end(&mut held)
            .map_err(|e| StateError::io("read", path, e))?;
        let end = held.iter().position(|&b| b == 0).unwrap_or(held.len()) as u64;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            buf: Vec::with_capacity(4096),
            end,
            len: end,
        })
    }

    fn write_out(&mut self) -> Result<(), StateError> {
        let r = self.put();
        self.buf.clear();
        r.map_err(|e| StateError::io("write", &self.path, e))
    }

    /// Write the buffered records at the end of the records, first writing
    /// zeros ahead when they would reach past them.
    fn put(&mut self) -> std::io::Result<()> {
        let need = self.end + self.buf.len() as u64;
        if need > self.len {
            // Zeros from the records' end, so that a crash before the
            // records land leaves zeros there, never older bytes.
            let len = need + AHEAD;
            let zeros = vec![0u8; usize::try_from(len - self.end).unwrap_or(usize::MAX)];
            self.file.write_all_at(&zeros, self.end)?;
            self.len = len;
        }
        self.file.write_all_at(&self.buf, self.end)?;
        self.end = need;
        Ok(())
    }

    /// Record the intent to deliver `uid` to the target `token`. Written to
    /// the kernel at once (so that a killed run's leftover is always named
    /// here), durable after the next [`Journal::sync`], which must come
    /// before the message becomes durable in the target.
    pub fn begin(&mut self, uid: &str, token: &str) -> Result<(), StateError> {
        encode_begin(&mut self.buf, uid, token);
        self.write_out()
    }

    /// Hand every record so far to the kernel, without waiting for the
    /// disk: a killed run's records survive it, a power cut's may not.
    pub fn write(&mut self) -> Result<(), StateError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.write_out()
    }

    /// Make every record so far durable.
    pub fn sync(&mut self) -> Result<(), StateError> {
        self.write()?;
        self.file
            .sync_data()
            .map_err(|e| StateError::io("write", &self.path, e))
    }

    /// Record that `uid` landed. Buffered and not fsynced: if it is lost,
    /// recovery asks the destination, which already holds the message
    /// durably.
    pub fn done(&mut self, uid: &str) -> Result<(), StateError> {
        encode_done(&mut self.buf, uid);
        Ok(())
    }

    /// Empty the journal once the state file holds every outcome.
    pub fn clear(&mut self) -> Result<(), StateError> {
        self.buf.clear();
        (self.end, self.len) = (0, 0);
        self.file
            .set_len(0)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| StateError::io("truncate", &self.path, e))
    }
}

/// Read every record left by earlier runs (see [`parse`]); a missing
/// journal has none.
pub fn read(path: &Path) -> Result<Vec<Record>, StateError> {
    match files::read_if_exists(path)? {
        Some(bytes) => parse(&bytes).map_err(|e| StateError::damaged(path, e)),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let mut j = Journal::open(&p).unwrap();
        j.begin("u1", "t1").unwrap();
        j.done("u1").unwrap();
        j.begin("u2", "t2").unwrap();
        j.done("u2").unwrap();
        // What is written is what the encoders make.
        let mut written = Vec::new();
        encode_begin(&mut written, "u1", "t1");
        encode_done(&mut written, "u1");
        encode_begin(&mut written, "u2", "t2");
        assert_eq!(written, b"B u1 t1\nD u1\nB u2 t2\n");
        // Followed by zeros written ahead, so that syncs change no size.
        let held = std::fs::read(&p).unwrap();
        assert_eq!(&held[..written.len()], written);
        assert!(held.len() as u64 > AHEAD && held[written.len()..].iter().all(|&b| b == 0));
        // The last D record is still buffered; B records never are.
        let r = read(&p).unwrap();
        assert_eq!(
            r,
            vec![
                Record {
                    uid: "u1".into(),
                    token: "t1".into(),
                    done: true
                },
                Record {
                    uid: "u2".into(),
                    token: "t2".into(),
                    done: false
                },
            ]
        );
        j.clear().unwrap();
        assert!(read(&p).unwrap().is_empty());
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0, "cleared is empty");
        // Appends after a clear start at the beginning again.
        j.begin("u3", "t3").unwrap();
        assert_eq!(read(&p).unwrap().len(), 1);
        // A journal opened again goes on after its records, not after its
        // zeros.
        drop(j);
        let mut j = Journal::open(&p).unwrap();
        j.begin("u4", "t4").unwrap();
        let uids: Vec<String> = read(&p).unwrap().into_iter().map(|r| r.uid).collect();
        assert_eq!(uids, ["u3", "u4"]);
    }

    #[test]
    fn records_left_past_the_zeros_by_a_crash_are_not_run_into() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        // A crash left a later page of records on disk, not the first.
        let mut stale = vec![0u8; 4];
        stale.extend_from_slice(b"B old tok\nB zz yy\nB st al\n");
        std::fs::write(&p, &stale).unwrap();
        assert!(read(&p).unwrap().is_empty());
        let mut j = Journal::open(&p).unwrap();
        j.begin("u1", "t1").unwrap();
        j.begin("u2", "t2").unwrap();
        let uids: Vec<String> = read(&p).unwrap().into_iter().map(|r| r.uid).collect();
        assert_eq!(uids, ["u1", "u2"]);
    }

    #[test]
    fn the_zeros_written_ahead_grow_as_records_come() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let mut j = Journal::open(&p).unwrap();
        let n = 3 * AHEAD as usize / 20;
        for i in 0..n {
            j.begin(&format!("u{i}"), &format!("t{i}")).unwrap();
        }
        j.sync().unwrap();
        let records = read(&p).unwrap();
        assert_eq!(records.len(), n);
        assert_eq!(records[n - 1].token, format!("t{}", n - 1));
    }

    #[test]
    fn torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        std::fs::write(&p, "B u1 t1\nB u2 t").unwrap();
        assert_eq!(read(&p).unwrap().len(), 1);
    }

    /// How `read` takes lines: bytes that are not UTF-8 are replaced, a
    /// `D` marks the latest `B` of its UID (none: ignored), an empty line
    /// is damaged, a torn tail is ignored whatever it holds.
    #[test]
    fn line_handling_is_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let rec = |uid: &str, token: &str, done| Record {
            uid: uid.into(),
            token: token.into(),
            done,
        };
        std::fs::write(
            &p,
            b"B u t1\nB u\xff t2\r\nD x\nB u t3\nD u\nD u\nB u t4\ngarbage",
        )
        .unwrap();
        assert_eq!(
            read(&p).unwrap(),
            vec![
                rec("u", "t1", false),
                rec("u\u{fffd}", "t2\r", false),
                rec("u", "t3", true),
                rec("u", "t4", false),
            ]
        );
        std::fs::write(&p, "B u t\n\nD u\n").unwrap();
        assert!(matches!(read(&p), Err(StateError::Corrupt { line: 2, .. })));
        std::fs::write(&p, "B u t x\n").unwrap();
        assert!(matches!(read(&p), Err(StateError::Corrupt { line: 1, .. })));
        assert!(read(&dir.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn garbage_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        std::fs::write(&p, "B u1 t1\nwhat\n").unwrap();
        assert!(matches!(read(&p), Err(StateError::Corrupt { line: 2, .. })));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{Record, encode_begin, encode_done, parse};

        #[derive(Debug, Clone)]
        enum Op {
            Begin(String, String),
            Done(String),
        }

        /// UIDs and tokens: anything without a space, a newline or a zero
        /// byte (UIDs are encoded printable, tokens are popfetch's own). UIDs
        /// come mostly from a tiny alphabet, so that `D` records meet
        /// their `B` records (and repeated ones) often.
        fn op() -> impl Strategy<Value = Op> {
            let uid = prop_oneof![3 => "[ab]", 1 => "[^ \n\0]{0,8}"];
            prop_oneof![
                (uid.clone(), "[^ \n\0]{0,12}").prop_map(|(u, t)| Op::Begin(u, t)),
                uid.prop_map(Op::Done),
            ]
        }

        fn encode(ops: &[Op]) -> Vec<u8> {
            let mut out = Vec::new();
            for op in ops {
                match op {
                    Op::Begin(uid, token) => encode_begin(&mut out, uid, token),
                    Op::Done(uid) => encode_done(&mut out, uid),
                }
            }
            out
        }

        /// The records `ops` leave: one per `B`, done when a `D` of its UID
        /// follows before the next `B` of that UID.
        fn expected(ops: &[Op]) -> Vec<Record> {
            ops.iter()
                .enumerate()
                .filter_map(|(i, op)| {
                    let Op::Begin(uid, token) = op else {
                        return None;
                    };
                    let done = ops[i + 1..]
                        .iter()
                        .take_while(|o| !matches!(o, Op::Begin(u, _) if u == uid))
                        .any(|o| matches!(o, Op::Done(u) if u == uid));
                    Some(Record {
                        uid: uid.clone(),
                        token: token.clone(),
                        done,
                    })
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn parse_reads_what_encode_wrote(ops in proptest::collection::vec(op(), 0..24)) {
                prop_assert_eq!(parse(&encode(&ops)), Ok(expected(&ops)));
            }

            /// A crash can stop the journal after any byte: what parses is
            /// what the complete lines say, the torn one ignored, and its
            /// `B` records are a prefix of the whole journal's.
            #[test]
            fn a_journal_cut_anywhere_reads_as_its_complete_lines(
                ops in proptest::collection::vec(op(), 0..24)
            ) {
                let bytes = encode(&ops);
                let whole = parse(&bytes).unwrap();
                for cut in 0..=bytes.len() {
                    let complete = bytes[..cut].iter().filter(|&&b| b == b'\n').count();
                    let records = parse(&bytes[..cut]);
                    prop_assert_eq!(records.as_ref(), Ok(&expected(&ops[..complete])));
                    let records = records.unwrap();
                    prop_assert!(records
                        .iter()
                        .zip(&whole)
                        .all(|(r, w)| (&r.uid, &r.token) == (&w.uid, &w.token)));
                    prop_assert!(records.len() <= whole.len());
                }
            }

            /// After a crash, records written after the last sync may be
            /// half on disk, past zeros written ahead: from the first zero
            /// on, nothing is read.
            #[test]
            fn what_follows_the_first_zero_is_not_read(
                ops in proptest::collection::vec(op(), 0..24),
                zeros in 1..64usize,
                later in proptest::collection::vec(any::<u8>(), 0..100),
            ) {
                let mut bytes = encode(&ops);
                bytes.extend(std::iter::repeat_n(0, zeros));
                bytes.extend(later);
                prop_assert_eq!(parse(&bytes), Ok(expected(&ops)));
            }

            #[test]
            fn parse_never_panics(
                bytes in prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..300),
                    proptest::collection::vec(
                        prop::sample::select(vec![
                            &b"B"[..], b"D", b" ", b"\n", b"u", b"t", b"\r", b"\xff",
                        ]),
                        0..60,
                    )
                    .prop_map(|p| p.concat()),
                ]
            ) {
                if let Err(e) = parse(&bytes) {
                    prop_assert!(e.line >= 1 && e.line <= bytes.split(|&b| b == b'\n').count());
                }
            }
        }
    }
}
