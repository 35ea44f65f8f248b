//! Property tests for the mbox target over arbitrary bytes:
//!
//! - mboxrd quoting of any message, streamed in any chunks, is the same
//!   as quoting it whole, leaves no line starting with `From `, only adds
//!   `>` characters, and unquotes to the message exactly;
//! - messages of any bytes delivered one after another read back from the
//!   mbox exactly (a final newline added where one was missing);
//! - recovery over any mbox contents and any state of the spool (never
//!   begun, torn at any byte, whole, whole and followed by other mail,
//!   other mail only, the mbox shrunk, grown or gone, the spool emptied,
//!   renamed `.done`, `.cut-`, or missing; markers of earlier versions and
//!   markers with sums, their spool intact or its bytes lost) never
//!   panics, never changes a byte before the recorded offset, only ever
//!   removes bytes of its own message (or, judging by sums, an unfinished
//!   `From ` line at the end of the file), says "landed" exactly when the
//!   whole message is there (so it is neither fetched again nor lost), and
//!   changes nothing when it fails.

use std::fs;
use std::io::Write;

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::format::{FromQuoter, unquote};
use super::{Entry, Mbox, Span, SpoolDir, Sum, truncated};
use crate::deliver::Sink;

/// Bytes with `From `, `>`, newlines and CRs common.
fn mail_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..max),
        2 => proptest::collection::vec(
            prop::sample::select(vec![
                &b"From "[..], b">", b">>From ", b"From", b"\n", b"\r\n", b"x", b" ", b"\xff",
                b"Return-Path: <a@b>\n", b"From: c@d\n", b"\n\n",
            ]),
            0..max / 4,
        )
        .prop_map(|p| p.concat()),
    ]
}

fn quote_in_chunks(msg: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut q = FromQuoter::default();
    let mut out = Vec::new();
    let mut rest = msg;
    for &c in cuts {
        let c = c % (rest.len() + 1);
        q.push(&rest[..c], &mut out);
        rest = &rest[c..];
    }
    q.push(rest, &mut out);
    q.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn quoting_any_bytes_at_any_chunking_reverses_exactly(
        msg in mail_bytes(400),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let whole = quote_in_chunks(&msg, &[]);
        prop_assert_eq!(&quote_in_chunks(&msg, &cuts), &whole);
        let bytewise: Vec<usize> = vec![1; msg.len()];
        prop_assert_eq!(&quote_in_chunks(&msg, &bytewise), &whole);
        prop_assert_eq!(unquote(&whole), msg.clone());
        // One '>' more on exactly the lines that match >*From, nothing else.
        let mut added = 0;
        for (q, m) in whole.split(|&b| b == b'\n').zip(msg.split(|&b| b == b'\n')) {
            prop_assert!(!q.starts_with(b"From "));
            let k = m.iter().take_while(|&&b| b == b'>').count();
            if m[k..].starts_with(b"From ") {
                prop_assert_eq!(q.len(), m.len() + 1);
                prop_assert_eq!(q[0], b'>');
                prop_assert_eq!(&q[1..], m);
                added += 1;
            } else {
                prop_assert_eq!(q, m);
            }
        }
        prop_assert_eq!(whole.len(), msg.len() + added);
    }
}

/// A fresh mbox and its spool in a temporary directory.
struct Place {
    dir: tempfile::TempDir,
    mbox: Mbox,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let spool = SpoolDir::open(&dir.path().join("state"), "p@h:110").unwrap();
        let mbox = Mbox::open(&dir.path().join("mbox"), spool).unwrap();
        Place { dir, mbox }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("mbox")
    }

    /// The bytes a commit of `msg` would append, spooled under a new
    /// token and left as the plain spool file.
    fn spool(&mut self, msg: &[u8]) -> (String, Vec<u8>) {
        let token = self.mbox.next_token();
        let mut m = self.mbox.create(&token).unwrap();
        m.write_all(msg).unwrap();
        m.finish().unwrap();
        let path = m.spooled.keep();
        drop(m);
        (token, fs::read(path).unwrap())
    }
}

/// Splits an mbox into its messages, strictly: every message starts with a
/// `From ` line and ends with an empty line; bodies are unquoted.
fn read_back(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            out.push(Vec::new());
        } else {
            out.last_mut()
                .expect("starts with From")
                .extend_from_slice(line);
        }
    }
    out.into_iter()
        .map(|mut body| {
            assert_eq!(body.pop(), Some(b'\n'), "the separating empty line");
            unquote(&body)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_messages_read_back_exactly(msgs in proptest::collection::vec(mail_bytes(300), 1..5)) {
        let mut p = Place::new();
        for m in &msgs {
            let token = p.mbox.next_token();
            let mut sink = Box::new(p.mbox.create(&token).unwrap());
            for chunk in m.chunks(5) {
                sink.write_all(chunk).unwrap();
            }
            sink.commit().unwrap();
        }
        p.mbox.append_batch().unwrap();
        let want: Vec<Vec<u8>> = msgs
            .iter()
            .map(|m| {
                let mut m = m.clone();
                if !m.is_empty() && !m.ends_with(b"\n") {
                    m.push(b'\n');
                }
                m
            })
            .collect();
        prop_assert_eq!(read_back(&fs::read(p.path()).unwrap()), want);
    }
}

/// What is in the mbox after the recorded offset when recovery runs.
#[derive(Debug, Clone)]
enum Tail {
    /// The append never began.
    Nothing,
    /// Torn after this many of our bytes (taken modulo the length).
    Torn(usize),
    Whole,
    /// Ours, whole, then someone else's mail.
    WholeThenOther(Vec<u8>),
    /// Some of ours (modulo the length), then someone else's.
    TornThenOther(usize, Vec<u8>),
    /// Someone else's mail where ours would be.
    Other(Vec<u8>),
}

/// What the spool directory holds for the token.
#[derive(Debug, Clone, Copy)]
enum SpoolState {
    Missing,
    Spool,
    /// An earlier version's `.at-` name.
    At {
        emptied: bool,
    },
    /// A `.at-` name with sums; `lost`: the spool's bytes are gone.
    AtSum {
        lost: bool,
    },
    Cut,
    CutSum {
        lost: bool,
    },
    Done,
}

impl SpoolState {
    fn lost(self) -> bool {
        matches!(
            self,
            SpoolState::AtSum { lost: true } | SpoolState::CutSum { lost: true }
        )
    }

    fn appending(self) -> bool {
        matches!(
            self,
            SpoolState::At { .. }
                | SpoolState::AtSum { .. }
                | SpoolState::Cut
                | SpoolState::CutSum { .. }
        )
    }
}

/// The sums an append of `bytes` records.
fn sum_for(bytes: &[u8]) -> Sum {
    let head = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    Sum {
        head: head as u64,
        head_sum: truncated(Sha256::new_with_prefix(&bytes[..head])).0,
        sum: truncated(Sha256::new_with_prefix(bytes)).1,
    }
}

fn tail() -> impl Strategy<Value = Tail> {
    let other = || mail_bytes(120);
    prop_oneof![
        Just(Tail::Nothing),
        any::<usize>().prop_map(Tail::Torn),
        Just(Tail::Whole),
        other().prop_map(Tail::WholeThenOther),
        (any::<usize>(), other()).prop_map(|(k, o)| Tail::TornThenOther(k, o)),
        other().prop_map(Tail::Other),
    ]
}

fn spool_state() -> impl Strategy<Value = SpoolState> {
    prop_oneof![
        1 => Just(SpoolState::Missing),
        1 => Just(SpoolState::Spool),
        3 => any::<bool>().prop_map(|emptied| SpoolState::At { emptied }),
        4 => any::<bool>().prop_map(|lost| SpoolState::AtSum { lost }),
        1 => Just(SpoolState::Cut),
        2 => any::<bool>().prop_map(|lost| SpoolState::CutSum { lost }),
        1 => Just(SpoolState::Done),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn recovery_only_ever_removes_its_own_bytes(
        before in mail_bytes(200),
        msg in mail_bytes(200),
        tail in tail(),
        state in spool_state(),
        // The recorded offset: usually where the mbox ended, else moved
        // (the file was rewritten since), in either direction.
        shift in prop_oneof![4 => Just(0i64), 1 => -50i64..50],
        mbox_gone in prop::bool::weighted(0.05),
    ) {
        let mut p = Place::new();
        let (token, entry) = p.spool(&msg);
        let len = entry.len() as u64;
        let offset = (before.len() as i64 + shift).max(0) as u64;

        // Judged by sums, other mail is told from ours by its `From ` line
        // starting a line of its own.
        let other = |o: &Vec<u8>| {
            if state.lost() {
                [&b"\nFrom other@x Mon Jan  1 00:00:00 2024\n"[..], o].concat()
            } else {
                o.clone()
            }
        };
        let mut contents = before.clone();
        match &tail {
            Tail::Nothing => {}
            Tail::Torn(k) => contents.extend_from_slice(&entry[..k % entry.len()]),
            Tail::Whole => contents.extend_from_slice(&entry),
            Tail::WholeThenOther(o) => {
                contents.extend_from_slice(&entry);
                contents.extend_from_slice(&other(o));
            }
            Tail::TornThenOther(k, o) => {
                contents.extend_from_slice(&entry[..k % entry.len()]);
                contents.extend_from_slice(&other(o));
            }
            Tail::Other(o) => contents.extend_from_slice(&other(o)),
        }
        if mbox_gone {
            fs::remove_file(p.path()).unwrap();
        } else {
            fs::write(p.path(), &contents).unwrap();
        }
        let spool_path = |e: &Entry| p.mbox.spool.path(&e.name(&token));
        let at = Entry::At(Span { offset, len, sum: None });
        let summed = Span { offset, len, sum: Some(sum_for(&entry)) };
        let left = if state.lost() { Vec::new() } else { entry.clone() };
        match state {
            SpoolState::Missing => fs::remove_file(spool_path(&Entry::Spool)).unwrap(),
            SpoolState::Spool => {}
            SpoolState::At { emptied } => {
                p.mbox.spool.rename(&token, &Entry::Spool, &at).unwrap();
                if emptied {
                    fs::write(spool_path(&at), b"").unwrap();
                }
            }
            SpoolState::AtSum { .. } => {
                p.mbox.spool.rename(&token, &Entry::Spool, &Entry::At(summed)).unwrap();
                fs::write(spool_path(&Entry::At(summed)), &left).unwrap();
            }
            SpoolState::Cut => {
                p.mbox.spool.rename(&token, &Entry::Spool, &Entry::Cut(Span { offset, len, sum: None })).unwrap();
            }
            SpoolState::CutSum { .. } => {
                p.mbox.spool.rename(&token, &Entry::Spool, &Entry::Cut(summed)).unwrap();
                fs::write(spool_path(&Entry::Cut(summed)), &left).unwrap();
            }
            SpoolState::Done => {
                p.mbox.spool.rename(&token, &Entry::Spool, &Entry::Done).unwrap();
                fs::write(spool_path(&Entry::Done), b"").unwrap();
            }
        }

        let result = p.mbox.recover(&token);
        let after = fs::read(p.path()).ok();
        if mbox_gone {
            prop_assert!(after.is_none(), "recovery never creates the mbox");
            return Ok(());
        }
        let after = after.unwrap();
        let off = usize::try_from(offset).unwrap();
        let keep = off.min(contents.len());
        prop_assert!(after.len() >= keep, "cut below the recorded offset");
        prop_assert_eq!(&after[..keep], &contents[..keep], "a byte before the offset changed");
        let ours_at_offset = contents.len() >= off && contents[off..].starts_with(&entry);
        match &result {
            Err(_) => prop_assert_eq!(&after, &contents, "a failed recovery changed the mbox"),
            Ok(true) => {
                prop_assert_eq!(&after, &contents, "a landed message is left as it is");
                match state {
                    SpoolState::Done | SpoolState::At { emptied: true } => {}
                    SpoolState::At { emptied: false } | SpoolState::AtSum { .. } => {
                        prop_assert!(ours_at_offset)
                    }
                    other => prop_assert!(false, "landed from {other:?}"),
                }
            }
            Ok(false) => {
                if after != contents {
                    // Cut back: exactly to the offset, and what went was a
                    // beginning of our own bytes.
                    prop_assert_eq!(after.len(), off);
                    let gone = &contents[off..];
                    let unfinished_from = state.lost()
                        && (b"From ".starts_with(gone) || gone.starts_with(b"From "))
                        && !gone.contains(&b'\n')
                        && gone.len() < entry.len();
                    prop_assert!(
                        entry.starts_with(gone) || unfinished_from,
                        "removed bytes that were not ours"
                    );
                    prop_assert!(state.appending(), "cut back from {state:?}");
                }
                // "Not landed" means fetched again: the message must not be
                // there whole, or it would be delivered twice (a failed
                // append, `.cut-`, is rolled back whole).
                // (Only an append that began can have put it there.)
                let now_there = after.len() >= off && after[off..].starts_with(&entry);
                if state.appending() {
                    prop_assert!(!now_there, "said not landed, but the message is in the mbox");
                }
            }
        }
        // Whole after a begun append (spool intact, not a failed one):
        // recovery must say landed, or the next run delivers it twice.
        if matches!(state, SpoolState::At { emptied: false } | SpoolState::AtSum { .. })
            && ours_at_offset
        {
            prop_assert!(matches!(result, Ok(true)), "{result:?}");
        }
        // Asked again, the answer stands (a state save may have failed).
        if let Ok(first) = result {
            let again = p.mbox.recover(&token);
            prop_assert!(matches!(again, Ok(a) if a == first), "{first} then {again:?}");
            prop_assert_eq!(fs::read(p.path()).unwrap(), after);
        }
    }
}
