//! mbox delivery in the mboxrd format, exactly once across crashes.
//!
//! ## Format
//!
//! Each message is appended as `From <sender> <date>\n`, the message
//! quoted as mboxrd ([`mod@format`]), a newline if the message lacked a final
//! one, and one empty line. The sender is the envelope sender
//! (Return-Path, else From, else `MAILER-DAEMON`; never a word with
//! spaces), the date is the delivery time in UTC, asctime style
//! (`Thu Jan  4 09:05:01 2024`), as Dovecot writes it.
//!
//! ## Locking
//!
//! While appending, and while recovery looks at the file, popfetch holds
//! the mbox's dotlock and an fcntl lock on it, as procmail, Dovecot and
//! mutt do ([`lock`]).
//!
//! ## Symbolic links
//!
//! The mbox path is the one file popfetch writes through a symbolic link,
//! since users make them (`~/mbox -> /var/mail/alice`), but only a link the
//! user could have made to a file of the user's: every link on the way
//! must belong to the user (or root), and the file it leads to to the
//! user. Otherwise the open is refused with a message that says which link
//! or file belongs to whom: whoever owns such a link chooses which file
//! mail, text any stranger can write, is appended to. The links are
//! resolved when the target is opened, and from then on popfetch works on
//! the file itself, without following links: the dotlock is taken next to
//! it, where other mail programs look for it.
//!
//! ## The protocol, and what a crash at any instant leaves
//!
//! While the message arrives it is written, already in its final form
//! (`From ` line, quoted body, trailing empty line), into the spool file
//! `<token>` (see [`super::spool`]), and summed (SHA-256) on the way; the
//! `From ` line is written once the header section has gone past, so it
//! can name the sender. `commit` only queues it. Messages land in groups,
//! at each group commit of the fetch ([`Mbox::sync_start`]), on a helper
//! thread while the fetch reads on; [`Mbox::sync_wait`] reports how it
//! went. Before a group commit the journal has recorded, and fsynced,
//! every `<token>` of the batch, and every message of the batches before
//! it as done. The helper thread:
//!
//! 1. locks the mbox and reads its length `off` (first adding a newline if
//!    the file does not end with one, so our `From ` starts a line, and
//!    fsyncing it);
//! 2. renames each spool to `<token>.at-<off>-<len>-<head>-<headsum>-<sum>`,
//!    each `off` where the one before ends, `<head>` the length of its
//!    `From ` line, `<headsum>` and `<sum>` the sums of that line and of
//!    all `len` bytes, and fsyncs the spool directory once: from here on
//!    recovery knows where the bytes go and what they are. The spool
//!    files themselves are never fsynced: recovery can do without their
//!    bytes;
//! 3. appends the spools' bytes in that order and fsyncs the mbox once; on
//!    any failure cuts the mbox back to the batch's `off` (and fsyncs),
//!    removes the spools, and fails;
//! 4. unlocks, and renames each spool to `<token>.done` (not synced: a lost
//!    rename leaves the `.at-` name, which recovery reads correctly);
//! 5. removes the `.done` files of the batches before: the journal records
//!    them as done, so recovery will not ask.
//!
//! A crash in step 3 leaves a torn batch: recovery settles each token on
//! its own as below, so the messages appended whole stay, the torn one is
//! cut back, and those after it never began.
//!
//! Recovery of `<token>` ([`Mbox::recover`]) looks at what is left, under
//! the locks:
//!
//! - `<token>.done`: landed (step 4 and later).
//! - `<token>.at-<span>` with sums (steps 2 and later): if the spool file
//!   still holds exactly the bytes appended (its size and sum match; always
//!   so after a kill), the bytes decide as below. After a power failure it
//!   may hold anything, and the mbox from `off` is judged by the sums:
//!   - the file is shorter than `off`: it was rewritten; not landed.
//!   - the `len` bytes from `off` have the sum `<sum>`: landed.
//!   - fewer than `<head>` bytes follow `off`, a beginning of `From ` or
//!     starting with it, with no newline: an unfinished `From ` line,
//!     ours torn (whoever wrote it, no message is there). Cut back to
//!     `off`: not landed.
//!   - the `<head>` bytes from `off` have another sum: our append never
//!     began and someone else's mail is there; not landed.
//!   - the file ends inside our span, and no line after our `From ` line
//!     starts with `From `: a torn append (mboxrd quoting leaves no such
//!     line in ours, and we held the locks while appending). Cut back to
//!     `off`: not landed.
//!   - otherwise other mail follows some of ours: refused, as below.
//! - `<token>.at-<off>-<len>` of an earlier version, whose spool was
//!   fsynced before the append and emptied after it: not `<len>` bytes
//!   long, landed; otherwise the bytes decide.
//! - The bytes decide: compare the mbox from `off` with the spool.
//!   - all `len` bytes equal: landed (the append finished; it may or may
//!     not have been fsynced, but the kernel has it).
//!   - the file ends inside our bytes, all equal so far: a torn append.
//!     Cut the file back to `off`: not landed.
//!   - different bytes within our `From ` line (or the file is shorter
//!     than `off`): our append never began and someone else's mail is
//!     there, or the file was rewritten: nothing of ours is there, not
//!     landed.
//!   - some of our bytes, then different ones: a torn append that another
//!     program appended after. Cutting would destroy its mail, so recovery
//!     refuses with an error that names the file, the byte range and the
//!     spool file to delete once the partial message is removed by hand.
//! - `<token>` (before step 2): never touched the mbox; not landed.
//! - nothing: the message never got as far as a spool file; not landed.
//!
//! Judged by sums, other mail that another program appended after a torn
//! append of ours is told from ours by its `From ` line starting a line:
//! mail glued to our torn bytes without a newline would be cut with them.
//! That takes a power failure in step 3 that also lost the spool's bytes,
//! and a mail program that appends without ending the last line first.
//!
//! A `<token>.cut-<span>` file is a failed append whose cut-back also
//! failed (step 3); the next run retries the cut ([`Mbox::after_recovery`]),
//! the last of a batch first, judging the span as above, except that our
//! message, even whole, is cut back when nothing follows it.
//! The fsyncs above (journal, spool directory, mbox, in that order) are
//! what makes the same true after a power failure.

pub(crate) mod format;
mod lock;
#[cfg(test)]
mod proptests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::spool::{Entry, Span, SpoolDir, Spooled, Sum};
use super::{DeliverError, InFlight};
use crate::state::{NOFOLLOW, create_private_dir, explain_link, open_private, sync_dir};
use format::{FromQuoter, from_line};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use format::{quote_in_chunks, unquote};
use lock::{LOCK_WAIT, MboxLock, process_lock};

pub(crate) struct Mbox {
    path: PathBuf,
    spool: SpoolDir,
    lock_wait: Duration,
    /// Spooled and committed, waiting for the next group commit
    /// ([`Mbox::sync_start`]).
    pending: Vec<Pending>,
    /// The group commit running on a helper thread: the tokens it landed.
    in_flight: Option<InFlight<Vec<String>>>,
    /// Tokens of earlier batches that landed: their `.done` markers go
    /// at the next group commit, when the journal records them as done.
    landed: Vec<String>,
    /// Tests: fail the append after this many bytes.
    #[cfg(test)]
    fail_after: Option<usize>,
}

impl Mbox {
    /// Check that the mbox can be appended to, creating it (0600, and its
    /// missing parent directories 0700) when it does not exist.
    pub(super) fn open(path: &Path, spool: SpoolDir) -> Result<Mbox, DeliverError> {
        let open_err = |source| DeliverError::MboxOpen {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent).map_err(open_err)?;
        }
        let path = resolve_links(path).map_err(open_err)?;
        let _guard = process_lock();
        open_mbox(&path).map_err(open_err)?;
        Ok(Mbox {
            path,
            spool,
            lock_wait: LOCK_WAIT,
            pending: Vec::new(),
            in_flight: None,
            landed: Vec::new(),
            #[cfg(test)]
            fail_after: None,
        })
    }

    pub(super) fn next_token(&mut self) -> String {
        self.spool.next_token()
    }

    pub(super) fn create(&mut self, token: &str) -> Result<MboxMessage<'_>, DeliverError> {
        Ok(MboxMessage {
            spooled: Spooled::create(&self.spool, token)?,
            mbox: self,
            quoter: FromQuoter::default(),
            held: Some(Vec::new()),
            scratch: Vec::new(),
            last: None,
            all: Sha256::new(),
            head: None,
        })
    }

    /// Once recovery has settled the journal, remove what earlier runs
    /// left, since no record names it any more: `.done` markers, spools
    /// that never reached the mbox, and `.at-` markers. Retry the cut-back
    /// of appends that failed. Only the first call of a run does anything.
    pub(super) fn after_recovery(&mut self) -> Result<(), DeliverError> {
        if !self.spool.take_sweep() {
            return Ok(());
        }
        for (token, entry) in self.spool.entries()? {
            match entry {
                Entry::Done | Entry::Spool => self.spool.remove(&token, &entry)?,
                Entry::Cut(span) => {
                    // Last first: a failed group commit leaves one per
                    // message, each cut back only with nothing after it.
                    self.settle_cuts_after(span.offset)?;
                    if self.spool.entries_of(&token)?.contains(&entry) {
                        self.settle(&token, &entry, span, true)?;
                    }
                }
                // Every journal record is settled, so nothing needs it:
                // recovery marked or removed those it asked about, and one
                // the journal called done is left by a `.done` rename
                // that failed or was lost.
                Entry::At(Span { sum: Some(_), .. }) => self.spool.remove(&token, &entry)?,
                // An earlier version's. Only a lost rename after a power
                // failure leaves one that no journal names; an emptied one
                // was delivered.
                Entry::At(Span { len, sum: None, .. }) => {
                    let size = fs::metadata(self.spool.path(&entry.name(&token)))
                        .map(|m| m.len())
                        .unwrap_or(len);
                    if size != len {
                        self.spool.remove(&token, &entry)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// After a crash: did the message journalled as `token` land? See the
    /// module doc for the decision table. A token the spool could not have
    /// made finds no spool file: not landed, and nothing is touched.
    pub(super) fn recover(&self, token: &str) -> Result<bool, DeliverError> {
        let entries = self.spool.entries_of(token)?;
        if entries.contains(&Entry::Done) {
            return Ok(true);
        }
        for entry in &entries {
            match *entry {
                Entry::At(span) => return self.settle(token, entry, span, false),
                Entry::Cut(span) => {
                    self.settle_cuts_after(span.offset)?;
                    return self.settle(token, entry, span, true);
                }
                Entry::Spool | Entry::Done => {}
            }
        }
        if entries.contains(&Entry::Spool) {
            self.spool.remove(token, &Entry::Spool)?;
        }
        Ok(false)
    }

    /// Decide about a spool that was being appended at `span.offset`. With
    /// `roll_back`, the message must not stay even if it is whole (its
    /// delivery was reported as failed).
    fn settle(
        &self,
        token: &str,
        entry: &Entry,
        span: Span,
        roll_back: bool,
    ) -> Result<bool, DeliverError> {
        let Span { offset, len, sum } = span;
        let spool_path = self.spool.path(&entry.name(token));
        let spool_err = |source| DeliverError::Spool {
            path: spool_path.clone(),
            source,
        };
        let spool = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(NOFOLLOW)
            .open(&spool_path)
            .map_err(|e| spool_err(explain_link(e)))?;
        let size = spool.metadata().map_err(spool_err)?.len();
        // An earlier version's spool was fsynced before the append and
        // emptied after it: emptied means landed.
        if sum.is_none() && size != len && !roll_back {
            let _ = self.spool.mark_done(token, entry, &spool);
            return Ok(true);
        }
        // Ours are never fsynced: after a power failure the file may hold
        // anything, and counts only if it is exactly what was appended.
        let spool_intact = match sum {
            None => true,
            Some(s) => size == len && sum_of(&spool, 0, len).map_err(spool_err)?.1 == s.sum,
        };
        let _guard = process_lock();
        if !self.path.exists() {
            // The mbox is gone: nothing of ours can be in it.
            self.spool.remove(token, entry)?;
            return Ok(false);
        }
        let lock = MboxLock::acquire(&self.path, self.lock_wait)?;
        let mbox_err = |source| DeliverError::Write {
            path: self.path.clone(),
            source,
        };
        let file_len = lock.file.metadata().map_err(mbox_err)?.len();
        let found = match sum {
            Some(s) if !spool_intact => judge_by_sum(&lock.file, file_len, offset, len, s),
            _ => judge_by_bytes(&lock.file, file_len, offset, len, &spool),
        }
        .map_err(mbox_err)?;
        let foreign = |end| DeliverError::MboxForeign {
            path: self.path.clone(),
            offset,
            end,
            spool: spool_path.clone(),
        };
        match found {
            Found::Nothing => {
                drop(lock);
                self.spool.remove(token, entry)?;
                return Ok(false);
            }
            Found::Whole if !roll_back => {
                let _ = self.spool.mark_done(token, entry, &spool);
                return Ok(true);
            }
            Found::Whole if file_len > offset + len => return Err(foreign(offset + len)),
            Found::Foreign { end } => return Err(foreign(end)),
            Found::Whole | Found::Torn => {}
        }
        // Our bytes, and nothing after them: cut them off.
        if file_len > offset {
            cut_back(&lock.file, offset).map_err(|source| DeliverError::CutBack {
                path: self.path.clone(),
                offset,
                source,
            })?;
        }
        drop(lock);
        self.spool.remove(token, entry)?;
        Ok(false)
    }

    /// Cut back, last first, the appends of a failed group commit that
    /// lie after `offset`: each is cut only with nothing after it.
    fn settle_cuts_after(&self, offset: u64) -> Result<(), DeliverError> {
        let mut later: Vec<(String, Entry, Span)> = self
            .spool
            .entries()?
            .into_iter()
            .filter_map(|(token, entry)| match entry {
                Entry::Cut(span) if span.offset > offset => Some((token, entry, span)),
                _ => None,
            })
            .collect();
        later.sort_by_key(|l| std::cmp::Reverse(l.2.offset));
        for (token, entry, span) in later {
            self.settle(&token, &entry, span, true)?;
        }
        Ok(())
    }

    /// Start the group commit of every message committed since the last
    /// one ([`Append::run`]) on a helper thread, so that the fetch goes on
    /// reading the network meanwhile; [`Mbox::sync_wait`] reports how it
    /// went. At most one batch is in flight: this first waits for the one
    /// before.
    ///
    /// The fetch calls this only once the journal durably records every
    /// message of the batches before as done, so their `.done` markers
    /// are removed here (after the append, off the lock).
    pub(super) fn sync_start(&mut self) -> Result<(), DeliverError> {
        self.sync_wait()?;
        let batch = std::mem::take(&mut self.pending);
        if batch.is_empty() {
            return Ok(());
        }
        let done = std::mem::take(&mut self.landed);
        let job = Append {
            path: self.path.clone(),
            spool: self.spool.clone(),
            lock_wait: self.lock_wait,
            #[cfg(test)]
            fail_after: self.fail_after,
        };
        // No thread to be had: the batch goes with the failed start; its
        // spools were never renamed, so recovery says "not landed" and
        // removes them.
        self.in_flight = Some(InFlight::start("mbox-append", &self.path, move || {
            let landed = job.run(batch);
            for token in done {
                // A marker left behind is swept by the next run.
                let _ = job.spool.remove(&token, &Entry::Done);
            }
            landed
        })?);
        Ok(())
    }

    /// Wait for the batch [`Mbox::sync_start`] sent off; when this returns
    /// Ok, those messages are in the mbox, durably.
    pub(super) fn sync_wait(&mut self) -> Result<(), DeliverError> {
        if let Some(commit) = self.in_flight.take() {
            self.landed.extend(commit.wait()?);
        }
        Ok(())
    }

    /// Once the state records every message this run delivered and the
    /// journal is cleared: remove the last batch's `.done` markers, which
    /// still hold their messages' bytes, rather than leave them in the
    /// state directory until the next run. A marker left (a failed
    /// removal) is swept by the next run.
    pub(super) fn forget_landed(&mut self) {
        for token in std::mem::take(&mut self.landed) {
            let _ = self.spool.remove(&token, &Entry::Done);
        }
    }

    /// The group commit, start to end, on the calling thread's time.
    #[cfg(test)]
    pub(super) fn append_batch(&mut self) -> Result<(), DeliverError> {
        self.sync_start()?;
        self.sync_wait()
    }

    /// After a failed delivery: remove the spools committed but never
    /// appended (nothing recorded them; they are fetched again), once a
    /// batch in flight has finished (recovery settles it).
    pub(super) fn discard_unsynced(&mut self) {
        let _ = self.sync_wait();
        for p in std::mem::take(&mut self.pending) {
            let _ = self.spool.remove(&p.token, &Entry::Spool);
        }
    }
}

impl Drop for Mbox {
    /// A batch still in flight (only a panic leaves one) must finish
    /// before the run lock is released, or the next run's recovery could
    /// race it.
    fn drop(&mut self) {
        let _ = self.sync_wait();
    }
}

/// What one group commit needs, moved to its thread.
struct Append {
    path: PathBuf,
    spool: SpoolDir,
    lock_wait: Duration,
    #[cfg(test)]
    fail_after: Option<usize>,
}

impl Append {
    /// Steps 1 to 4 of the protocol for `batch`, under one lock, with one
    /// fsync of the spool directory and one of the mbox. Each spool is
    /// renamed to its own `<token>.at-<span>`, the offsets following one
    /// another, so recovery settles each as it would a message appended
    /// alone (a torn batch: those whole before the tear landed, the torn
    /// one is cut back, those after it never began). On a failure the mbox
    /// is cut back to where the batch began and no message of it landed.
    /// Returns the tokens that landed.
    fn run(&self, batch: Vec<Pending>) -> Result<Vec<String>, DeliverError> {
        let drop_spools = |batch: &[Pending], entry: &dyn Fn(usize) -> Entry| {
            for (i, p) in batch.iter().enumerate() {
                let _ = self.spool.remove(&p.token, &entry(i));
            }
        };
        let _guard = process_lock();
        let (mut lock, start) = match self.lock_at_end() {
            Ok(locked) => locked,
            Err(e) => {
                drop_spools(&batch, &|_| Entry::Spool);
                return Err(e);
            }
        };
        let mut ats = Vec::with_capacity(batch.len());
        let mut offset = start;
        for p in &batch {
            ats.push(Entry::At(Span {
                offset,
                len: p.len,
                sum: Some(p.sum),
            }));
            offset += p.len;
        }
        for (i, p) in batch.iter().enumerate() {
            if let Err(source) = self.spool.rename(&p.token, &Entry::Spool, &ats[i]) {
                // Nothing was written: no message of the batch landed.
                drop_spools(&batch, &|k| {
                    if k < i { ats[k].clone() } else { Entry::Spool }
                });
                return Err(DeliverError::Spool {
                    path: self.spool.path(&p.token),
                    source,
                });
            }
        }
        if let Err(e) = self.spool.sync() {
            drop_spools(&batch, &|k| ats[k].clone());
            return Err(e);
        }
        let mut written = Ok(());
        let mut before = 0;
        for (p, at) in batch.iter().zip(&ats) {
            let copied = OpenOptions::new()
                .read(true)
                .custom_flags(NOFOLLOW)
                .open(self.spool.path(&at.name(&p.token)))
                .and_then(|spool| self.copy(&spool, &mut lock.file, p.len, before));
            match copied {
                Ok(()) => before += p.len,
                Err(e) => {
                    written = Err(e);
                    break;
                }
            }
        }
        let written = written.and_then(|()| lock.file.sync_data());
        if let Err(source) = written {
            return Err(match cut_back(&lock.file, start) {
                Ok(()) => {
                    drop(lock);
                    drop_spools(&batch, &|k| ats[k].clone());
                    DeliverError::Write {
                        path: self.path.clone(),
                        source,
                    }
                }
                Err(cut) => {
                    // Leave them for the next run to cut back.
                    for (p, at) in batch.iter().zip(&ats) {
                        if let Entry::At(span) = *at {
                            let _ = self.spool.rename(&p.token, at, &Entry::Cut(span));
                        }
                    }
                    DeliverError::CutBack {
                        path: self.path.clone(),
                        offset: start,
                        source: io::Error::new(cut.kind(), format!("{source}; then {cut}")),
                    }
                }
            });
        }
        drop(lock);
        // Landed. Not synced, and the bytes are left in the file: a lost
        // rename leaves the `.at-` name, which recovery reads correctly,
        // and the file goes soon ([`Mbox::sync_start`]).
        let mut landed = Vec::with_capacity(batch.len());
        for (p, at) in batch.into_iter().zip(&ats) {
            let _ = self.spool.rename(&p.token, at, &Entry::Done);
            landed.push(p.token);
        }
        Ok(landed)
    }

    /// Step 1: lock the mbox, end it with an empty line if it does not
    /// (fsynced), and return the lock and the offset where the batch goes.
    fn lock_at_end(&self) -> Result<(MboxLock, u64), DeliverError> {
        let mut lock = MboxLock::acquire(&self.path, self.lock_wait)?;
        let at_end = (|| {
            let len = lock.file.metadata()?.len();
            let missing = missing_separator(&lock.file, len)?;
            if !missing.is_empty() {
                // Another program left its last message without the final
                // newline or the empty line after it: our From line must
                // start a line of its own, after an empty one.
                lock.file.write_all(missing)?;
                lock.file.sync_data()?;
            }
            Ok(len + missing.len() as u64)
        })();
        match at_end {
            Ok(start) => Ok((lock, start)),
            Err(source) => Err(DeliverError::Write {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Append `len` bytes of `spool`; `before` bytes of the batch went
    /// before it (tests fail after `fail_after` bytes of a batch).
    fn copy(&self, spool: &File, out: &mut File, len: u64, before: u64) -> io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_after {
            let left = n.saturating_sub(usize::try_from(before).unwrap_or(usize::MAX));
            return copy_spool(spool, &mut FailAfter { out, left }, len);
        }
        let _ = before;
        copy_spool(spool, out, len)
    }
}

/// What recovery finds in the mbox at a recorded span.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// Nothing of ours: the append never began, or the file was rewritten.
    Nothing,
    /// All our bytes (other mail may follow).
    Whole,
    /// A beginning of our bytes, and nothing after them.
    Torn,
    /// Some of our bytes, then other mail, up to about `end`.
    Foreign { end: u64 },
}

/// [`Found`] by comparing the mbox with the spool file's bytes (an intact
/// spool).
fn judge_by_bytes(
    file: &File,
    file_len: u64,
    offset: u64,
    len: u64,
    spool: &File,
) -> io::Result<Found> {
    let first_line = first_line_len(spool)?;
    let avail = file_len.saturating_sub(offset).min(len);
    let same = common_prefix(file, offset, spool, avail)?;
    Ok(
        if file_len < offset || (same < avail && same < first_line) {
            Found::Nothing
        } else if same == len {
            Found::Whole
        } else if same < avail {
            Found::Foreign { end: offset + same }
        } else {
            Found::Torn
        },
    )
}

/// [`Found`] from the sums the marker's name records, when the spool file
/// lost its bytes (it is never fsynced). The `From ` line's sum says
/// whether our append began there. After it our bytes hold no line that
/// starts with `From ` (mboxrd quotes them), and we held the locks while
/// appending, so a file that ends inside our span with no such line after
/// our `From ` line holds a torn append of ours; one with such a line holds
/// other mail after it. A file that ends inside our `From ` line with a
/// beginning of `From ` and no newline holds an unfinished `From ` line,
/// no message: ours torn, cut back like one.
fn judge_by_sum(file: &File, file_len: u64, offset: u64, len: u64, s: Sum) -> io::Result<Found> {
    if file_len < offset {
        return Ok(Found::Nothing);
    }
    let avail = file_len - offset;
    if avail >= len && sum_of(file, offset, len)?.1 == s.sum {
        return Ok(Found::Whole);
    }
    if avail < s.head {
        // Read in pieces: `<head>` comes from a name, not from us.
        let mut start = [0u8; 5];
        let n = usize::try_from(avail).map_or(start.len(), |a| a.min(start.len()));
        file.read_exact_at(&mut start[..n], offset)?;
        let unfinished = start[..n] == b"From "[..n] && !holds(file, b"\n", offset, file_len)?;
        return Ok(if unfinished {
            Found::Torn
        } else {
            Found::Nothing
        });
    }
    if sum_of(file, offset, s.head)?.0 != s.head_sum {
        return Ok(Found::Nothing);
    }
    // Our From line ends in a newline: the search starts there.
    let after_head = offset + s.head - 1;
    if avail < len && !holds(file, b"\nFrom ", after_head, file_len)? {
        return Ok(Found::Torn);
    }
    Ok(Found::Foreign {
        end: file_len.min(offset.saturating_add(len)),
    })
}

/// Whether `file` holds `needle` (not empty) between `from` and `to`.
fn holds(file: &File, needle: &[u8], from: u64, to: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; CHUNK];
    let mut pos = from;
    while pos < to {
        let n = file.read_at(&mut buf[..chunk(to - pos)], pos)?;
        if n == 0 {
            break;
        }
        if buf[..n].windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
        if pos + (n as u64) >= to {
            break;
        }
        // Step back so that a needle across two reads is found.
        pos += (n.saturating_sub(needle.len().saturating_sub(1))).max(1) as u64;
    }
    Ok(false)
}

/// The sums of `len` bytes of `file` from `offset`: (64 bits, 128 bits)
/// of their SHA-256.
fn sum_of(file: &File, offset: u64, len: u64) -> io::Result<(u64, u128)> {
    let mut hasher = Sha256::new();
    read_span(
        file,
        offset,
        len,
        "the file is shorter than the sum covers",
        |b| {
            hasher.update(b);
            Ok(())
        },
    )?;
    Ok(truncated(hasher))
}

/// How many bytes the loops over file ranges read at a time.
const CHUNK: usize = 64 * 1024;

/// The size of the next read when `left` bytes are still wanted.
fn chunk(left: u64) -> usize {
    usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK))
}

/// Hand the `len` bytes of `file` from `offset` to `each`, a chunk at a
/// time; `short` is the error when the file ends first.
fn read_span(
    file: &File,
    offset: u64,
    len: u64,
    short: &'static str,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < len {
        let n = file.read_at(&mut buf[..chunk(len - pos)], offset + pos)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, short));
        }
        each(&buf[..n])?;
        pos += n as u64;
    }
    Ok(())
}

/// A SHA-256 cut to its first 64 and first 128 bits.
fn truncated(hasher: Sha256) -> (u64, u128) {
    let digest = hasher.finalize();
    let mut b16 = [0u8; 16];
    b16.copy_from_slice(&digest[..16]);
    let mut b8 = [0u8; 8];
    b8.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(b8), u128::from_be_bytes(b16))
}

/// The longest chain of links [`resolve_links`] follows.
const MAX_LINKS: usize = 40;

/// The file the configured mbox path leads to, through the symbolic links
/// the module doc allows; the path itself when it is no link (or does not
/// exist yet). A link that leads nowhere yet gives the path it leads to.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let me = rustix::process::geteuid().as_raw();
    let mut at = path.to_path_buf();
    let mut followed = false;
    for _ in 0..MAX_LINKS {
        let meta = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(at),
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            if followed && meta.uid() != me {
                return Err(io::Error::other(format!(
                    "it is a symbolic link to {}, which belongs to another user (uid {}): \
                     popfetch appends through a link only to a file of yours; name the mbox \
                     file itself if it is meant",
                    at.display(),
                    meta.uid()
                )));
            }
            return Ok(at);
        }
        if meta.uid() != me && meta.uid() != 0 {
            return Err(io::Error::other(format!(
                "the symbolic link {} belongs to another user (uid {}), who could point it at \
                 any file of yours, so popfetch does not follow it: remove it, or name the mbox \
                 file itself",
                at.display(),
                meta.uid()
            )));
        }
        let target = fs::read_link(&at)?;
        at = match at.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
        followed = true;
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links lead from it: name the mbox file itself"
    )))
}

/// Open the mbox for reading and appending, creating it (0600) if missing.
/// Refuses anything but a regular file (a FIFO would block, a directory
/// cannot hold mail), and a link: `path` is where [`resolve_links`] led.
fn open_mbox(path: &Path) -> io::Result<File> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() && !m.file_type().is_symlink() => {
            return Err(io::Error::other("it exists and is not a regular file"));
        }
        _ => {}
    }
    match open_private(
        OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .custom_flags(NOFOLLOW),
        path,
    ) {
        Ok(f) => {
            // The file's name must outlive a power failure as its bytes do.
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(dir)?;
            }
            Ok(f)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .read(true)
            .append(true)
            .custom_flags(NOFOLLOW)
            .open(path)
            .map_err(explain_link),
        Err(e) => Err(explain_link(e)),
    }
}

/// What a non-empty mbox of `len` bytes lacks at its end before a new
/// message: nothing if it ends with an empty line.
fn missing_separator(file: &File, len: u64) -> io::Result<&'static [u8]> {
    let mut end = [0u8; 2];
    let start = len.saturating_sub(2);
    let n = usize::try_from(len - start).unwrap_or(2);
    file.read_exact_at(&mut end[..n], start)?;
    Ok(match &end[..n] {
        [] | [b'\n', b'\n'] => b"",
        [b'\n'] | [_, b'\n'] => b"\n",
        _ => b"\n\n",
    })
}

fn cut_back(file: &File, len: u64) -> io::Result<()> {
    file.set_len(len)?;
    file.sync_data()
}

fn copy_spool(spool: &File, out: &mut dyn Write, len: u64) -> io::Result<()> {
    read_span(
        spool,
        0,
        len,
        "the spool file is shorter than it was written",
        |b| out.write_all(b),
    )
}

/// How many leading bytes of `file` from `offset` equal the spool's, up to
/// `limit`.
fn common_prefix(file: &File, offset: u64, spool: &File, limit: u64) -> io::Result<u64> {
    let mut a = vec![0u8; CHUNK];
    let mut b = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < limit {
        let n = file.read_at(&mut a[..chunk(limit - pos)], offset + pos)?;
        let m = spool.read_at(&mut b[..n], pos)?;
        let k = n.min(m);
        if let Some(i) = a[..k].iter().zip(&b[..k]).position(|(x, y)| x != y) {
            return Ok(pos + i as u64);
        }
        if k == 0 {
            break;
        }
        pos += k as u64;
    }
    Ok(pos)
}

/// Length of the spool's first line (its `From ` line) with the newline.
fn first_line_len(spool: &File) -> io::Result<u64> {
    let mut buf = vec![0u8; 4096];
    let n = spool.read_at(&mut buf, 0)?;
    Ok(buf[..n]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(n, |i| i + 1) as u64)
}

/// A message being spooled for the mbox. Dropped without commit, its spool
/// file is removed.
pub(super) struct MboxMessage<'a> {
    mbox: &'a mut Mbox,
    spooled: Spooled,
    quoter: FromQuoter,
    /// Quoted bytes held back until the header section is complete and
    /// the `From ` line can be written.
    held: Option<Vec<u8>>,
    scratch: Vec<u8>,
    /// The last byte of the message as received.
    last: Option<u8>,
    /// Every byte spooled, for the marker's sum.
    all: Sha256,
    /// The `From ` line's length and sum, once written.
    head: Option<(u64, u64)>,
}

impl MboxMessage<'_> {
    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(held) = &mut self.held {
            held.extend_from_slice(bytes);
            return Ok(());
        }
        self.put(bytes)
    }

    /// Spool `bytes`, summing them on the way (cheaper than reading the
    /// spool again).
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.all.update(bytes);
        self.spooled.put(bytes)
    }

    /// Write the `From ` line and what was held back.
    fn release(&mut self) -> io::Result<()> {
        if let Some(held) = self.held.take() {
            let line = from_line(&self.spooled.headers().sender(), jiff::Timestamp::now());
            let head_sum = truncated(Sha256::new_with_prefix(line.as_bytes())).0;
            self.head = Some((line.len() as u64, head_sum));
            self.put(line.as_bytes())?;
            self.put(&held)?;
        }
        Ok(())
    }

    /// Complete the entry (the group commit makes it durable); returns it,
    /// its length and its sums.
    fn finish(&mut self) -> io::Result<(File, u64, Sum)> {
        let mut tail = Vec::new();
        self.quoter.finish(&mut tail);
        if self.last.is_some_and(|b| b != b'\n') {
            tail.push(b'\n');
        }
        tail.push(b'\n');
        self.emit(&tail)?;
        self.release()?;
        let file = self.spooled.finish()?;
        let (head, head_sum) = self
            .head
            .ok_or_else(|| io::Error::other("the From line was never written"))?;
        let sum = Sum {
            head,
            head_sum,
            sum: truncated(std::mem::take(&mut self.all)).1,
        };
        Ok((file, self.spooled.size(), sum))
    }
}

impl Write for MboxMessage<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.spooled.capture(buf);
        self.last = buf.last().copied();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        self.quoter.push(buf, &mut scratch);
        let r = self.emit(&scratch).and_then(|()| {
            if self.spooled.headers().is_complete() {
                self.release()
            } else {
                Ok(())
            }
        });
        self.scratch = scratch;
        r.map_err(|e| self.spooled.io_error(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.spooled.flush()
    }
}

impl super::Sink for MboxMessage<'_> {
    /// Queue the spooled message for the next group commit
    /// ([`Mbox::sync_start`]).
    fn commit(mut self: Box<Self>) -> Result<String, DeliverError> {
        let (spool, len, sum) = self.finish().map_err(|e| self.spooled.error(e))?;
        drop(spool);
        // From here the spool file's fate is the protocol's business.
        self.spooled.keep();
        let token = self.spooled.token().to_string();
        self.mbox.pending.push(Pending { token, len, sum });
        Ok(self.mbox.path.display().to_string())
    }
}

/// A message spooled and committed, not yet appended.
struct Pending {
    token: String,
    len: u64,
    sum: Sum,
}

/// Tests: a writer that fails after `left` bytes.
#[cfg(test)]
struct FailAfter<'a> {
    out: &'a mut File,
    left: usize,
}

#[cfg(test)]
impl Write for FailAfter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device (simulated)",
            ));
        }
        let n = buf.len().min(self.left);
        let n = self.out.write(&buf[..n])?;
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::format::unquote;
    use super::lock::dotlock_path;
    use super::*;
    use crate::deliver::{Sink, hostname};
    use std::os::unix::fs::PermissionsExt;
    use std::time::SystemTime;

    /// A strict mboxrd reader: (From line, message) pairs.
    fn read_mbox(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"From ") {
                out.push((String::from_utf8_lossy(line).into_owned(), Vec::new()));
            } else {
                out.last_mut()
                    .expect("an mbox starts with a From line")
                    .1
                    .extend_from_slice(line);
            }
        }
        out.into_iter()
            .map(|(from, mut body)| {
                assert!(body.ends_with(b"\n\n") || body == b"\n", "{body:?}");
                body.pop();
                (from, unquote(&body))
            })
            .collect()
    }

    /// What a marker and its spool file look like when recovery runs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        /// An earlier version's `<off>-<len>` name; its spool was fsynced.
        Legacy,
        /// A name with sums, the spool's bytes intact (a kill).
        Intact,
        /// A name with sums; a power failure lost the spool's bytes: the
        /// file is empty, holds zeros, or other bytes.
        Empty,
        Zeros,
        Garbled,
    }

    const KINDS: [Kind; 5] = [
        Kind::Legacy,
        Kind::Intact,
        Kind::Empty,
        Kind::Zeros,
        Kind::Garbled,
    ];

    impl Kind {
        fn left_of(self, bytes: &[u8]) -> Vec<u8> {
            match self {
                Kind::Legacy | Kind::Intact => bytes.to_vec(),
                Kind::Empty => Vec::new(),
                Kind::Zeros => vec![0; bytes.len()],
                Kind::Garbled => bytes.iter().map(|b| b ^ 1).collect(),
            }
        }
    }

    /// The sums the append of `bytes` records.
    fn sum_for(bytes: &[u8]) -> Sum {
        let head = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        Sum {
            head: head as u64,
            head_sum: truncated(Sha256::new_with_prefix(&bytes[..head])).0,
            sum: truncated(Sha256::new_with_prefix(bytes)).1,
        }
    }

    fn span_of(bytes: &[u8], offset: u64, kind: Kind) -> Span {
        Span {
            offset,
            len: bytes.len() as u64,
            sum: (kind != Kind::Legacy).then(|| sum_for(bytes)),
        }
    }

    struct Fixture {
        dir: tempfile::TempDir,
        mbox: Mbox,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let spool = SpoolDir::open(&dir.path().join("state"), "u@h:110").unwrap();
            let mbox = Mbox::open(&dir.path().join("Mail/inbox"), spool).unwrap();
            Fixture { dir, mbox }
        }

        fn contents(&self) -> Vec<u8> {
            fs::read(&self.mbox.path).unwrap()
        }

        fn deliver(&mut self, msg: &[u8]) -> Result<String, DeliverError> {
            let tok = self.mbox.next_token();
            let mut sink = Box::new(self.mbox.create(&tok).unwrap());
            // Odd chunk sizes: quoting must not depend on them.
            for chunk in msg.chunks(7) {
                sink.write_all(chunk).unwrap();
            }
            let shown = sink.commit()?;
            self.mbox.append_batch()?;
            Ok(shown)
        }

        /// Spool `msg` as commit would, but stop before the mbox is
        /// touched: (token, the exact bytes the append would write).
        fn spooled(&mut self, msg: &[u8]) -> (String, Vec<u8>) {
            let tok = self.mbox.next_token();
            let mut sink = self.mbox.create(&tok).unwrap();
            sink.write_all(msg).unwrap();
            sink.finish().unwrap();
            let path = sink.spooled.keep();
            drop(sink);
            (tok, fs::read(path).unwrap())
        }

        /// Put the spool of `tok` in the state of `entry`.
        fn set_state(&self, tok: &str, entry: &Entry) {
            self.mbox.spool.rename(tok, &Entry::Spool, entry).unwrap();
        }

        /// Rename the spool of `tok`, whose bytes are `bytes`, to its
        /// `.at-` name for `offset`, and leave in it what `kind` says.
        fn at(&self, tok: &str, bytes: &[u8], offset: u64, kind: Kind) -> Entry {
            let at = Entry::At(span_of(bytes, offset, kind));
            self.set_state(tok, &at);
            self.fill(tok, &at, bytes, kind);
            at
        }

        /// Write into the spool file of `tok` (as `entry`) what a crash
        /// of `kind` left of `bytes`.
        fn fill(&self, tok: &str, entry: &Entry, bytes: &[u8], kind: Kind) {
            fs::write(self.mbox.spool.path(&entry.name(tok)), kind.left_of(bytes)).unwrap();
        }

        fn spool_names(&self) -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(self.mbox.spool.dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    #[test]
    fn messages_append_and_parse_back_exactly() {
        let mut f = Fixture::new();
        let msgs: [&[u8]; 5] = [
            b"Return-Path: <x@y.example>\nFrom: A <a@b>\n\nFrom here on\n>From there\n",
            b"From: Bea <bea@example.org>\nSubject: no newline at the end\n\nlast",
            b"Subject: no sender\n\n\n\nFrom \n",
            b"",
            b"Return-Path: <>\n\nbounce\n",
        ];
        for m in msgs {
            let shown = f.deliver(m).unwrap();
            assert!(shown.contains("inbox"), "{shown}");
        }
        let got = read_mbox(&f.contents());
        assert_eq!(got.len(), msgs.len());
        let want_senders = ["x@y.example", "bea@example.org", "MAILER-DAEMON"];
        for (i, ((from, body), m)) in got.iter().zip(msgs).enumerate() {
            let mut want = m.to_vec();
            if !want.is_empty() && !want.ends_with(b"\n") {
                want.push(b'\n');
            }
            assert_eq!(body, &want, "message {i}");
            let sender = from.split(' ').nth(1).unwrap();
            assert_eq!(sender, *want_senders.get(i).unwrap_or(&"MAILER-DAEMON"));
            // From sender Www Mmm dd hh:mm:ss yyyy
            let date = from["From ".len() + sender.len() + 1..].trim_end();
            assert!(
                jiff::fmt::strtime::parse("%a %b %e %H:%M:%S %Y", date).is_ok(),
                "{from:?}"
            );
        }
        // The spool keeps only the last batch's `.done` marker.
        let names = f.spool_names();
        assert!(names.len() == 1 && names[0].ends_with(".done"), "{names:?}");
        // No lock, and none of the lock's temporary files, left behind.
        let names: Vec<_> = fs::read_dir(f.dir.path().join("Mail"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["inbox"]);
    }

    #[test]
    fn created_mbox_is_private_and_existing_content_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SpoolDir::open(&dir.path().join("state"), "u@h:110").unwrap();
        let path = dir.path().join("a/b/mbox");
        let mut m = Mbox::open(&path, spool).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        for d in [dir.path().join("a"), dir.path().join("a/b")] {
            assert_eq!(
                fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        // Someone else's last message lacks its final newline.
        fs::write(&path, "From x Thu Jan  1 00:00:00 1970\nold").unwrap();
        let tok = m.next_token();
        let mut s = Box::new(m.create(&tok).unwrap());
        s.write_all(b"Subject: new\n\nhi\n").unwrap();
        s.commit().unwrap();
        m.append_batch().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("From x Thu Jan  1 00:00:00 1970\nold\n\nFrom MAILER-DAEMON "),
            "{text:?}"
        );
        let got = read_mbox(text.as_bytes());
        assert_eq!(got[0].1, b"old\n");
        assert_eq!(got[1].1, b"Subject: new\n\nhi\n");
        // Ends with a newline but no empty line: only the empty line is added.
        for (old, want) in [
            ("x\n", "x\n\nFrom "),
            ("\n", "\n\nFrom "),
            ("x\n\n", "x\n\nFrom "),
        ] {
            fs::write(&path, old).unwrap();
            let tok = m.next_token();
            let mut s = Box::new(m.create(&tok).unwrap());
            s.write_all(b"Subject: new\n\nhi\n").unwrap();
            s.commit().unwrap();
            m.append_batch().unwrap();
            let text = fs::read_to_string(&path).unwrap();
            assert!(text.starts_with(want), "{old:?}: {text:?}");
        }
        assert!(text.ends_with("\nSubject: new\n\nhi\n\n"), "{text:?}");
    }

    #[test]
    fn failing_append_cuts_the_mbox_back_at_every_length() {
        let mut f = Fixture::new();
        f.deliver(b"Subject: first\n\nkept\n").unwrap();
        let before = f.contents();
        let msg = b"Subject: second\n\nFrom me\nthis one fails\n";
        for k in [0, 1, 5, 30, 60] {
            f.mbox.fail_after = Some(k);
            let err = f.deliver(msg).unwrap_err();
            assert!(matches!(err, DeliverError::Write { .. }), "{err}");
            assert!(err.to_string().contains("No space left"), "{err}");
            assert_eq!(f.contents(), before, "cut back after {k} bytes");
            assert!(
                !f.spool_names()
                    .iter()
                    .any(|n| n.contains(".at-") || n.contains(".cut-")),
                "{:?}",
                f.spool_names()
            );
        }
        f.mbox.fail_after = None;
        f.deliver(msg).unwrap();
        assert_eq!(read_mbox(&f.contents()).len(), 2);
    }

    #[test]
    fn a_failing_group_commit_cuts_the_whole_batch_back() {
        let mut f = Fixture::new();
        f.deliver(b"Subject: first\n\nkept\n").unwrap();
        let before = f.contents();
        let queue = |f: &mut Fixture| {
            for i in 0..3 {
                let tok = f.mbox.next_token();
                let mut s = Box::new(f.mbox.create(&tok).unwrap());
                s.write_all(format!("Subject: {i}\n\nbody {i}\n").as_bytes())
                    .unwrap();
                s.commit().unwrap();
            }
        };
        for k in [0, 10, 80, 150] {
            queue(&mut f);
            f.mbox.fail_after = Some(k);
            let err = f.mbox.append_batch().unwrap_err();
            assert!(err.to_string().contains("No space left"), "{err}");
            assert_eq!(f.contents(), before, "cut back after {k} bytes");
            assert!(
                f.spool_names().iter().all(|n| n.ends_with(".done")),
                "{:?}",
                f.spool_names()
            );
        }
        f.mbox.fail_after = None;
        queue(&mut f);
        f.mbox.append_batch().unwrap();
        let got = read_mbox(&f.contents());
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].1, b"Subject: 2\n\nbody 2\n");
    }

    #[test]
    fn dropped_message_leaves_nothing() {
        let mut f = Fixture::new();
        let tok = f.mbox.next_token();
        let mut s = f.mbox.create(&tok).unwrap();
        s.write_all(b"Subject: half\n\npart").unwrap();
        drop(s);
        assert!(f.spool_names().is_empty());
        assert!(f.contents().is_empty());
        assert!(!f.mbox.recover(&tok).unwrap());
    }

    #[test]
    fn recovery_before_the_spool_and_while_spooling_says_not_landed() {
        let mut f = Fixture::new();
        // Journalled, then killed before the spool file was created.
        let tok = f.mbox.next_token();
        assert!(!f.mbox.recover(&tok).unwrap());
        // Killed while the message arrived (or before the rename).
        let (tok, _) = f.spooled(b"Subject: s\n\nbody\n");
        assert_eq!(f.spool_names(), vec![tok.clone()]);
        assert!(!f.mbox.recover(&tok).unwrap());
        assert!(f.spool_names().is_empty());
        assert!(f.contents().is_empty());
    }

    #[test]
    fn the_marker_records_the_sums_of_the_bytes_appended() {
        let mut f = Fixture::new();
        let tok = f.mbox.next_token();
        let mut sink = Box::new(f.mbox.create(&tok).unwrap());
        sink.write_all(b"Return-Path: <r@x>\n\nFrom a line\nend\n")
            .unwrap();
        sink.commit().unwrap();
        let entry = fs::read(f.mbox.spool.path(&tok)).unwrap();
        let sum = f.mbox.pending.last().map(|p| p.sum);
        assert_eq!(sum, Some(sum_for(&entry)));
        assert_eq!(
            f.mbox.pending.last().map(|p| p.len),
            Some(entry.len() as u64)
        );
        assert_eq!(f.mbox.pending.last().map(|p| p.token.clone()), Some(tok));
    }

    #[test]
    fn recovery_of_an_append_torn_at_every_byte_cuts_it_off() {
        for kind in KINDS {
            let mut f = Fixture::new();
            f.deliver(b"Subject: earlier\n\nstays\n").unwrap();
            let before = f.contents();
            let (tok, entry) = f.spooled(b"Return-Path: <r@x>\n\nFrom a line\nend\n");
            let at = f.at(&tok, &entry, before.len() as u64, kind);
            for k in 0..entry.len() {
                let mut torn = before.clone();
                torn.extend_from_slice(&entry[..k]);
                fs::write(&f.mbox.path, &torn).unwrap();
                // Recovery removes the spool when it says "not landed";
                // put a fresh copy back for the next length.
                f.fill(&tok, &at, &entry, kind);
                assert!(!f.mbox.recover(&tok).unwrap(), "{kind:?}: torn after {k}");
                assert_eq!(f.contents(), before, "{kind:?}: cut back after {k}");
                assert!(f.spool_names().iter().all(|n| n.ends_with(".done")));
            }
        }
    }

    #[test]
    fn recovery_of_a_whole_append_says_landed_and_marks_it() {
        for kind in KINDS {
            let mut f = Fixture::new();
            let (tok, entry) = f.spooled(b"Subject: whole\n\nbody\n");
            f.at(&tok, &entry, 0, kind);
            // Killed after the write, before or after the fsync.
            fs::write(&f.mbox.path, &entry).unwrap();
            assert!(f.mbox.recover(&tok).unwrap(), "{kind:?}");
            assert_eq!(f.contents(), entry);
            assert!(f.spool_names().contains(&format!("{tok}.done")));
            // Asked again (the state save failed): still landed.
            assert!(f.mbox.recover(&tok).unwrap());

            // Whole, and another program appended after it since.
            let (tok, entry2) = f.spooled(b"Subject: second\n\nbody\n");
            f.at(&tok, &entry2, entry.len() as u64, kind);
            let mut text = entry.clone();
            text.extend_from_slice(&entry2);
            text.extend_from_slice(b"From other@x Mon Jan  1 00:00:00 2024\n\nhi\n\n");
            fs::write(&f.mbox.path, &text).unwrap();
            assert!(f.mbox.recover(&tok).unwrap(), "{kind:?}");
            assert_eq!(f.contents(), text);
        }
    }

    #[test]
    fn recovery_after_the_done_rename_or_the_emptying_says_landed() {
        let mut f = Fixture::new();
        let (tok, entry) = f.spooled(b"Subject: s\n\nb\n");
        fs::write(&f.mbox.path, &entry).unwrap();
        f.set_state(&tok, &Entry::Done);
        assert!(f.mbox.recover(&tok).unwrap());

        // An earlier version's: emptied, but the rename to .done was lost.
        let (tok, entry) = f.spooled(b"Subject: t\n\nb\n");
        let at = f.at(&tok, &entry, 0, Kind::Legacy);
        fs::write(f.mbox.spool.path(&at.name(&tok)), b"").unwrap();
        assert!(f.mbox.recover(&tok).unwrap());
    }

    /// Ours are never emptied: an empty one lost its bytes, and only the
    /// mbox can tell whether the append happened.
    #[test]
    fn an_empty_spool_with_sums_is_judged_by_the_mbox() {
        let mut f = Fixture::new();
        let (tok, entry) = f.spooled(b"Subject: t\n\nb\n");
        f.at(&tok, &entry, 0, Kind::Empty);
        assert!(!f.mbox.recover(&tok).unwrap(), "never appended");
        assert!(f.contents().is_empty());
        assert!(f.spool_names().is_empty());
    }

    #[test]
    fn recovery_finds_other_mail_where_ours_never_began() {
        for kind in KINDS {
            let mut f = Fixture::new();
            let (tok, entry) = f.spooled(b"Subject: ours\n\nbody\n");
            f.at(&tok, &entry, 0, kind);
            // Another program appended at our offset after the crash.
            let other =
                b"From someone@else Mon Jan  1 00:00:00 2024\nSubject: theirs\n\nx\n\n".repeat(3);
            fs::write(&f.mbox.path, &other).unwrap();
            assert!(!f.mbox.recover(&tok).unwrap(), "{kind:?}");
            assert_eq!(f.contents(), other, "{kind:?}: their mail is untouched");
            assert!(f.spool_names().is_empty());

            // The mbox shrank below our offset (a mail reader expunged).
            let (tok, entry) = f.spooled(b"Subject: ours\n\nbody\n");
            f.at(&tok, &entry, 10_000, kind);
            assert!(!f.mbox.recover(&tok).unwrap());
            assert_eq!(f.contents(), other);

            // Shorter than our From line, and not the start of one.
            let (tok, entry) = f.spooled(b"Subject: ours\n\nbody\n");
            f.at(&tok, &entry, other.len() as u64 - 3, kind);
            assert!(!f.mbox.recover(&tok).unwrap());
            assert_eq!(f.contents(), other);
        }
    }

    #[test]
    fn recovery_refuses_to_cut_other_mail_after_a_torn_append() {
        for kind in KINDS {
            let mut f = Fixture::new();
            let (tok, entry) = f.spooled(b"Subject: ours\n\nFrom the body\nmore\n");
            let at = f.at(&tok, &entry, 0, kind);
            let mut text = entry[..entry.len() - 6].to_vec();
            text.extend_from_slice(
                b"\nFrom other@x Mon Jan  1 00:00:00 2024\n\ntheirs, long enough\n\n",
            );
            fs::write(&f.mbox.path, &text).unwrap();
            let err = f.mbox.recover(&tok).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, DeliverError::MboxForeign { offset: 0, .. }),
                "{kind:?}: {msg}"
            );
            assert!(msg.contains(&f.mbox.path.display().to_string()), "{msg}");
            assert!(msg.contains("byte 0"), "{msg}");
            assert!(
                msg.contains(&at.name(&tok)),
                "names the spool to delete: {msg}"
            );
            assert_eq!(f.contents(), text, "nothing cut");
            // Following the advice (remove the partial message and the
            // spool) settles it.
            fs::remove_file(f.mbox.spool.path(&at.name(&tok))).unwrap();
            assert!(!f.mbox.recover(&tok).unwrap());
        }
    }

    /// Names read back from the spool directory are checked before they
    /// are believed: one popfetch would not have written names nothing,
    /// and recovery leaves the mbox and the file alone.
    #[test]
    fn recovery_ignores_a_garbled_marker_name() {
        let mut f = Fixture::new();
        f.deliver(b"Subject: earlier\n\nstays\n").unwrap();
        let before = f.contents();
        let (tok, entry) = f.spooled(b"Subject: ours\n\nbody\n");
        let mut torn = before.clone();
        torn.extend_from_slice(&entry[..entry.len() / 2]);
        fs::write(&f.mbox.path, &torn).unwrap();
        let good = Entry::At(span_of(&entry, before.len() as u64, Kind::Intact)).name(&tok);
        let rest = good.split_once(".at-").unwrap().1.to_string();
        let fields: Vec<&str> = rest.split('-').collect();
        let len = entry.len();
        let garbled = [
            format!("+{rest}"),
            format!("0{rest}"),
            rest.to_uppercase(),
            format!("{rest}-1"),
            format!("{}-{}-{}", fields[0], fields[1], fields[2]),
            format!(
                "{}-{len}-{}-{}-{}",
                fields[0],
                len + 1,
                fields[3],
                fields[4]
            ),
            format!("{}-{len}-0-{}-{}", fields[0], fields[3], fields[4]),
            format!(
                "{}-{len}-{}-{}-{}0",
                fields[0], fields[2], fields[3], fields[4]
            ),
            format!("{}-{len}-{}-x{}", fields[0], fields[2], &fields[3][1..]),
            format!("{}--{len}", fields[0]),
            format!("{}-{len}/../x", fields[0]),
        ];
        let spool = f.mbox.spool.path(&tok);
        for g in &garbled {
            let name = format!("{tok}.at-{g}");
            assert_eq!(Entry::parse(&name), None, "{name}");
            if g.contains('/') {
                continue;
            }
            fs::rename(&spool, f.mbox.spool.path(&name)).unwrap();
            assert!(!f.mbox.recover(&tok).unwrap(), "{name}");
            assert_eq!(f.contents(), torn, "{name}: the mbox is untouched");
            assert!(f.spool_names().contains(&name), "{name} is left alone");
            fs::rename(f.mbox.spool.path(&name), &spool).unwrap();
        }
        // The good name settles it.
        fs::rename(&spool, f.mbox.spool.path(&good)).unwrap();
        assert!(!f.mbox.recover(&tok).unwrap());
        assert_eq!(f.contents(), before);
    }

    /// A name popfetch could have written but with absurd numbers in it
    /// (the spool directory is not trusted): recovery reads no more than
    /// the files hold, and nothing overflows.
    #[test]
    fn recovery_survives_absurd_spans() {
        let mut f = Fixture::new();
        let text = b"From a@b Mon Jan  1 00:00:00 2024\n\nmail\n\n".to_vec();
        for (offset, len, head) in [
            (0, 1 << 50, 1 << 49),
            (0, 1 << 50, 3),
            (3, u64::MAX, u64::MAX),
            (u64::MAX, u64::MAX, 1),
            (u64::MAX - 1, 5, 5),
        ] {
            fs::write(&f.mbox.path, &text).unwrap();
            let (tok, _) = f.spooled(b"Subject: s\n\nb\n");
            let sum = Some(Sum {
                head,
                head_sum: 0,
                sum: 0,
            });
            f.set_state(&tok, &Entry::At(Span { offset, len, sum }));
            assert!(!f.mbox.recover(&tok).unwrap(), "{offset} {len} {head}");
            assert_eq!(f.contents(), text);
        }
    }

    #[test]
    fn the_next_run_sweeps_markers_and_retries_a_failed_cut() {
        for kind in KINDS {
            let mut f = Fixture::new();
            f.deliver(b"Subject: a\n\n1\n").unwrap();
            let before = f.contents();
            // A failed append whose cut-back failed too.
            let (tok, entry) = f.spooled(b"Subject: b\n\n2\n");
            let cut = Entry::Cut(span_of(&entry, before.len() as u64, kind));
            f.set_state(&tok, &cut);
            f.fill(&tok, &cut, &entry, kind);
            let mut torn = before.clone();
            torn.extend_from_slice(&entry[..entry.len() / 2]);
            fs::write(&f.mbox.path, &torn).unwrap();
            let leftover = f.mbox.next_token();
            fs::write(f.mbox.spool.path(&leftover), b"never journalled").unwrap();
            // A landed one whose `.done` rename was lost, the journal
            // settled.
            let (old, _) = f.spooled(b"Subject: x\n\n3\n");
            f.at(&old, b"From x\n", 0, Kind::Intact);
            assert!(f.spool_names().len() == 4, "{:?}", f.spool_names());

            // The next run.
            let spool = SpoolDir::open(&f.dir.path().join("state"), "u@h:110").unwrap();
            f.mbox = Mbox::open(&f.mbox.path, spool).unwrap();
            f.mbox.after_recovery().unwrap();
            assert!(
                f.spool_names().is_empty(),
                "{kind:?}: {:?}",
                f.spool_names()
            );
            f.deliver(b"Subject: c\n\n3\n").unwrap();
            let got = read_mbox(&f.contents());
            assert_eq!(got.len(), 2, "{kind:?}: the torn copy is gone");
            assert_eq!(got[1].1, b"Subject: c\n\n3\n");
            assert_eq!(f.spool_names().len(), 1, "{:?}", f.spool_names());
            assert!(f.spool_names()[0].ends_with(".done"));
        }
    }

    /// A batch's `.done` markers stay until the next group commit, when
    /// the journal records their messages as done.
    #[test]
    fn done_markers_go_at_the_next_group_commit() {
        let mut f = Fixture::new();
        f.deliver(b"Subject: a\n\n1\n").unwrap();
        let first = f.spool_names();
        assert_eq!(first.len(), 1);
        assert!(first[0].ends_with(".done"));
        f.deliver(b"Subject: b\n\n2\n").unwrap();
        let second = f.spool_names();
        assert_eq!(second.len(), 1);
        assert_ne!(first, second);
        // Waiting and discarding keeps what landed for the next commit.
        f.mbox.discard_unsynced();
        assert_eq!(f.spool_names(), second);
    }

    #[test]
    fn a_held_dotlock_makes_delivery_wait_then_fail_and_a_stale_one_is_removed() {
        let mut f = Fixture::new();
        f.mbox.lock_wait = Duration::from_millis(300);
        let lock = dotlock_path(&f.mbox.path);
        fs::write(&lock, "12345\n").unwrap();
        let err = f.deliver(b"Subject: s\n\nb\n").unwrap_err();
        assert!(
            matches!(err, DeliverError::MboxLocked { dotlock: true, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("run popfetch again later"),
            "{err}"
        );
        assert!(f.contents().is_empty());
        assert!(f.spool_names().is_empty(), "{:?}", f.spool_names());
        assert!(lock.exists(), "someone else's lock is left alone");

        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        f.deliver(b"Subject: s\n\nb\n").unwrap();
        assert_eq!(read_mbox(&f.contents()).len(), 1);
        assert!(!lock.exists());

        // Fresh, but its process (of this host) is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(&lock, format!("{dead}:{}\n", hostname())).unwrap();
        f.deliver(b"Subject: s\n\nb\n").unwrap();
        assert_eq!(read_mbox(&f.contents()).len(), 2);
        // Alive (ours), or of another host: honoured.
        for owner in [
            format!("{}:{}", std::process::id(), hostname()),
            format!("{dead}:elsewhere.example"),
        ] {
            fs::write(&lock, &owner).unwrap();
            let err = f.deliver(b"Subject: s\n\nb\n").unwrap_err();
            assert!(
                matches!(err, DeliverError::MboxLocked { .. }),
                "{owner}: {err}"
            );
        }
        fs::remove_file(&lock).unwrap();
    }

    #[test]
    fn open_fails_clearly_where_no_mbox_can_be() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "x").unwrap();
        fs::create_dir(dir.path().join("adir")).unwrap();
        for bad in ["file/mbox", "adir"] {
            let spool = SpoolDir::open(&dir.path().join("state"), "u@h:1").unwrap();
            let path = dir.path().join(bad);
            let err = Mbox::open(&path, spool).err().unwrap();
            let msg = err.to_string();
            assert!(matches!(err, DeliverError::MboxOpen { .. }), "{msg}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
    }

    /// `~/mbox -> /var/mail/alice`: a link the user made to a file of the
    /// user's is followed, and the lock is taken next to the file itself,
    /// where other mail programs look for it.
    #[test]
    fn a_link_to_the_users_own_mbox_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("spool/alice");
        fs::create_dir(dir.path().join("spool")).unwrap();
        fs::write(&real, "").unwrap();
        let link = dir.path().join("mbox");
        std::os::unix::fs::symlink("spool/alice", &link).unwrap();
        let spool = SpoolDir::open(&dir.path().join("state"), "u@h:1").unwrap();
        let mut mbox = Mbox::open(&link, spool).unwrap();
        mbox.lock_wait = Duration::from_millis(300);
        let deliver = |mbox: &mut Mbox| {
            let tok = mbox.next_token();
            let mut sink = Box::new(mbox.create(&tok).unwrap());
            sink.write_all(b"Subject: l\n\nbody\n").unwrap();
            let shown = sink.commit()?;
            mbox.append_batch()?;
            Ok::<String, DeliverError>(shown)
        };

        let held = dotlock_path(&real);
        fs::write(&held, format!("{}:{}\n", std::process::id(), hostname())).unwrap();
        let err = deliver(&mut mbox).unwrap_err();
        assert!(matches!(err, DeliverError::MboxLocked { .. }), "{err}");
        fs::remove_file(&held).unwrap();

        deliver(&mut mbox).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(read_mbox(&fs::read(&real).unwrap()).len(), 1);
    }

    /// A link (anywhere on the way) that another user owns, or one that
    /// leads to another user's file, is not followed: whoever made it
    /// could send the user's mail into any file the user can write.
    #[test]
    fn a_link_of_another_user_or_to_another_users_file_is_refused() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: only root can give a link to another user");
            return;
        }
        let nobody = Some(65534);
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::write(&real, "precious\n").unwrap();
        let hop = dir.path().join("hop");
        std::os::unix::fs::symlink(&real, &hop).unwrap();
        let link = dir.path().join("mbox");
        std::os::unix::fs::symlink("hop", &link).unwrap();
        let open = || {
            let spool = SpoolDir::open(&dir.path().join("state"), "u@h:1").unwrap();
            Mbox::open(&link, spool)
        };
        assert!(open().is_ok());

        for (owned, path) in [("hop", &hop), ("link", &link), ("file", &real)] {
            std::os::unix::fs::lchown(path, nobody, None).unwrap();
            let msg = open().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                msg.contains("65534") && msg.contains("symbolic link"),
                "{owned}: {msg}"
            );
            std::os::unix::fs::lchown(path, Some(0), None).unwrap();
        }
        assert_eq!(fs::read(&real).unwrap(), b"precious\n");
    }

    /// A link planted in the spool under a name recovery acts on, pointing
    /// at another file: recovery fails instead of emptying that file.
    #[test]
    fn recovery_does_not_write_through_a_planted_spool_link() {
        let mut f = Fixture::new();
        let victim = f.dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let tok = f.mbox.next_token();
        let at = Entry::At(Span {
            offset: 0,
            len: 1,
            sum: None,
        });
        std::os::unix::fs::symlink(&victim, f.mbox.spool.path(&at.name(&tok))).unwrap();
        let err = f.mbox.recover(&tok).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }
}
