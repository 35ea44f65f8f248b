//! One account, end to end. This is the one place that orders side
//! effects, so it is the file to read for "nothing lost, nothing twice":
//!
//! 1. lock the mailbox, load the state, settle what the journal left open;
//! 2. connect (TLS), log in, list UIDs and sizes, plan;
//! 3. per message: journal the intent (fsync), RETR, stream into the
//!    target, make it durable, journal it as done, mark it in the state;
//! 4. save the state atomically (fsync) — only now are UIDs "delivered";
//! 5. DELE what policy allows among delivered UIDs, then QUIT, which is the
//!    only thing that makes deletions real. After any error or interrupt
//!    the connection is just closed: the server deletes nothing.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::account::{Account, Pipelining, TlsMode};
use crate::auth::{self, Login};
use crate::deliver::{DeliverError, Target};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::policy::{self, Listed};
use crate::protocol::session::{BodyError, Trace};
use crate::protocol::{Capabilities, Command, ProtoError, Session};
use crate::secret::Secret;
use crate::state::journal::{self, Journal};
use crate::state::lock::{self, LockOutcome};
use crate::state::{Paths, StateError, UidState};
use crate::transport::{self, Stream, Trust};

/// Where `-vv` trace lines go; shared by every session of a run.
pub type TraceSink = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// How many commands may be in flight when pipelining (mpop: up to 100).
const WINDOW: usize = 64;

/// How many messages one group commit covers at most.
const BATCH: usize = 64;

/// What a run wants besides the account.
pub struct Options<'a> {
    pub interrupt: &'a Interrupt,
    /// `-vv`: protocol trace lines (already redacted).
    pub trace: Option<TraceSink>,
    /// Told about progress: `-v` lines and progress bars.
    pub observer: &'a dyn Observer,
}

/// Watches a fetch as it goes (per-message lines, progress bars). Every
/// method has a default that does nothing.
pub trait Observer: Sync {
    /// The plan is made: `count` messages of `bytes` in total to download.
    fn planned(&self, _account: &Account, _count: usize, _bytes: u64) {}
    /// One message was delivered durably to `path`.
    fn delivered(&self, _account: &Account, _msg: &Listed, _bytes: u64, _dest: &str) {}
    /// The target asked to try again later; the message stays on the server.
    fn deferred(&self, _account: &Account, _msg: &Listed, _why: &str) {}
    /// The server refused to send a listed message (it went away).
    fn skipped(&self, _account: &Account, _msg: &Listed, _why: &str) {}
    /// The account is done, whatever the outcome.
    fn finished(&self, _account: &Account) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// What happened, for the summary line and JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Delivered this run (`check`: new on the server).
    pub new: usize,
    pub bytes: u64,
    pub deleted: usize,
    /// New but over `max_size`, left on the server.
    pub too_big: usize,
    /// New but beyond `max_messages`, left for the next run.
    pub held_back: usize,
    /// Messages on the server when the run started.
    pub on_server: usize,
    /// Deliveries an interrupted earlier run had left open, now settled.
    pub recovered: usize,
    /// The target asked to try these again later (an MDA's exit 75).
    pub deferred: usize,
    pub elapsed: Duration,
}

/// A logged-in (or about to be) session with what was learnt on the way.
pub struct Connection {
    pub session: Session<Stream>,
    pub capa: Capabilities,
    pub greeting: String,
    pub apop_timestamp: Option<String>,
    pub fingerprint: Option<String>,
}

impl Connection {
    /// Close without QUIT: the server keeps every message.
    fn abort(&self) {
        self.session.get_ref().abort();
    }
}

fn make_trace(opts: &Options<'_>, account: &Account) -> Option<Trace> {
    let sink = opts.trace.clone()?;
    let name = account.name.clone();
    Some(Box::new(move |line: &str| sink(&format!("{name}: {line}"))))
}

/// Connect, secure the connection, read the greeting and CAPA. No login.
pub fn connect(account: &Account, opts: &Options<'_>) -> Result<Connection, Error> {
    let tcp = transport::connect_tcp(&account.host, account.port, account.timeout)?;
    let trust = Trust::of(account);
    let trace = make_trace(opts, account);
    let new_session = |stream: Stream, trace: Option<Trace>| {
        let mut s = Session::new(stream, trace);
        s.set_line_timeout(account.timeout);
        s
    };
    let (mut session, greeting) = match account.tls {
        TlsMode::Implicit => {
            let stream = transport::start_tls(tcp, &account.host, &trust)?;
            let mut session = new_session(stream, trace);
            let greeting = session.greeting()?.text;
            (session, greeting)
        }
        TlsMode::Starttls => {
            let mut session = new_session(Stream::Plain(tcp), trace);
            let greeting = session.greeting()?.text;
            if !session.capa()?.stls {
                session.get_ref().abort();
                return Err(transport::TransportError::NoStls {
                    host: account.host.clone(),
                }
                .into());
            }
            session.command(&Command::Stls)?;
            let (stream, trace) = session.into_parts()?;
            let Stream::Plain(tcp) = stream else {
                return Err(ProtoError::Malformed("STLS on an encrypted connection".into()).into());
            };
            let stream = transport::start_tls(tcp, &account.host, &trust)?;
            (new_session(stream, trace), greeting)
        }
        TlsMode::None => {
            let mut session = new_session(Stream::Plain(tcp), trace);
            let greeting = session.greeting()?.text;
            (session, greeting)
        }
    };
    // After STLS this asks again, as RFC 2595 wants: what was learnt
    // before TLS is forgotten.
    let capa = session.capa()?;
    Ok(Connection {
        apop_timestamp: crate::protocol::response::apop_timestamp(&greeting),
        fingerprint: tls_fingerprint(session.get_ref()),
        session,
        capa,
        greeting,
    })
}

fn tls_fingerprint(stream: &Stream) -> Option<String> {
    match stream {
        Stream::Tls(tls) => transport::peer_fingerprint(tls),
        Stream::Plain(_) => None,
    }
}

/// Log in with the mechanism the account and server agree on.
pub fn login(conn: &mut Connection, account: &Account, secret: &Secret) -> Result<(), Error> {
    let method = auth::choose(
        account.auth,
        &conn.capa,
        conn.apop_timestamp.as_deref(),
        &account.host,
    )?;
    let encrypted = conn.session.get_ref().is_encrypted();
    auth::login(
        &mut conn.session,
        method,
        conn.apop_timestamp.as_deref(),
        &Login {
            host: &account.host,
            port: account.port,
            user: &account.user,
            secret,
            encrypted,
            allow_plaintext: account.allow_plaintext,
        },
    )?;
    Ok(())
}

/// UIDL and LIST joined by message number. A server without UIDL gets
/// stable synthetic UIDs from a hash of each message's headers (TOP n 0).
pub fn list_mailbox<S: Read + Write>(
    session: &mut Session<S>,
    pipelined: bool,
) -> Result<Vec<Listed>, Error> {
    let (sizes, uids) = session.list_and_uidl(pipelined)?;
    let uids = match uids {
        Some(uids) => uids,
        None => synthetic_uids(session, &sizes)?,
    };
    let mut by_msg: std::collections::HashMap<u32, String> = uids.into_iter().collect();
    let mut listing = Vec::with_capacity(sizes.len());
    for (msg, size) in sizes {
        // A message in LIST but not in UIDL cannot be tracked: leave it
        // alone rather than risk delivering it twice.
        if let Some(uid) = by_msg.remove(&msg) {
            listing.push(Listed { msg, uid, size });
        }
    }
    Ok(listing)
}

fn synthetic_uids<S: Read + Write>(
    session: &mut Session<S>,
    sizes: &[(u32, u64)],
) -> Result<Vec<(u32, String)>, Error> {
    struct Hasher(Sha256);
    impl Write for Hasher {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Vec::with_capacity(sizes.len());
    for &(msg, _) in sizes {
        session.command(&Command::Top { msg, lines: 0 })?;
        let mut h = Hasher(Sha256::new());
        session.read_body(&mut h).map_err(body_to_proto)?;
        let digest = h.0.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        out.push((msg, format!("sha256-{hex}")));
    }
    Ok(out)
}

fn body_to_proto(e: BodyError) -> ProtoError {
    match e {
        BodyError::Protocol(p) => p,
        BodyError::Sink(io) => ProtoError::Io(io),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Settle deliveries an interrupted run left in the journal.
fn recover(paths: &Paths, target: &mut Target, state: &mut UidState) -> Result<usize, Error> {
    let records = journal::read(&paths.journal)?;
    if records.is_empty() {
        return Ok(0);
    }
    target.begin_recovery();
    let t = now();
    let mut landed = 0;
    for r in &records {
        if r.done || target.recover(&r.token)? {
            state.mark_delivered(&r.uid, t);
            landed += 1;
        }
    }
    state.save(&paths.state)?;
    Journal::open(&paths.journal)?.clear()?;
    Ok(landed)
}

/// Take the run lock or fail with "another run holds it".
fn take_lock(paths: &Paths, account: &Account) -> Result<lock::RunLock, Error> {
    match lock::try_lock(&paths.lock).map_err(|e| StateError::io("lock", &paths.lock, e))? {
        LockOutcome::Acquired(l) => Ok(l),
        LockOutcome::Busy => Err(Error::Locked {
            mailbox: account.mailbox_id(),
            path: paths.lock.display().to_string(),
        }),
    }
}

/// At most this many sessions per run for servers that offer only part of
/// the mailbox per session; a safety net against servers that keep
/// inventing UIDs.
const MAX_SESSIONS: usize = 50;

/// Fetch one account.
///
/// Some servers (Gmail: about 250 messages) offer only part of the mailbox
/// per session, so after a session that downloaded new mail and listed
/// nothing already delivered, in no more than a page's worth, popfetch
/// opens another one, and goes on while each offers UIDs it has not tried
/// yet (and `max_messages` allows). An ordinary server that keeps mail
/// never costs an extra login; one that is emptied each run costs one on
/// runs that found new mail.
pub fn fetch(account: &Account, secret: &Secret, opts: &Options<'_>) -> Result<Summary, Error> {
    let started = Instant::now();
    let paths = Paths::new(&account.state_dir, &account.mailbox_id());
    paths.ensure_dir()?;
    let _lock = take_lock(&paths, account)?;
    let mut target = Target::open(account)?;
    let mut state = UidState::load(&paths.state)?;
    let mut summary = Summary {
        recovered: recover(&paths, &mut target, &mut state)?,
        ..Summary::default()
    };
    target.after_recovery()?;
    let mut run = Run {
        account,
        secret,
        opts,
        paths: &paths,
        target: &mut target,
        state: &mut state,
        summary: &mut summary,
        tried: HashSet::new(),
        present: HashSet::new(),
        deleted: HashSet::new(),
        header: account
            .received_header
            .then(|| crate::deliver::received_header(&account.host, &account.user)),
    };
    for _ in 0..MAX_SESSIONS {
        let before = run.tried.len();
        let seen = run.session()?;
        let fetched = run.tried.len() - before;
        let budget_left = account
            .policy
            .max_messages
            .is_none_or(|max| run.tried.len() < max);
        if fetched == 0 || !budget_left || !seen.may_be_a_page() {
            break;
        }
    }
    // Forget UIDs no longer on the server: those in no listing of this run,
    // and those this run deleted.
    let Run {
        present, deleted, ..
    } = run;
    let present: HashSet<&str> = present
        .iter()
        .filter(|u| !deleted.contains(*u))
        .map(String::as_str)
        .collect();
    state.prune(&present);
    state.save(&paths.state)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// What one session's listing looked like.
struct Listing {
    /// Messages listed.
    listed: usize,
    /// Of those, already delivered before the session.
    known: usize,
}

/// A paging server (Gmail offers about 250 per session) lists only
/// messages never downloaded, a few hundred at a time. So another session
/// is worth opening only after one whose listing was all new and not
/// larger than a page could be.
const MAX_PAGE: usize = 500;

impl Listing {
    fn may_be_a_page(&self) -> bool {
        self.known == 0 && self.listed <= MAX_PAGE
    }
}

/// One run over one account, across one or more sessions.
struct Run<'a> {
    account: &'a Account,
    secret: &'a Secret,
    opts: &'a Options<'a>,
    paths: &'a Paths,
    target: &'a mut Target,
    state: &'a mut UidState,
    summary: &'a mut Summary,
    /// UIDs this run tried to download (delivered, deferred or vanished).
    tried: HashSet<String>,
    /// UIDs any session of this run listed.
    present: HashSet<String>,
    /// UIDs deleted by a QUIT that succeeded.
    deleted: HashSet<String>,
    header: Option<Vec<u8>>,
}

impl Run<'_> {
    /// Connect, download what is new, delete what policy says, QUIT.
    fn session(&mut self) -> Result<Listing, Error> {
        let account = self.account;
        let mut conn = connect(account, self.opts)?;
        let _watch = conn
            .session
            .get_ref()
            .shutdown_handle()
            .ok()
            .map(|s| self.opts.interrupt.watch(s));
        login(&mut conn, account, self.secret)?;
        let window = match account.pipelining {
            Pipelining::On => WINDOW,
            Pipelining::Off => 1,
            Pipelining::Auto if conn.capa.pipelining => WINDOW,
            Pipelining::Auto => 1,
        };
        let listing = list_mailbox(&mut conn.session, window > 1)?;
        let seen = Listing {
            listed: listing.len(),
            known: listing
                .iter()
                .filter(|m| self.state.is_delivered(&m.uid))
                .count(),
        };
        let t = now();
        for m in &listing {
            self.state.see(&m.uid, t);
            self.present.insert(m.uid.clone());
        }
        let mut policy = account.policy.clone();
        policy.max_messages = policy
            .max_messages
            .map(|max| max.saturating_sub(self.tried.len()));
        let mut plan = policy::plan(&listing, self.state, &policy);
        plan.fetch.retain(|m| !self.tried.contains(&m.uid));
        self.tried.extend(plan.fetch.iter().map(|m| m.uid.clone()));
        self.summary.too_big = plan.too_big.len();
        self.summary.held_back = plan.held_back;
        self.summary.on_server = self.summary.on_server.max(listing.len());

        self.opts.observer.planned(
            account,
            plan.fetch.len(),
            plan.fetch.iter().map(|m| m.size).sum(),
        );
        let mut journal = Journal::open(&self.paths.journal)?;
        let delivered = Delivery {
            account,
            opts: self.opts,
            target: self.target,
            journal: &mut journal,
            state: self.state,
            summary: self.summary,
            header: self.header.as_deref(),
            batch: Vec::with_capacity(BATCH),
            in_flight: Vec::with_capacity(BATCH),
        }
        .run(&mut conn, &plan.fetch, window);
        // Whatever happened, record what landed before anything else.
        let saved = self.state.save(&self.paths.state);
        if let Err(e) = delivered {
            conn.abort();
            self.target.discard_unsynced();
            saved?;
            drop(journal);
            // Settle the journal now, as the next run would: a group commit
            // or an mbox append may have stopped half-way. If that fails
            // too, the journal stays for the next run.
            let _ = recover(self.paths, self.target, self.state);
            return Err(e);
        }
        saved?;
        journal.clear()?;

        let doomed = policy::deletions(&listing, self.state, &account.policy, now());
        let accepted = match delete(&mut conn, &doomed, window, self.opts) {
            Ok(accepted) => accepted,
            Err(e) => {
                conn.abort();
                return Err(e);
            }
        };
        if doomed.is_empty() {
            conn.session.quit_without_reply()?;
            return Ok(seen);
        }
        conn.session.quit()?;
        // QUIT said +OK: the deletions are real.
        self.summary.deleted += accepted.len();
        let accepted: HashSet<u32> = accepted.into_iter().collect();
        self.deleted.extend(
            listing
                .iter()
                .filter(|m| accepted.contains(&m.msg))
                .map(|m| m.uid.clone()),
        );
        Ok(seen)
    }
}

/// Everything the delivery loop works on, so that it can be passed around
/// as one.
struct Delivery<'a> {
    account: &'a Account,
    opts: &'a Options<'a>,
    target: &'a mut Target,
    journal: &'a mut Journal,
    state: &'a mut UidState,
    summary: &'a mut Summary,
    header: Option<&'a [u8]>,
    /// Committed to the target, waiting for the next group commit.
    batch: Vec<(&'a Listed, u64, String)>,
    /// Sent off to be made durable; recorded once that is done.
    in_flight: Vec<(&'a Listed, u64, String)>,
}

impl<'a> Delivery<'a> {
    /// Download and deliver `todo`, keeping up to `window` RETRs in flight
    /// and committing in batches. Whatever fails, every message received
    /// whole before the failure is still committed and recorded.
    fn run(
        &mut self,
        conn: &mut Connection,
        todo: &'a [Listed],
        window: usize,
    ) -> Result<(), Error> {
        let result = self.retrieve(conn, todo, window);
        // A failed commit is the graver error: it is the one reported.
        let committed = self.commit_batch(true);
        committed.and(result)
    }

    fn retrieve(
        &mut self,
        conn: &mut Connection,
        todo: &'a [Listed],
        window: usize,
    ) -> Result<(), Error> {
        let mut sent = 0;
        for (i, m) in todo.iter().enumerate() {
            if self.opts.interrupt.is_set() {
                return Err(Error::Interrupted);
            }
            // Keep between half a window and a window of RETRs in flight:
            // refilling before the window drains means the server never
            // waits a round trip for its next command, and one write
            // carries many commands.
            if refill_due(sent, i, todo.len(), window) {
                let upto = (i + window).min(todo.len());
                while sent < upto {
                    conn.session.send(&Command::Retr(todo[sent].msg))?;
                    sent += 1;
                }
                conn.session.flush()?;
            }
            self.one(conn, m)?;
            if self.batch.len() >= BATCH {
                self.commit_batch(false)?;
            }
        }
        Ok(())
    }

    /// Receive one message into the target (its RETR is already sent).
    fn one(&mut self, conn: &mut Connection, m: &'a Listed) -> Result<(), Error> {
        let interrupted = |e: ProtoError| {
            if self.opts.interrupt.is_set() {
                Error::Interrupted
            } else {
                Error::Protocol(e)
            }
        };
        let status = conn.session.read_status_any().map_err(interrupted)?;
        if !status.ok {
            // Gone since LIST (another client took it): nothing follows
            // the -ERR, so the session is still in step.
            self.opts.observer.skipped(self.account, m, &status.text);
            return Ok(());
        }
        let token = self.target.next_token();
        self.journal.begin(&m.uid, &token)?;
        let publishes = self.target.publishes_on_commit();
        let account = self.account;
        let write_error = |source| DeliverError::Write {
            path: account_dest_path(account),
            source,
        };
        let mut sink = self.target.create(&token)?;
        if let Some(h) = self.header {
            sink.write_all(h).map_err(write_error)?;
        }
        let size = match conn.session.read_body(&mut sink) {
            Ok(n) => n,
            Err(BodyError::Protocol(p)) => return Err(interrupted(p)),
            Err(BodyError::Sink(source)) => return Err(write_error(source).into()),
        };
        if publishes {
            // The target makes the message durable right in commit: the
            // intent must be on disk first.
            self.journal.sync()?;
        }
        match sink.commit() {
            Ok(shown) => self.batch.push((m, size, shown)),
            Err(DeliverError::Deferred(why)) => {
                self.summary.deferred += 1;
                self.opts.observer.deferred(self.account, m, &why);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Group commit: the journal's intents, then the batch's messages,
    /// become durable; only then are their UIDs recorded as delivered. The
    /// target commits in the background while the next batch arrives, so
    /// this first settles the batch sent off before. `last` waits for
    /// everything.
    fn commit_batch(&mut self, last: bool) -> Result<(), Error> {
        self.finish_in_flight()?;
        if !self.batch.is_empty() {
            self.journal.sync()?;
            self.target.sync_start()?;
            std::mem::swap(&mut self.batch, &mut self.in_flight);
        }
        if last {
            self.finish_in_flight()?;
        }
        Ok(())
    }

    /// Wait for the batch in flight and record it.
    fn finish_in_flight(&mut self) -> Result<(), Error> {
        if self.in_flight.is_empty() {
            return Ok(());
        }
        let landed = self.target.sync_wait();
        if landed.is_err() {
            // Recovery settles what the failed commit left.
            self.in_flight.clear();
        }
        landed?;
        let t = now();
        for (m, size, shown) in self.in_flight.drain(..) {
            self.journal.done(&m.uid)?;
            self.state.mark_delivered(&m.uid, t);
            self.summary.new += 1;
            self.summary.bytes += size;
            self.opts.observer.delivered(self.account, m, size, &shown);
        }
        Ok(())
    }
}

fn account_dest_path(account: &Account) -> std::path::PathBuf {
    match &account.destination {
        crate::account::Destination::Maildir(p) | crate::account::Destination::Mbox(p) => p.clone(),
        crate::account::Destination::Mda(_) => "the MDA".into(),
    }
}

/// DELE `msgs`, pipelined with the same sliding window as RETR. Returns
/// the ones the server accepted; a -ERR for one message (another client
/// removed it) only leaves that one out.
fn delete(
    conn: &mut Connection,
    msgs: &[u32],
    window: usize,
    opts: &Options<'_>,
) -> Result<Vec<u32>, Error> {
    let mut accepted = Vec::with_capacity(msgs.len());
    let mut sent = 0;
    for (i, &msg) in msgs.iter().enumerate() {
        if opts.interrupt.is_set() {
            return Err(Error::Interrupted);
        }
        if refill_due(sent, i, msgs.len(), window) {
            let upto = (i + window).min(msgs.len());
            for &m in &msgs[sent..upto] {
                conn.session.send(&Command::Dele(m))?;
            }
            sent = upto;
            conn.session.flush()?;
        }
        if conn.session.read_status_any()?.ok {
            accepted.push(msg);
        }
    }
    Ok(accepted)
}

/// Whether to send more commands before reading the reply to command `i`:
/// when no more than half a window is still in flight (with a window of 1,
/// when nothing is: lock-step).
fn refill_due(sent: usize, i: usize, total: usize, window: usize) -> bool {
    sent < total && sent - i <= window / 2
}

/// `check`: count what a fetch would download; change nothing.
pub fn check(account: &Account, secret: &Secret, opts: &Options<'_>) -> Result<Summary, Error> {
    let started = Instant::now();
    let paths = Paths::new(&account.state_dir, &account.mailbox_id());
    let state = UidState::load(&paths.state)?;
    let mut conn = connect(account, opts)?;
    login(&mut conn, account, secret)?;
    let listing = list_mailbox(&mut conn.session, conn.capa.pipelining)?;
    let mut policy = account.policy.clone();
    policy.max_messages = None;
    let plan = policy::plan(&listing, &state, &policy);
    conn.session.quit()?;
    Ok(Summary {
        new: plan.fetch.len(),
        bytes: plan.fetch.iter().map(|m| m.size).sum(),
        too_big: plan.too_big.len(),
        on_server: listing.len(),
        elapsed: started.elapsed(),
        ..Summary::default()
    })
}

#[cfg(test)]
mod tests {
    use super::refill_due;

    #[test]
    fn window_of_one_is_lock_step() {
        assert!(refill_due(0, 0, 3, 1));
        assert!(!refill_due(1, 0, 3, 1));
        assert!(refill_due(1, 1, 3, 1));
        assert!(!refill_due(3, 2, 3, 1));
    }

    #[test]
    fn window_refills_at_half() {
        assert!(refill_due(0, 0, 1000, 64));
        assert!(!refill_due(64, 31, 1000, 64));
        assert!(refill_due(64, 32, 1000, 64));
        assert!(!refill_due(1000, 999, 1000, 64));
    }
}
