//! One account, end to end. This is the one place that orders side
//! effects, so it is the file to read for "nothing lost, nothing twice".
//! In the order the code does it:
//!
//! 1. lock the mailbox (another run holding it ends this one), open the
//!    target, load the state, settle what the journal of an interrupted
//!    run left open (saving the state), then let the target clear the
//!    evidence recovery no longer needs ([`Target::after_recovery`]);
//! 2. per session: connect, secure, log in and list ([`crate::session`]),
//!    note every listed UID in the state, and plan ([`crate::policy`]);
//! 3. per message: RETR (a window of them in flight), journal the intent,
//!    stream the message into the target and commit it there (an MDA
//!    works on a message while the next one arrives; the next is handed
//!    over only once the MDA's verdict is in and, if it delivered, its
//!    `D` record is written; the sync follows as the next MDA starts);
//!    every [`BATCH`] messages a group commit makes the journal and then
//!    the messages durable, and only then are their UIDs marked delivered;
//! 4. save the state atomically and empty the journal — only now are the
//!    UIDs "delivered" for good;
//! 5. DELE what policy allows among delivered UIDs, then QUIT, which is
//!    the only thing that makes deletions real. After any error or
//!    interrupt the connection is just closed: the server deletes nothing,
//!    messages not yet durable are discarded, and the journal is settled
//!    at once, as the next run would;
//! 6. open another session while a server that pages its mailbox offers
//!    more (never on one that announced `LOGIN-DELAY`); finally forget
//!    UIDs no longer on the server and save the state.
//!
//! With `commit_every = N`, a session that would delete more than N
//! messages downloads at most N (when delivered mail is deleted), DELEs N,
//! QUITs, and the run goes on from step 2 in a new session, whose listing
//! and the state skip what is done: a dropped line undoes at most N
//! deletions.
//!
//! Whatever ends the run, [`fetch`] returns what it did along with the
//! error ([`Outcome`]): deliveries and deletions of earlier sessions are
//! reported, not lost with the error.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::account::Account;
use crate::deliver::{DeliverError, HeaderCapture, Started, Target};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::log::{self, RunLog};
use crate::password;
use crate::policy::{self, Listed};
use crate::protocol::session::BodyError;
use crate::protocol::{ProtoError, RespCode};
use crate::secret::Secret;
use crate::session::{self, Connection, TraceSink};
use crate::state::journal::{self, Journal};
use crate::state::lock::{self, LockOutcome};
use crate::state::{Paths, StateError, UidState};

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
    /// `bytes` more of the message in hand have arrived (counted as
    /// [`message_size`] counts them), before it is durable.
    fn received(&self, _account: &Account, _bytes: u64) {}
    /// Whether [`Observer::delivered`] wants each message's From and
    /// Subject (captured as the message streams past).
    fn wants_headers(&self) -> bool {
        false
    }
    /// One message was delivered durably to `dest`; `size` is its size as
    /// [`message_size`] counts it; `headers` are its From and Subject
    /// when [`Observer::wants_headers`] asked for them.
    fn delivered(
        &self,
        _account: &Account,
        _msg: &Listed,
        _size: u64,
        _dest: &str,
        _headers: Option<&log::Headers>,
    ) {
    }
    /// A new message is larger than `max_size` and stays on the server.
    fn too_big(&self, _account: &Account, _msg: &Listed, _limit: Option<u64>) {}
    /// The target asked to try again later; the message stays on the server.
    fn deferred(&self, _account: &Account, _msg: &Listed, _why: &str) {}
    /// The target refused the message for good (an LMTP or SMTP 5xx); it
    /// stays on the server.
    fn rejected(&self, _account: &Account, _msg: &Listed, _why: &str) {}
    /// The server refused to send a listed message (it went away, or it
    /// cannot send it now); it is also counted in [`Summary::skipped`].
    fn skipped(&self, _account: &Account, _msg: &Listed, _why: &str) {}
    /// The account is done, whatever the outcome.
    fn finished(&self, _account: &Account, _outcome: &Outcome) {}
}

/// What happened, for the summary line and JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Delivered this run (`check`: new on the server).
    pub new: usize,
    /// Their size, as the server counts it ([`message_size`]): the same
    /// figure for `check` and for the fetch that follows it.
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
    /// The target asked to try these again later (an MDA's exit 75, an
    /// LMTP or SMTP 4xx).
    pub deferred: usize,
    /// Messages the server would not send (a `-ERR` to RETR): they stay on
    /// the server, are tried again next run, and are reported every time.
    pub skipped: Vec<Skipped>,
    /// The target refused these for good (an LMTP or SMTP 5xx); they stay
    /// on the server.
    pub rejected: usize,
    pub elapsed: Duration,
    /// The `LOGIN-DELAY` the server announced in CAPA, in seconds: the
    /// daemon waits at least this long before the next login.
    pub login_delay: Option<u64>,
}

/// A listed message whose RETR the server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub msg: u32,
    pub uid: String,
    pub size: u64,
    pub code: Option<RespCode>,
    /// The server's text, printable and capped.
    pub text: String,
}

impl Skipped {
    /// The server said the refusal is temporary (`[SYS/TEMP]`, `[IN-USE]`):
    /// the run exits 75, as for a deferral. A bare `-ERR` is usually a
    /// message another client took since LIST, and does not change the
    /// exit status.
    pub fn temporary(&self) -> bool {
        self.code.as_ref().is_some_and(RespCode::is_temporary)
    }
}

/// What a run over one account came to: what it did, and the error that
/// ended it, if one did. An error never hides what was done before it: a
/// later session that fails leaves the earlier sessions' deliveries and
/// deletions in the summary.
#[derive(Debug, Default)]
pub struct Outcome {
    pub summary: Summary,
    pub error: Option<Error>,
}

impl From<Result<Summary, Error>> for Outcome {
    fn from(result: Result<Summary, Error>) -> Outcome {
        match result {
            Ok(summary) => Outcome {
                summary,
                error: None,
            },
            Err(e) => Outcome::failed(e),
        }
    }
}

impl Outcome {
    /// Nothing done: `error` came first.
    pub fn failed(error: Error) -> Outcome {
        Outcome {
            summary: Summary::default(),
            error: Some(error),
        }
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
pub(crate) fn take_lock(paths: &Paths, account: &Account) -> Result<lock::RunLock, Error> {
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
/// runs that found new mail. A server that announced `LOGIN-DELAY` (any
/// value: a run cannot wait minutes) gets one session a run: it would
/// refuse the next login.
pub fn fetch(account: &Account, secret: &Secret, opts: &Options<'_>) -> Outcome {
    let started = Instant::now();
    let mut summary = Summary::default();
    let error = fetch_into(account, secret, opts, &mut summary)
        .err()
        .map(|e| match e {
            Error::Interrupted { .. } => Error::Interrupted {
                delivered: summary.new,
                deleted: summary.deleted,
            },
            // The interrupt cut the connection: what failed on it was
            // the interrupt, not the network or the server.
            Error::Transport(_) | Error::Protocol(_) | Error::Auth(_)
                if opts.interrupt.is_set() =>
            {
                Error::Interrupted {
                    delivered: summary.new,
                    deleted: summary.deleted,
                }
            }
            e => e,
        });
    summary.elapsed = started.elapsed();
    Outcome { summary, error }
}

/// [`fetch`], counting what it does in `summary` as it goes.
fn fetch_into(
    account: &Account,
    secret: &Secret,
    opts: &Options<'_>,
    summary: &mut Summary,
) -> Result<(), Error> {
    let paths = Paths::new(&account.state_dir, &account.mailbox_id());
    paths.ensure_dir()?;
    let _lock = take_lock(&paths, account)?;
    let mut target = Target::open(account)?;
    let mut state = UidState::load(&paths.state)?;
    summary.recovered = recover(&paths, &mut target, &mut state)?;
    target.after_recovery()?;
    let mut run = Run {
        account,
        secret,
        opts,
        paths: &paths,
        target: &mut target,
        state: &mut state,
        summary,
        tried: HashSet::new(),
        present: HashSet::new(),
        deleted: HashSet::new(),
        told_too_big: HashSet::new(),
        header: None,
        logins: 0,
        log: RunLog::open(account, secret),
    };
    let mut pages = 0;
    let mut after_cut = false;
    loop {
        let (tried, deleted) = (run.tried.len(), run.deleted.len());
        let seen = run.session()?;
        let fetched = run.tried.len() - tried;
        if pages > 0 && !after_cut && fetched > 0 {
            // A later session offered mail the earlier ones did not.
            run.state.set_pages(now());
        }
        after_cut = seen.cut_short;
        // commit_every ended the session early: go on in a new one, as
        // long as each does something (a server whose QUIT deletes
        // nothing is not asked forever).
        if seen.cut_short && !seen.login_delay && (fetched > 0 || run.deleted.len() > deleted) {
            continue;
        }
        pages += 1;
        let budget_left = account
            .policy
            .max_messages
            .is_none_or(|max| run.tried.len() < max);
        let worth_asking = run.state.pages().is_some() || seen.may_be_a_full_page(account);
        if pages >= MAX_SESSIONS
            || fetched == 0
            || !budget_left
            || !seen.may_be_a_page()
            || seen.login_delay
            || !worth_asking
        {
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
    state.save_if_changed(&paths.state)?;
    Ok(())
}

/// What one session's listing looked like.
struct Listing {
    /// Messages listed.
    listed: usize,
    /// Of those, already delivered before the session.
    known: usize,
    /// The server announced a `LOGIN-DELAY` of more than 0 seconds.
    login_delay: bool,
    /// `commit_every` ended the session before it had fetched or deleted
    /// everything it could.
    cut_short: bool,
}

/// A paging server (Gmail offers about 250 per session) lists only
/// messages never downloaded, a few hundred at a time. So another session
/// is worth opening only after one whose listing was all new and not
/// larger than a page could be.
const MAX_PAGE: usize = 500;

/// An all-new listing at least this long, from a server emptied every run
/// (`keep = false`), may be a full page (Gmail's are about 250): worth one
/// more session to find out.
const FULL_PAGE: usize = 200;

impl Listing {
    fn may_be_a_page(&self) -> bool {
        self.known == 0 && self.listed <= MAX_PAGE
    }

    /// With `keep = false` a paging server cannot be told from one emptied
    /// every run by what it lists next time (the delivered mail is gone
    /// either way), so a listing as long as a page is checked with one
    /// more session. With `keep`, a paging server shows itself on the next
    /// run: it no longer lists the mail it kept ([`Run::session`]).
    fn may_be_a_full_page(&self, account: &Account) -> bool {
        !account.policy.keep && self.listed >= FULL_PAGE
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
    /// UIDs of messages over `max_size` the observer was told about.
    told_too_big: HashSet<String>,
    header: Option<Vec<u8>>,
    /// Logins so far (see [`password::secret_for_login`]).
    logins: usize,
    /// `log_file` and `syslog`.
    log: RunLog,
}

impl Run<'_> {
    /// Connect, download what is new, delete what policy says, QUIT.
    fn session(&mut self) -> Result<Listing, Error> {
        let account = self.account;
        // After an interrupt (say, while a password command ran) no
        // session is begun.
        if self.opts.interrupt.is_set() {
            return Err(Error::interrupted());
        }
        // Before connecting: a token manager may take a while.
        let secret =
            password::secret_for_login(account, self.secret, self.logins, self.opts.interrupt)?;
        self.logins += 1;
        self.log.hide(&secret);
        let mut conn =
            session::connect_watched(account, self.opts.trace.as_ref(), Some(self.opts.interrupt))?;
        self.summary.login_delay = conn.capa.login_delay;
        let _watch = conn.watch(self.opts.interrupt);
        conn.login(account, &secret)?;
        let fetch_all = account.policy.fetch_all;
        let delivered_before = self.state.any_delivered();
        let listing = {
            let state = &*self.state;
            // Sizes are asked for only where a download may follow; a
            // first run asks for all of them with UIDL, in one round trip.
            conn.list_needed(fetch_all || !delivered_before, &|uid: &str| {
                fetch_all || !state.is_delivered(uid)
            })?
        };
        let mut seen = Listing {
            listed: listing.len(),
            known: listing
                .iter()
                .filter(|m| self.state.is_delivered(&m.uid))
                .count(),
            login_delay: conn.capa.login_delay.is_some_and(|d| d > 0),
            cut_short: false,
        };
        let t = now();
        if seen.known == 0 && seen.listed > 0 && delivered_before && account.policy.keep {
            // Mail delivered and kept on earlier runs is no longer listed,
            // only new mail is: a server that offers what was never
            // downloaded, a page at a time (Gmail).
            self.state.set_pages(t);
        }
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
        // commit_every: each message delivered here is deleted here (keep
        // is off), so a session fetches no more than it may delete.
        if let Some(n) = account.commit_every
            && !account.policy.keep
            && plan.fetch.len() > n
        {
            plan.fetch.truncate(n);
            seen.cut_short = true;
        }
        self.tried.extend(plan.fetch.iter().map(|m| m.uid.clone()));
        for m in &plan.too_big {
            if self.told_too_big.insert(m.uid.clone()) {
                self.opts
                    .observer
                    .too_big(account, m, account.policy.max_size);
            }
        }
        self.summary.too_big = plan.too_big.len();
        self.summary.held_back = plan.held_back;
        self.summary.on_server = self.summary.on_server.max(listing.len());

        self.opts
            .observer
            .planned(account, plan.fetch.len(), total_size(&plan.fetch));
        if !plan.fetch.is_empty() {
            self.deliver(&mut conn, &plan.fetch)?;
        } else {
            // Nothing to download: nothing is journalled, and the state is
            // written only if the listing taught something.
            self.state.save_if_changed(&self.paths.state)?;
        }

        let mut doomed = policy::deletions(&listing, self.state, &account.policy, now());
        if let Some(n) = account.commit_every {
            // At most n before the QUIT; never again what an earlier
            // session's QUIT deleted (a server that still lists it did not).
            let gone: HashSet<u32> = listing
                .iter()
                .filter(|m| self.deleted.contains(&m.uid))
                .map(|m| m.msg)
                .collect();
            doomed.retain(|msg| !gone.contains(msg));
            if doomed.len() > n {
                doomed.truncate(n);
                seen.cut_short = true;
            }
        }
        let accepted = match conn.delete(&doomed, self.opts.interrupt) {
            Ok(accepted) => accepted,
            Err(e) => {
                conn.abort();
                return Err(e);
            }
        };
        // Nothing deleted: the reply confirms nothing, so it is not waited
        // for, except on a server known to page. Such a server takes what
        // a session downloaded off its next page when that session ends;
        // the next session must not log in before it has.
        if doomed.is_empty() && self.state.pages().is_none() {
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

impl<'r> Run<'r> {
    /// Download and deliver `todo` (journal, group commits), save the
    /// state and empty the journal. After a failure the connection is cut
    /// (nothing is deleted), what landed is recorded and the journal is
    /// settled, as the next run would.
    fn deliver(&mut self, conn: &mut Connection, todo: &[Listed]) -> Result<(), Error> {
        if self.account.received_header && self.header.is_none() {
            // Made at the first download, not before the first connect:
            // its date reads the local time zone (crate::clock).
            self.header = Some(crate::deliver::received_header(
                &self.account.host,
                &self.account.user,
            ));
        }
        let mut journal = Journal::open(&self.paths.journal)?;
        let delivered = Delivery {
            target: self.target,
            state: self.state,
            header: self.header.as_deref(),
            log: &self.log,
            books: Books {
                account: self.account,
                opts: self.opts,
                journal: &mut journal,
                summary: self.summary,
                batch: Vec::with_capacity(BATCH),
            },
            in_flight: Vec::with_capacity(BATCH),
            running: None,
        }
        .run(conn, todo);
        // Whatever happened, record what landed before anything else.
        let saved = self.state.save_if_changed(&self.paths.state);
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
        self.target.after_run();
        Ok(())
    }
}

/// Everything the delivery loop works on, so that it can be passed around
/// as one.
struct Delivery<'a> {
    target: &'a mut Target,
    state: &'a mut UidState,
    header: Option<&'a [u8]>,
    log: &'a RunLog,
    books: Books<'a>,
    /// Sent off to be made durable; recorded once that is done.
    in_flight: Vec<Committed<'a>>,
    /// Handed to the MDA, which works on it while the next message
    /// arrives; its verdict is taken before the next one is handed over.
    running: Option<Handed<'a>>,
}

/// Where the targets' verdicts are booked ([`Books::book`]): apart from
/// the target, so that a verdict can be booked while a sink holds it.
struct Books<'a> {
    account: &'a Account,
    opts: &'a Options<'a>,
    journal: &'a mut Journal,
    summary: &'a mut Summary,
    /// Committed to the target, waiting for the next group commit.
    batch: Vec<Committed<'a>>,
}

/// A message received whole and handed to the target.
struct Handed<'a> {
    msg: &'a Listed,
    /// Its size as the server counts it ([`message_size`]).
    size: u64,
    /// The bytes written to the target.
    written: u64,
    /// Its From and Subject, when a log or `-v` wants them.
    headers: Option<log::Headers>,
    /// The target delivers in commit ([`Target::publishes_on_commit`]).
    publishes: bool,
}

/// A message committed to the target.
struct Committed<'a> {
    msg: &'a Listed,
    /// Its size as the server counts it ([`message_size`]).
    size: u64,
    /// The bytes written to the target.
    written: u64,
    /// Where it went (for `-v`).
    shown: String,
    /// Its From and Subject, when a log or `-v` wants them.
    headers: Option<log::Headers>,
}

impl<'a> Books<'a> {
    /// Take the target's verdict on a message handed to it. A delivered
    /// one waits in `batch` for the group commit; when the target
    /// published it (MDA, LMTP, SMTP), its `D` record is journalled at
    /// once, so that the sync before the next hand-over makes it durable.
    /// A deferred or refused one is counted and reported; any other
    /// failure stops the delivery.
    fn book(
        &mut self,
        handed: Handed<'a>,
        verdict: Result<String, DeliverError>,
    ) -> Result<(), Error> {
        let m = handed.msg;
        match verdict {
            Ok(shown) => {
                if handed.publishes {
                    self.journal.done(&m.uid)?;
                }
                self.batch.push(Committed {
                    msg: m,
                    size: handed.size,
                    written: handed.written,
                    shown,
                    headers: handed.headers,
                });
            }
            Err(DeliverError::Deferred(why)) => {
                self.summary.deferred += 1;
                self.opts.observer.deferred(self.account, m, &why);
            }
            Err(DeliverError::Rejected(why)) => {
                self.summary.rejected += 1;
                self.opts.observer.rejected(self.account, m, &why);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

impl<'a> Delivery<'a> {
    /// Download and deliver `todo`, keeping up to `window` RETRs in flight
    /// and committing in batches. Whatever fails, every message received
    /// whole before the failure is still committed and recorded.
    fn run(&mut self, conn: &mut Connection, todo: &'a [Listed]) -> Result<(), Error> {
        let result = self.retrieve(conn, todo);
        // Whatever stopped the loop, the message in the MDA's hands is let
        // finish, and what it did is recorded.
        let settled = self.settle();
        // A failed commit is the graver error: it is the one reported.
        let committed = self.commit_batch(true);
        committed.and(settled).and(result)
    }

    /// Wait for the message left in the MDA's hands, if any, and book its
    /// verdict.
    fn settle(&mut self) -> Result<(), Error> {
        match (self.target.settle(), self.running.take()) {
            (Some(verdict), Some(handed)) => self.books.book(handed, verdict),
            _ => Ok(()),
        }
    }

    fn retrieve(&mut self, conn: &mut Connection, todo: &'a [Listed]) -> Result<(), Error> {
        let mut sent = 0;
        for (i, m) in todo.iter().enumerate() {
            if self.books.opts.interrupt.is_set() {
                return Err(Error::interrupted());
            }
            conn.send_retrs(todo, i, &mut sent)?;
            self.one(conn, m)?;
            if self.books.batch.len() >= BATCH {
                self.commit_batch(false)?;
            }
        }
        Ok(())
    }

    /// Receive one message into the target (its RETR is already sent).
    fn one(&mut self, conn: &mut Connection, m: &'a Listed) -> Result<(), Error> {
        let interrupted = |e: ProtoError| {
            if self.books.opts.interrupt.is_set() {
                Error::interrupted()
            } else {
                Error::Protocol(e)
            }
        };
        let status = conn.session.read_status_any().map_err(interrupted)?;
        if !status.ok {
            // Gone since LIST (another client took it), or a server that
            // cannot send it now: nothing follows the -ERR, so the session
            // is still in step. It stays on the server and is reported.
            self.books
                .opts
                .observer
                .skipped(self.books.account, m, &status.text);
            self.books.summary.skipped.push(Skipped {
                msg: m.msg,
                uid: m.uid.clone(),
                size: m.size,
                code: status.code,
                text: status.text,
            });
            return Ok(());
        }
        let token = self.target.next_token();
        self.books.journal.begin(&m.uid, &token)?;
        let publishes = self.target.publishes_on_commit();
        let background = self.target.delivers_in_background();
        let account = self.books.account;
        let write_error = |source| DeliverError::Write {
            path: account_dest_path(account),
            source,
        };
        let mut sink = self.target.create(&token)?;
        if let Some(h) = self.header {
            sink.write_all(h).map_err(write_error)?;
        }
        let mut headers = (self.log.wants_headers() || self.books.opts.observer.wants_headers())
            .then(HeaderCapture::default);
        let mut counted = Counted {
            out: &mut sink,
            size: 0,
            unreported: 0,
            observer: self.books.opts.observer,
            account,
        };
        let body = match headers.as_mut() {
            Some(headers) => conn.session.read_body(&mut log::Tee {
                out: &mut counted,
                headers,
            }),
            None => conn.session.read_body(&mut counted),
        };
        counted.report();
        let size = counted.size;
        let written = match body {
            Ok(n) => n,
            Err(BodyError::Protocol(p)) => return Err(interrupted(p)),
            Err(BodyError::Sink(source)) => return Err(write_error(source).into()),
        };
        // The MDA worked on the message before while this one arrived.
        // Its verdict comes first: should it have failed, this one is not
        // handed over (dropped, its spool goes); and at most one message
        // is ever in the MDA's hands, so a crash can leave only one in
        // doubt.
        if let Some(verdict) = sink.settle_earlier()
            && let Some(earlier) = self.running.take()
        {
            self.books.book(earlier, verdict)?;
            if self.books.opts.interrupt.is_set() {
                // The interrupt came while the MDA had the message before:
                // that one was let finish; this one is not handed over.
                return Err(Error::interrupted());
            }
        }
        if background {
            // The MDA starts first, then the journal is synced, while it
            // starts: the records are in the kernel's hands, so a killed
            // popfetch leaves at most the MDA's message in doubt (see
            // `deliver::mda` for a power cut).
            self.books.journal.write()?;
        } else if publishes {
            // The target makes the message durable right in commit (or the
            // MDA it starts does): the intent must be on disk first, and
            // so must the `D` record of the message before, booked above.
            self.books.journal.sync()?;
        }
        let handed = Handed {
            msg: m,
            size,
            written,
            headers: headers.as_ref().map(log::Headers::of),
            publishes,
        };
        let verdict = match sink.start() {
            Ok(Started::Running) => {
                self.running = Some(handed);
                self.books.journal.sync()?;
                return Ok(());
            }
            Ok(Started::Done(shown)) => Ok(shown),
            Err(e) => Err(e),
        };
        self.books.book(handed, verdict)
    }

    /// Group commit: the journal's intents, then the batch's messages,
    /// become durable; only then are their UIDs recorded as delivered. The
    /// target commits in the background while the next batch arrives, so
    /// this first settles the batch sent off before. `last` waits for
    /// everything.
    fn commit_batch(&mut self, last: bool) -> Result<(), Error> {
        self.finish_in_flight()?;
        if !self.books.batch.is_empty() {
            self.books.journal.sync()?;
            self.target.sync_start()?;
            std::mem::swap(&mut self.books.batch, &mut self.in_flight);
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
        // A target that published in commit had each `D` record written
        // as its verdict came ([`Books::book`]).
        let journalled = self.target.publishes_on_commit();
        for c in self.in_flight.drain(..) {
            let m = c.msg;
            if !journalled {
                self.books.journal.done(&m.uid)?;
            }
            self.state.mark_delivered(&m.uid, t);
            self.books.summary.new += 1;
            self.books.summary.bytes = self.books.summary.bytes.saturating_add(c.size);
            self.books.opts.observer.delivered(
                self.books.account,
                m,
                c.size,
                &c.shown,
                c.headers.as_ref(),
            );
            self.log
                .delivered(&m.uid, c.written, c.headers.as_ref(), &c.shown);
        }
        Ok(())
    }
}

/// The size of a message as a POP3 server counts it in LIST (RFC 1939:
/// lines end in CRLF; no dot-stuffing, no terminating dot), from the
/// decoded text, whose lines end in LF. `check`, the summary, the progress
/// bars and `-v` all count this way, so one mailbox shows one figure
/// (what a target stores may be smaller: Maildir and mbox keep LF).
pub fn message_size(decoded: &[u8]) -> u64 {
    let lines = decoded.iter().filter(|&&b| b == b'\n').count();
    (decoded.len() as u64).saturating_add(lines as u64)
}

/// Passes a message through to the target, counting its size
/// ([`message_size`]) and telling the observer as the bytes arrive, every
/// [`REPORT_EVERY`] bytes rather than every read (the observer may take a
/// lock); [`Counted::report`] tells it the rest.
struct Counted<'a, 'o> {
    out: &'a mut dyn Write,
    size: u64,
    /// Counted but not yet told to the observer.
    unreported: u64,
    observer: &'o dyn Observer,
    account: &'o Account,
}

/// How many bytes [`Counted`] gathers before telling the observer.
const REPORT_EVERY: u64 = 64 * 1024;

impl Counted<'_, '_> {
    /// Tell the observer what it has not been told yet.
    fn report(&mut self) {
        if self.unreported > 0 {
            self.observer.received(self.account, self.unreported);
            self.unreported = 0;
        }
    }
}

impl Write for Counted<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        let more = message_size(&buf[..n]);
        self.size = self.size.saturating_add(more);
        self.unreported = self.unreported.saturating_add(more);
        if self.unreported >= REPORT_EVERY {
            self.report();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn account_dest_path(account: &Account) -> std::path::PathBuf {
    match &account.destination {
        crate::account::Destination::Maildir(p) | crate::account::Destination::Mbox(p) => p.clone(),
        crate::account::Destination::Mda(_) => "the MDA".into(),
        d @ (crate::account::Destination::Lmtp(_) | crate::account::Destination::Smtp(_)) => {
            d.describe().into()
        }
    }
}

/// The sizes LIST gave, added up; a server may claim anything, so the sum
/// stops at the largest number rather than overflow.
fn total_size(messages: &[Listed]) -> u64 {
    messages
        .iter()
        .fold(0u64, |sum, m| sum.saturating_add(m.size))
}

/// `check`: count what a fetch would download; change nothing.
pub fn check(account: &Account, secret: &Secret, opts: &Options<'_>) -> Outcome {
    match check_counts(account, secret, opts) {
        Ok(summary) => Outcome {
            summary,
            error: None,
        },
        Err(e) => Outcome::failed(e),
    }
}

fn check_counts(account: &Account, secret: &Secret, opts: &Options<'_>) -> Result<Summary, Error> {
    let started = Instant::now();
    let paths = Paths::new(&account.state_dir, &account.mailbox_id());
    let state = UidState::load(&paths.state)?;
    if opts.interrupt.is_set() {
        return Err(Error::interrupted());
    }
    let mut conn = session::connect(account, opts.trace.as_ref())?;
    conn.login(account, secret)?;
    let fetch_all = account.policy.fetch_all;
    let listing = conn.list_needed(fetch_all || !state.any_delivered(), &|uid: &str| {
        fetch_all || !state.is_delivered(uid)
    })?;
    let mut policy = account.policy.clone();
    policy.max_messages = None;
    let plan = policy::plan(&listing, &state, &policy);
    conn.session.quit()?;
    Ok(Summary {
        new: plan.fetch.len(),
        bytes: total_size(&plan.fetch),
        too_big: plan.too_big.len(),
        on_server: listing.len(),
        elapsed: started.elapsed(),
        ..Summary::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_the_server_calls_temporary_is_temporary() {
        let skipped = |code| Skipped {
            msg: 2,
            uid: "u".into(),
            size: 1,
            code,
            text: String::new(),
        };
        assert!(!skipped(None).temporary());
        assert!(!skipped(Some(RespCode::SysPerm)).temporary());
        for temp in [RespCode::SysTemp, RespCode::InUse] {
            assert!(skipped(Some(temp)).temporary());
        }
    }
}
