//! Delivery targets. Each message is written in full and made durable
//! before popfetch records its UID, and every target can tell, after a
//! crash, whether a journalled delivery landed.
//!
//! The life of a target in one run: [`Target::open`]; [`Target::recover`]
//! settles each delivery the journal left open (a token the target could
//! not have made is "not landed" and touches nothing);
//! [`Target::after_recovery`] then clears what earlier runs left behind.
//!
//! The life of one message: [`Target::next_token`] names it (the journal
//! records the name before any byte is written), [`Target::create`] opens a
//! [`Sink`], the message streams in, [`Sink::commit`] delivers it (or
//! [`Sink::start`] starts to: the MDA then works while the next message
//! arrives, until [`Target::settle`]), and
//! [`Target::sync_start`] then [`Target::sync_wait`] (the fetch goes on in
//! between) is the barrier after which every committed message is durable.
//! Only then are UIDs recorded as delivered. A sink dropped without commit
//! leaves nothing behind; after a failed delivery,
//! [`Target::discard_unsynced`] removes what was committed but not yet
//! made durable.
//!
//! Targets: [`maildir`] and [`mbox`] (group commit at `sync_start`), [`mda`]
//! and [`smtp`] (LMTP or SMTP; durable or handed over in `commit`
//! itself). The last three spool each message in the state directory first
//! ([`spool`], with [`envelope`] reading the sender), which is also where
//! their crash-recovery evidence lives. A new target is one more file here and
//! one more arm in each method of [`Target`].

mod envelope;
mod maildir;
pub(crate) mod mbox;
mod mda;
mod smtp;
mod spool;
mod unwritten;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use mbox::{quote_in_chunks as mbox_quote, unquote as mbox_unquote};

pub(crate) use envelope::HeaderCapture;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::account::{Account, Destination};
use maildir::Maildir;
use mbox::Mbox;
use mda::Mda;
use smtp::{Dialect, Smtp};
use spool::SpoolDir;

/// A group commit (Maildir, mbox) running on a helper thread while the
/// fetch goes on reading the network. Its owner waits for it before the
/// next one starts, and before the run lock can be released.
pub(super) struct InFlight<T> {
    handle: JoinHandle<Result<T, DeliverError>>,
    name: &'static str,
    path: PathBuf,
}

impl<T: Send + 'static> InFlight<T> {
    /// Run `commit` on a thread named `<name>`; `path` names the target in
    /// the errors of a thread that cannot be started or that panics.
    pub(super) fn start(
        name: &'static str,
        path: &Path,
        commit: impl FnOnce() -> Result<T, DeliverError> + Send + 'static,
    ) -> Result<Self, DeliverError> {
        let path = path.to_path_buf();
        match std::thread::Builder::new().name(name.into()).spawn(commit) {
            Ok(handle) => Ok(InFlight { handle, name, path }),
            Err(source) => Err(DeliverError::Write { path, source }),
        }
    }

    /// Wait for the commit to end and take its result.
    pub(super) fn wait(self) -> Result<T, DeliverError> {
        self.handle.join().unwrap_or_else(|_| {
            Err(DeliverError::Write {
                path: self.path,
                source: io::Error::other(format!("the {} thread panicked", self.name)),
            })
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("cannot create the Maildir {path}: {source}; check the path and its permissions")]
    Create { path: PathBuf, source: io::Error },
    #[error(
        "cannot write a message into {path}: {source}; check free space and permissions (nothing was deleted from the server)"
    )]
    Write { path: PathBuf, source: io::Error },
    /// The target asked to try again later (an MDA's exit 75): the message
    /// stays on the server and the run goes on with the next one.
    #[error("delivery deferred: {0}; the message stays on the server for the next run")]
    Deferred(String),
    /// The LMTP or SMTP server refused this message for good (a 5xx): it
    /// stays on the server, is reported, and the run goes on with the next
    /// one.
    #[error("delivery refused: {0}; the message stays on the server")]
    Rejected(String),
    #[error(
        "cannot connect to the {proto} server {server}: {source}; check `{key}` and that the server is running (nothing was deleted from the server)"
    )]
    RelayConnect {
        proto: &'static str,
        key: &'static str,
        server: String,
        source: io::Error,
    },
    #[error(
        "the {proto} server {server} {what}: {reply}; {fix} (delivery for this account stopped; the message stays on the server)"
    )]
    RelayRefused {
        proto: &'static str,
        server: String,
        what: String,
        reply: String,
        fix: String,
        /// A 4xx: worth trying again later.
        temporary: bool,
    },
    #[error(
        "the connection to the {proto} server {server} failed {during}: {why}; delivery for this account stopped and the message stays on the server{}",
        if *doubt { " (if the server took it all the same, it will arrive twice)" } else { "" }
    )]
    RelayLost {
        proto: &'static str,
        server: String,
        during: String,
        why: String,
        /// The server had the whole message: it may have delivered it.
        doubt: bool,
    },
    #[error(
        "the {proto} server {server} broke the protocol {during}: {what}; delivery for this account stopped and the message stays on the server"
    )]
    RelayProtocol {
        proto: &'static str,
        server: String,
        during: String,
        what: String,
    },
    #[error(
        "cannot append to the mbox {path}: {source}; check that its directory exists or can be created and that you may write the file"
    )]
    MboxOpen { path: PathBuf, source: io::Error },
    #[error(
        "cannot use the spool {path}: {source}; check free space and permissions in the state directory (nothing was deleted from the server)"
    )]
    Spool { path: PathBuf, source: io::Error },
    #[error(
        "the mbox {path} stayed locked by another program for {waited} s ({}); nothing was deleted from the server: run popfetch again later{}",
        if *dotlock { "lock file exists" } else { "fcntl lock held" },
        if *dotlock { ", or remove the .lock file next to it if no mail program is running" } else { "" }
    )]
    MboxLocked {
        path: PathBuf,
        dotlock: bool,
        waited: u64,
    },
    #[error(
        "appending to the mbox {path} failed ({source}) and cutting it back to {offset} bytes failed too: everything after byte {offset} is a partial message; popfetch retries the cut on its next run (nothing was deleted from the server)"
    )]
    CutBack {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },
    #[error(
        "the mbox {path} holds, from byte {offset} to about byte {end}, (part of) a message popfetch was appending when it was stopped, and other mail follows it; popfetch will not cut other mail away: remove those bytes with an editor, then delete {spool}; the message will be fetched again"
    )]
    MboxForeign {
        path: PathBuf,
        offset: u64,
        end: u64,
        spool: PathBuf,
    },
    #[error(
        "the MDA program {program} {why}; install it or give its full path in `mda` (nothing was deleted from the server)"
    )]
    MdaMissing { program: String, why: String },
    #[error("bad `mda` setting: {0}")]
    MdaConfig(String),
    #[error("cannot run the MDA `{command}`: {source} (nothing was deleted from the server)")]
    MdaSpawn { command: String, source: io::Error },
    #[error(
        "the MDA `{command}` failed ({status}); delivery for this account stopped and the message stays on the server: fix the MDA and run popfetch again{output}"
    )]
    MdaFailed {
        command: String,
        status: String,
        output: String,
    },
}

/// A message being written. Dropped without [`Sink::commit`], it leaves
/// nothing behind.
pub(crate) trait Sink: Write {
    /// Deliver the message. It is durable once [`Target::sync_wait`]
    /// returns after the next [`Target::sync_start`]. Returns where it
    /// went, for `-v`.
    fn commit(self: Box<Self>) -> Result<String, DeliverError>;

    /// Like [`Sink::commit`], but a target that hands the message to
    /// another process (the MDA) may return while that process works, so
    /// that the next message can arrive meanwhile; [`Target::settle`] then
    /// gives the verdict. At most one message is left running: settle it
    /// before the next `start`.
    fn start(self: Box<Self>) -> Result<Started, DeliverError> {
        self.commit().map(Started::Done)
    }

    /// Wait for the message an earlier [`Sink::start`] of this target left
    /// running, if any, and give its verdict, as [`Target::settle`] does
    /// (the sink holds the target).
    fn settle_earlier(&mut self) -> Option<Result<String, DeliverError>> {
        None
    }
}

/// What [`Sink::start`] did.
#[derive(Debug)]
pub(crate) enum Started {
    /// Delivered (see [`Sink::commit`]); where it went, for `-v`.
    Done(String),
    /// Still in the MDA's hands: [`Target::settle`] gives the verdict.
    Running,
}

/// An open delivery target.
pub(crate) enum Target {
    Maildir(Maildir),
    Mbox(Mbox),
    Mda(Mda),
    Smtp(Smtp),
}

impl Target {
    pub(crate) fn open(account: &Account) -> Result<Target, DeliverError> {
        match &account.destination {
            Destination::Maildir(path) => Ok(Target::Maildir(Maildir::open(path)?)),
            Destination::Mbox(path) => {
                let spool = SpoolDir::open(&account.state_dir, &account.mailbox_id())?;
                Ok(Target::Mbox(Mbox::open(path, spool)?))
            }
            Destination::Mda(spec) => {
                let spool = SpoolDir::open(&account.state_dir, &account.mailbox_id())?;
                Ok(Target::Mda(Mda::open(spec, &account.user, spool)?))
            }
            Destination::Lmtp(relay) | Destination::Smtp(relay) => {
                let dialect = match &account.destination {
                    Destination::Lmtp(_) => Dialect::Lmtp,
                    _ => Dialect::Smtp,
                };
                let spool = SpoolDir::open(&account.state_dir, &account.mailbox_id())?;
                Ok(Target::Smtp(Smtp::open(
                    dialect,
                    relay,
                    account.timeout,
                    spool,
                )))
            }
        }
    }

    /// A fresh name for the next message, recorded in the journal before
    /// any byte is written. Never contains spaces or newlines.
    pub(crate) fn next_token(&mut self) -> String {
        match self {
            Target::Maildir(m) => m.next_token(),
            Target::Mbox(m) => m.next_token(),
            Target::Mda(m) => m.next_token(),
            Target::Smtp(m) => m.next_token(),
        }
    }

    /// Start writing the message named `token`.
    pub(crate) fn create(&mut self, token: &str) -> Result<Box<dyn Sink + '_>, DeliverError> {
        match self {
            Target::Maildir(m) => Ok(Box::new(m.create(token)?)),
            Target::Mbox(m) => Ok(Box::new(m.create(token)?)),
            Target::Mda(m) => Ok(Box::new(m.create(token)?)),
            Target::Smtp(m) => Ok(Box::new(m.create(token)?)),
        }
    }

    /// Whether [`Sink::commit`] itself makes the message durable and
    /// visible (mbox, MDA, LMTP/SMTP) rather than waiting for
    /// [`Target::sync_start`]; the journal is then synced before each
    /// commit.
    pub(crate) fn publishes_on_commit(&self) -> bool {
        match self {
            Target::Maildir(_) | Target::Mbox(_) => false,
            Target::Mda(_) | Target::Smtp(_) => true,
        }
    }

    /// Whether [`Sink::start`] leaves the message with another process (the
    /// MDA) and returns before it is delivered.
    pub(crate) fn delivers_in_background(&self) -> bool {
        matches!(self, Target::Mda(_))
    }

    /// Wait for the message [`Sink::start`] left running, if any, and give
    /// its verdict as [`Sink::commit`] would.
    pub(crate) fn settle(&mut self) -> Option<Result<String, DeliverError>> {
        match self {
            Target::Mda(m) => m.settle(),
            Target::Maildir(_) | Target::Mbox(_) | Target::Smtp(_) => None,
        }
    }

    /// Call once after the journal has been settled (the first round of
    /// [`Target::recover`] calls, if any), before the first
    /// [`Target::create`]: remove what earlier runs left behind that no
    /// journal record names any more (mbox and MDA spool files and `.done`
    /// markers; an mbox append whose cut-back failed is cut back now).
    pub(crate) fn after_recovery(&mut self) -> Result<(), DeliverError> {
        match self {
            Target::Maildir(_) => Ok(()),
            Target::Mbox(m) => m.after_recovery(),
            Target::Mda(m) => m.after_recovery(),
            Target::Smtp(m) => m.after_recovery(),
        }
    }

    /// Call once the run's deliveries are recorded in the state and the
    /// journal is cleared: drop what only a crash would have needed (the
    /// mbox's last `.done` markers).
    pub(crate) fn after_run(&mut self) {
        match self {
            Target::Mbox(m) => m.forget_landed(),
            Target::Maildir(_) | Target::Mda(_) | Target::Smtp(_) => {}
        }
    }

    /// After a failed delivery, before its journal is settled: remove the
    /// messages committed but never made durable (their UIDs were never
    /// recorded; they are fetched again), once a batch in flight has
    /// finished.
    pub(crate) fn discard_unsynced(&mut self) {
        match self {
            Target::Maildir(m) => m.discard_unsynced(),
            Target::Mbox(m) => m.discard_unsynced(),
            // Their commit already made each message durable.
            Target::Mda(_) | Target::Smtp(_) => {}
        }
    }

    /// Forget what an earlier recovery learnt about the target: call before
    /// each round of [`Target::recover`] calls.
    pub(crate) fn begin_recovery(&mut self) {
        match self {
            Target::Maildir(m) => m.begin_recovery(),
            // They keep nothing between calls.
            Target::Mbox(_) | Target::Mda(_) | Target::Smtp(_) => {}
        }
    }

    /// Start making every message committed so far durable, in the
    /// background where the target can (Maildir, mbox); at most one batch
    /// is in flight. Their UIDs may be recorded once [`Target::sync_wait`]
    /// returns Ok. Call it only once the journal durably records as done
    /// every message of the batches before (the mbox then drops the
    /// markers recovery would otherwise have needed for them).
    pub(crate) fn sync_start(&mut self) -> Result<(), DeliverError> {
        match self {
            Target::Maildir(m) => m.sync_start(),
            Target::Mbox(m) => m.sync_start(),
            // Their commit already made each message durable.
            Target::Mda(_) | Target::Smtp(_) => Ok(()),
        }
    }

    /// Wait for the batch [`Target::sync_start`] sent off.
    pub(crate) fn sync_wait(&mut self) -> Result<(), DeliverError> {
        match self {
            Target::Maildir(m) => m.sync_wait(),
            Target::Mbox(m) => m.sync_wait(),
            Target::Mda(_) | Target::Smtp(_) => Ok(()),
        }
    }

    /// After a crash: did the message journalled under `token` land? If
    /// not, remove whatever half of it is left. Tokens of earlier runs are
    /// settled before this run's first [`Target::create`], then
    /// [`Target::after_recovery`] drops the evidence they left; after a
    /// failure, this run settles its own tokens the same way. A token the
    /// target's `next_token` could not have made (a garbled journal) names
    /// nothing of the target's: not landed, and nothing is touched.
    pub(crate) fn recover(&self, token: &str) -> Result<bool, DeliverError> {
        match self {
            Target::Maildir(m) => m.recover(token),
            Target::Mbox(m) => m.recover(token),
            Target::Mda(m) => m.recover(token),
            Target::Smtp(m) => m.recover(token),
        }
    }
}

/// How many names this process has made, over every target of every
/// account: two accounts delivering into one Maildir at once (`-j`) share
/// the pid and may share the microsecond, never the count.
static MADE: AtomicU64 = AtomicU64::new(0);

/// The time, the process and a process-wide count: what makes a target's
/// message names unique across runs, processes, accounts and messages.
#[derive(Debug, Clone)]
struct Unique {
    pid: u32,
}

impl Unique {
    fn new() -> Unique {
        Unique {
            pid: std::process::id(),
        }
    }

    /// `<secs><sep><usecs>P<pid>Q<seq>` for the next message; `<usecs>`
    /// has six digits when `pad`.
    fn next(&self, sep: &str, pad: bool) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.next_at(now, sep, pad)
    }

    /// [`Unique::next`] at the time `now` (since the epoch).
    fn next_at(&self, now: std::time::Duration, sep: &str, pad: bool) -> String {
        let seq = MADE.fetch_add(1, Ordering::Relaxed) + 1;
        let usecs = now.subsec_micros();
        let usecs = if pad {
            format!("{usecs:06}")
        } else {
            usecs.to_string()
        };
        format!("{}{sep}{usecs}P{}Q{seq}", now.as_secs(), self.pid)
    }

    /// What follows the part of `s` that [`Unique::next`] made with `sep`
    /// (each number one or more decimal digits); `None` when `s` does not
    /// start with such a part.
    fn rest<'a>(s: &'a str, sep: &str) -> Option<&'a str> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (secs, rest) = s.split_once(sep)?;
        let (usecs, rest) = rest.split_once('P')?;
        let (pid, rest) = rest.split_once('Q')?;
        let (seq, rest) = rest.split_at(
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len()),
        );
        (digits(secs) && digits(usecs) && digits(pid) && digits(seq)).then_some(rest)
    }
}

/// 64 random bits in hex, from the kernel (`getrandom`, else
/// `/dev/urandom`). Should both fail, the clock's nanoseconds stand in:
/// the pid and the count still tell names apart.
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    let got = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    if got.ok() != Some(bytes.len()) {
        use std::io::Read;
        let urandom =
            std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
        if urandom.is_err() {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos();
            bytes = u64::from(nanos).to_le_bytes();
        }
    }
    crate::text::hex(&bytes)
}

/// This host's name, as the kernel reports it.
pub(crate) fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The `Received:` line put before each message fetched from the POP3
/// server `host` for `user`.
pub(crate) fn received_header(host: &str, user: &str) -> Vec<u8> {
    let date = jiff::fmt::rfc2822::to_string(&crate::clock::local_now()).unwrap_or_default();
    format!(
        "Received: from {host} by {local} with POP3 (popfetch {ver})\n\tfor <{user}>; {date}\n",
        local = hostname(),
        ver = env!("CARGO_PKG_VERSION"),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::CommandSpec;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::Path;

    /// Every file below `dir` with its bytes, but for those below `skip`.
    fn files(dir: &Path, skip: &[PathBuf], out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if skip.contains(&path) {
                continue;
            }
            if path.is_dir() {
                files(&path, skip, out);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }

    /// A directory holding one target of each kind and mail they must not
    /// touch: a file beside them, messages in `cur/` and `new/`, an mbox
    /// with mail in it. Returns the targets and the directories recovery
    /// may change (`tmp/`, the spool directories).
    fn targets(dir: &Path) -> (Vec<Target>, Vec<PathBuf>) {
        let state = dir.join("state");
        let maildir = Maildir::open(&dir.join("Mail")).unwrap();
        fs::write(dir.join("sentinel"), "beside").unwrap();
        fs::write(dir.join("Mail/cur/1.M1P1Q1.h,S=3:2,S"), "cur").unwrap();
        fs::write(dir.join("Mail/new/1.M2P1Q2.h,S=3"), "new").unwrap();
        fs::write(dir.join("Mail/tmp/1.M3P1Q3.h"), "tmp").unwrap();
        let mbox =
            Mbox::open(&dir.join("inbox"), SpoolDir::open(&state, "m@h:1").unwrap()).unwrap();
        fs::write(
            dir.join("inbox"),
            "From a@b Thu Jan  4 09:05:01 2024\n\nx\n\n",
        )
        .unwrap();
        let spec = CommandSpec::Argv(vec!["cat".into()]);
        let mda = Mda::open(&spec, "u", SpoolDir::open(&state, "d@h:1").unwrap()).unwrap();
        let relay = crate::account::Relay {
            server: crate::account::ServerAddr::Unix(dir.join("lmtp")),
            recipient: "u".into(),
        };
        let smtp = Smtp::open(
            Dialect::Lmtp,
            &relay,
            std::time::Duration::from_secs(1),
            SpoolDir::open(&state, "s@h:1").unwrap(),
        );
        fs::write(state.join("sentinel"), "state").unwrap();
        let own = vec![
            dir.join("Mail/tmp"),
            state.join("spool/m@h%3A1"),
            state.join("spool/d@h%3A1"),
            state.join("spool/s@h%3A1"),
        ];
        let targets = vec![
            Target::Maildir(maildir),
            Target::Mbox(mbox),
            Target::Mda(mda),
            Target::Smtp(smtp),
        ];
        (targets, own)
    }

    /// Tokens a garbled journal could hold; `{ROOT}` stands for the test's
    /// directory.
    fn garbled_token() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec![
            "",
            "/",
            "./",
            "../",
            "../../",
            "../cur/",
            "../new/",
            "../../state/",
            "tmp/../",
            "{ROOT}/",
            "{ROOT}/Mail/cur/",
            "{ROOT}/state/",
            "1.M2P3Q4.",
            "1.000002P3Q4.",
            "1.M2P3Q4.h/../",
            "1.000002P3Q4/../",
        ]);
        let name = prop::sample::select(vec![
            "",
            ".",
            "..",
            "sentinel",
            "inbox",
            "cur",
            "new",
            "tmp",
            "state",
            "spool",
            "1.M1P1Q1.h,S=3:2,S",
            "1.M2P1Q2.h,S=3",
            "1.M1P1Q1.h",
            "1.M3P1Q3.h",
        ]);
        prop_oneof![
            any::<String>(),
            "[./a-zA-Z0-9:,\\\\{}MPQ-]{0,30}",
            (prefix, name).prop_map(|(p, n)| format!("{p}{n}")),
        ]
    }

    proptest! {
        #[test]
        fn recovery_of_a_garbled_token_touches_nothing_outside_its_own_files(
            tokens in proptest::collection::vec(garbled_token(), 1..8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (mut targets, own) = targets(dir.path());
            let mut before = BTreeMap::new();
            files(dir.path(), &own, &mut before);
            let root = dir.path().display().to_string();
            for t in &mut targets {
                t.begin_recovery();
                for token in &tokens {
                    let token = token.replace("{ROOT}", &root);
                    prop_assert!(t.recover(&token).is_ok(), "{token:?}");
                }
            }
            let mut after = BTreeMap::new();
            files(dir.path(), &own, &mut after);
            prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn unique_parts_keep_their_shape() {
        let u = Unique { pid: 42 };
        let spool = u.next(".", true);
        let (secs, rest) = spool.split_once('.').unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{spool}");
        let (usecs, rest) = rest.split_once("P42Q").unwrap();
        assert_eq!(usecs.len(), 6, "{spool}");
        let seq: u64 = rest.parse().unwrap();
        assert_eq!(Unique::rest(&spool, "."), Some(""));
        assert_eq!(Unique::rest(&spool, ".M"), None);
        let maildir = format!("{}.host", u.next(".M", false));
        let later: u64 = maildir
            .split_once("P42Q")
            .and_then(|(_, r)| r.strip_suffix(".host"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(later > seq, "{spool} {maildir}");
        assert_eq!(Unique::rest(&maildir, ".M"), Some(".host"));
        for bad in [
            "", "1.2P3Q", "1.2PQ3", "1.P2Q3", ".2P3Q4", "1.2P3x4", "x1.2P3Q4",
        ] {
            assert_eq!(Unique::rest(bad, "."), None, "{bad:?}");
        }
        let r = random_hex();
        assert!(
            r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()),
            "{r}"
        );
        assert_ne!(r, random_hex());
    }

    #[test]
    fn two_makers_at_the_same_instant_make_different_names() {
        // Two targets of one process (two accounts, one Maildir) asking in
        // the same microsecond.
        let now = std::time::Duration::from_micros(1_700_000_000_123_456);
        let (a, b) = (Unique::new(), Unique::new());
        for _ in 0..3 {
            assert_ne!(a.next_at(now, ".M", false), b.next_at(now, ".M", false));
        }
    }

    #[test]
    fn received_header_names_both_hosts_and_the_user() {
        let h = String::from_utf8(received_header("pop.example.org", "ann")).unwrap();
        let start = format!(
            "Received: from pop.example.org by {} with POP3 (popfetch ",
            hostname()
        );
        assert!(h.starts_with(&start), "{h}");
        assert!(h.contains(")\n\tfor <ann>; "), "{h}");
        assert!(h.ends_with('\n') && h.matches('\n').count() == 2, "{h}");
    }
}
