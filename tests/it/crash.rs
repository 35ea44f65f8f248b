//! The crash promise (SPEC §4): a SIGKILL at any instant loses nothing and,
//! for Maildir and mbox, delivers nothing twice; SIGINT and SIGTERM roll
//! back the message in hand, leave the server untouched, save the state
//! and exit 75; a full disk is a clear error that deletes nothing.
//!
//! Kill moments come from a seeded generator; the seed is printed and can
//! be replaced with `POPFETCH_CRASH_SEED=<n>` to explore or reproduce.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::process::Signal;

use crate::common::corpus::{Rng, pop3_wire};
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{
    AccountToml, TestEnv, assert_same_messages, config_of, maildir_tmp_files, read_maildir, sorted,
};
use crate::common::kill::{
    Relay, Tmpfs, assert_journal_settled, count_files, delivered_uids, read_mboxrd, send_signal,
    sized_corpus, small_corpus, state_files, uid_to_index,
};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, wait_until};

/// EX_TEMPFAIL: how an interrupted run exits.
const EX_TEMPFAIL: i32 = 75;
/// EX_IOERR: local delivery failed.
const EX_IOERR: i32 = 74;

/// Messages in each kill test.
const KILL_MESSAGES: usize = 2_000;
/// Largest message in the kill tests, so that 2,000 stay quick to serve.
const KILL_MAX_LEN: usize = 12_000;
/// SIGKILLs per test spread over delivery (runs that finish before their
/// moment come on top).
const KILL_ROUNDS: usize = 24;
/// Further runs killed once everything is delivered: while the state is
/// saved, the journal cleared, DELE and QUIT sent.
const TAIL_ROUNDS: usize = 3;

/// Polls `cond` every millisecond, for at most a minute.
fn poll_until(mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How many UIDs the state file records as delivered (0 while it does
/// not exist or is being replaced).
fn delivered_count(state_dir: &Path) -> usize {
    state_files(state_dir, ".state")
        .first()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.matches(" delivered\n").count())
        .unwrap_or(0)
}

fn seed(default: u64) -> u64 {
    let seed = std::env::var("POPFETCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    eprintln!("crash test seed: {seed} (set POPFETCH_CRASH_SEED to change it)");
    seed
}

#[derive(Debug, Clone)]
enum Dest {
    Maildir(PathBuf),
    Mbox(PathBuf),
}

impl Dest {
    fn configure(&self, acct: AccountToml) -> AccountToml {
        match self {
            Dest::Maildir(_) => acct,
            Dest::Mbox(p) => acct.remove("maildir").str("mbox", &p.display().to_string()),
        }
    }

    /// How far delivery has got: files in the Maildir, bytes in the mbox.
    fn progress(&self) -> u64 {
        match self {
            Dest::Maildir(p) => (count_files(&p.join("new")) + count_files(&p.join("cur"))) as u64,
            Dest::Mbox(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        }
    }

    /// Roughly which share of `msgs` has been delivered.
    fn fraction(&self, msgs: &[Vec<u8>]) -> f64 {
        match self {
            Dest::Maildir(_) => self.progress() as f64 / msgs.len() as f64,
            Dest::Mbox(_) => {
                self.progress() as f64 / msgs.iter().map(|m| m.len()).sum::<usize>() as f64
            }
        }
    }

    fn messages(&self) -> Vec<Vec<u8>> {
        match self {
            Dest::Maildir(p) => read_maildir(p),
            Dest::Mbox(p) => {
                let data = std::fs::read(p).unwrap_or_default();
                read_mboxrd(&data).0
            }
        }
    }

    /// Asserts nothing half-written is left next to the delivered mail.
    #[track_caller]
    fn assert_no_leftovers(&self) {
        match self {
            Dest::Maildir(p) => {
                let tmp = maildir_tmp_files(p);
                assert!(tmp.is_empty(), "leftovers in tmp/: {tmp:?}");
            }
            Dest::Mbox(p) => {
                let (_, seps) = read_mboxrd(&std::fs::read(p).unwrap());
                for s in seps {
                    assert!(
                        s.len() > "From ".len() && !s.contains('\r'),
                        "separator {s:?} names a sender and a date"
                    );
                }
            }
        }
    }
}

/// How one kill test went.
#[derive(Debug, Default)]
struct Tally {
    /// Runs that were still going when SIGKILL hit.
    kills: usize,
    /// Kills after which the destination held more than before the run.
    grew: usize,
    /// Kills that left journal records: the kill hit between an intent and
    /// its settlement, the window recovery exists for.
    in_flight: usize,
    /// Runs that finished before their kill moment.
    finished: usize,
}

/// What an unkilled run of the mailbox looks like, as the scale for kill
/// moments: how many bytes the server sends (through the relay) and how
/// long it takes, for a full run and for a run with nothing to deliver.
#[derive(Debug, Clone, Copy)]
struct Scale {
    full_bytes: u64,
    idle_bytes: u64,
    idle_time: Duration,
}

/// Measures on a copy of the account (keep = true, a scratch Maildir and
/// its own state): one run that delivers everything, then one that
/// delivers nothing.
fn measure(dc: &Dovecot, relay: &Relay, n: usize) -> Scale {
    let env = TestEnv::new();
    let scratch = env.path("Scratch");
    let acct = dc
        .account("probe", USER, PASSWORD, Tls::Implicit, &scratch)
        .raw("port", relay.port().to_string())
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&acct]));
    let args = ["-q", "-c", cfg.to_str().unwrap()];
    let base = relay.forwarded();
    let out = env.run(&args);
    out.assert_success();
    assert_eq!(read_maildir(&scratch).len(), n, "{out}");
    let full_bytes = relay.forwarded() - base;
    let base = relay.forwarded();
    let idle = env.run(&args);
    idle.assert_success();
    Scale {
        full_bytes,
        idle_bytes: relay.forwarded() - base,
        idle_time: idle.elapsed,
    }
}

/// One kill test's fixtures.
#[derive(Clone, Copy)]
struct Bench<'a> {
    env: &'a TestEnv,
    cfg: &'a Path,
    dest: &'a Dest,
    relay: &'a Relay,
    dc: &'a Dovecot,
    msgs: &'a [Vec<u8>],
}

/// Starts popfetch again and again, SIGKILLing it at seeded moments.
/// Returns what the kills hit.
///
/// A quarter of the moments are times within a start-up (loading the
/// state, recovery, connecting, TLS, logging in, listing). The others are
/// points in the server's byte stream: the kill comes when the run has
/// received that many bytes, plus up to a few milliseconds. Those points
/// are spread so that the kills walk through most of the mailbox and the
/// last run finishes the rest; bytes rather than times keep the moments
/// inside delivery however loaded the machine is. The tail rounds kill
/// once everything is delivered: just after the state records it all
/// (journal clearing, DELE, QUIT), then among the DELE answers.
fn kill_repeatedly(bench: &Bench<'_>, seed: u64, scale: Scale) -> Tally {
    let Bench {
        env,
        cfg,
        dest,
        relay,
        dc,
        msgs: total,
    } = *bench;
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let body = scale.full_bytes.saturating_sub(scale.idle_bytes) as f64;
    let early_ms = (scale.idle_time.as_millis() as usize).max(5);
    let args = ["-q", "-c", cfg.to_str().unwrap()];
    let mut moments = Vec::new();
    let all = total.len();
    for round in 0..KILL_ROUNDS + TAIL_ROUNDS {
        let before = dest.progress();
        let base = relay.forwarded();
        let mut run = env.spawn(&args);
        let moment = if round % 4 == 0 && round < KILL_ROUNDS {
            let ms = rng.range(1, early_ms);
            std::thread::sleep(Duration::from_millis(ms as u64));
            format!("{ms}ms")
        } else if round == KILL_ROUNDS {
            // Right after the state file first records every message: the
            // journal is being cleared, DELE or QUIT is under way.
            let jitter = rng.range(0, 2_000);
            poll_until(|| delivered_count(&env.state_dir()) >= all || !run.running());
            std::thread::sleep(Duration::from_micros(jitter as u64));
            format!("all-recorded+{jitter}us")
        } else {
            // Up to twice the mean step that would cover 90 % of what is
            // left over the delivery rounds left; never less than a few
            // dozen KB, which with nothing left to deliver lands among the
            // DELE answers.
            let rounds_left = KILL_ROUNDS.saturating_sub(round).div_ceil(4) * 3;
            let left = body * (1.0 - dest.fraction(total)).max(0.0);
            let step = (1.8 * left / rounds_left.max(1) as f64) as usize;
            let at = scale.idle_bytes + rng.range(0, step.max(40_000)) as u64;
            let jitter = rng.range(0, 3);
            poll_until(|| relay.forwarded() - base >= at || !run.running());
            std::thread::sleep(Duration::from_millis(jitter as u64));
            format!("{}KB+{jitter}ms", at / 1000)
        };
        let out = run.kill();
        let after = dest.progress();
        match (out.signal, out.code) {
            (Some(9), _) => {
                tally.kills += 1;
                if after > before {
                    tally.grew += 1;
                }
                let journal = state_files(&env.state_dir(), ".journal");
                if journal
                    .iter()
                    .any(|j| std::fs::metadata(j).is_ok_and(|m| m.len() > 0))
                {
                    tally.in_flight += 1;
                }
                moments.push(format!("{moment}:{before}->{after}/{}", dc.remaining(USER)));
            }
            (None, Some(0)) => {
                tally.finished += 1;
                moments.push(format!("{moment}:finished"));
            }
            _ => panic!("a run ended other than by SIGKILL or success\n{out}"),
        }
    }
    eprintln!(
        "kill moments (seed {seed}, {scale:?}): {}",
        moments.join(" ")
    );
    eprintln!("{tally:?}");
    tally
}

#[track_caller]
fn assert_kills_bit(tally: &Tally) {
    assert!(
        tally.kills >= 20,
        "at least 20 runs must have been killed mid-run: {tally:?}"
    );
    assert!(
        tally.grew >= 3 && tally.in_flight >= 5,
        "the kills must land in the middle of delivering, not only before \
         or after it: {tally:?}"
    );
}

/// The SIGKILL test for one destination and keep setting.
fn kill9_exactly_once(dest_of: fn(&TestEnv) -> Dest, keep: bool, default_seed: u64) {
    let seed = seed(default_seed);
    let msgs = small_corpus(seed, KILL_MESSAGES, KILL_MAX_LEN);
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    dc.load_mailbox(USER, &msgs);
    // Every run goes through a relay that only counts the bytes.
    let relay = Relay::start(dc.pop3s_port());
    let scale = measure(&dc, &relay, msgs.len());

    let env = TestEnv::new();
    let dest = dest_of(&env);
    let acct = dest.configure(
        dc.account("crash", USER, PASSWORD, Tls::Implicit, &env.path("Maildir"))
            .raw("port", relay.port().to_string())
            .raw("keep", keep.to_string()),
    );
    let cfg = env.write_config(&config_of(&[&acct]));

    let bench = Bench {
        env: &env,
        cfg: &cfg,
        dest: &dest,
        relay: &relay,
        dc: &dc,
        msgs: &msgs,
    };
    let tally = kill_repeatedly(&bench, seed, scale);

    let last = env.run(&["-c", cfg.to_str().unwrap()]);
    last.assert_success();
    assert_same_messages(&dest.messages(), &msgs);
    dest.assert_no_leftovers();
    assert_journal_settled(&env.state_dir());
    if keep {
        assert_eq!(dc.server_messages(USER), sorted(&msgs), "keep = true");
        assert_eq!(
            delivered_uids(&env.state_dir()).len(),
            msgs.len(),
            "the state records every UID as delivered"
        );
        let progress = dest.progress();
        let again = env.run(&["-c", cfg.to_str().unwrap()]);
        again.assert_success();
        assert_eq!(dest.progress(), progress, "a further run delivers nothing");
        assert_same_messages(&dest.messages(), &msgs);
    } else {
        assert_eq!(dc.remaining(USER), 0, "keep = false: the server ends empty");
    }
    assert_kills_bit(&tally);
}

fn maildir_dest(env: &TestEnv) -> Dest {
    Dest::Maildir(env.path("Maildir"))
}

fn mbox_dest(env: &TestEnv) -> Dest {
    let dir = env.path("Mail");
    std::fs::create_dir_all(&dir).unwrap();
    Dest::Mbox(dir.join("inbox.mbox"))
}

/// mboxrd as SPEC §4 has it, written the simple way: a separator, every
/// `>*From ` line quoted once more, a blank line after each message.
fn write_mboxrd(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(b"From sender@example.org Thu Jan  1 00:00:00 2026\n");
        for line in m.split_inclusive(|&b| b == b'\n') {
            let gts = line.iter().take_while(|&&b| b == b'>').count();
            if line[gts..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        out.push(b'\n');
    }
    out
}

#[test]
fn mboxrd_reader_undoes_the_quoting() {
    let msgs = small_corpus(9_004, 300, KILL_MAX_LEN);
    let quoted = msgs
        .iter()
        .filter(|m| m.split(|&b| b == b'\n').any(|l| l.starts_with(b"From ")))
        .count();
    assert!(quoted > 10, "the corpus has body lines that need quoting");
    let data = write_mboxrd(&msgs);
    let (back, seps) = read_mboxrd(&data);
    assert_eq!(seps.len(), msgs.len());
    assert_eq!(back, msgs, "read back in order, byte for byte");
}

#[test]
fn kill9_maildir_exactly_once() {
    kill9_exactly_once(maildir_dest, false, 9_001);
}

#[test]
fn kill9_maildir_keep_exactly_once() {
    kill9_exactly_once(maildir_dest, true, 9_002);
}

#[test]
fn kill9_mbox_exactly_once() {
    kill9_exactly_once(mbox_dest, false, 9_003);
}

/// Asserts the Maildir holds only whole corpus messages, each once, and
/// returns their corpus indexes.
#[track_caller]
fn delivered_indexes(maildir: &Path, msgs: &[Vec<u8>]) -> BTreeSet<usize> {
    let by_bytes: HashMap<&[u8], usize> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_slice(), i))
        .collect();
    let mut seen = BTreeSet::new();
    for m in read_maildir(maildir) {
        let Some(&i) = by_bytes.get(m.as_slice()) else {
            panic!(
                "a delivered file is not a whole corpus message (partial?):\n{}",
                String::from_utf8_lossy(&m[..m.len().min(400)])
            );
        };
        assert!(seen.insert(i), "message {i} delivered twice");
    }
    seen
}

#[test]
fn sigint_mid_message_rolls_back_keeps_the_server_and_saves_state() {
    let seed = seed(9_010);
    let msgs = small_corpus(seed, 600, 16_000);
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    dc.load_mailbox(USER, &msgs);
    // Dovecot's bytes go through a relay that stops passing them on at an
    // arbitrary point, well inside the mailbox: popfetch is then waiting in
    // the middle of a message when the signal comes.
    let relay = Relay::start(dc.pop3s_port());
    let total: usize = msgs.iter().map(|m| m.len()).sum();
    relay.hold_at(total as u64 * 2 / 5 + 777);

    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("sigint", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("port", relay.port().to_string())
        .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let mut run = env.spawn(&["-c", cfg]);
    assert!(
        wait_until(Duration::from_secs(60), || relay.holding()
            || !run.running()),
        "the run never reached the hold point"
    );
    assert!(
        run.running(),
        "popfetch must still be waiting for the server"
    );
    // Let it take in every byte it was given.
    std::thread::sleep(Duration::from_millis(200));
    send_signal(run.id(), Signal::INT);
    let out = run.wait(Duration::from_secs(30));
    out.assert_code(EX_TEMPFAIL);
    assert!(
        out.stderr.to_lowercase().contains("interrupt"),
        "the interruption is reported\n{out}"
    );

    assert_eq!(
        dc.server_messages(USER),
        sorted(&msgs),
        "no QUIT, so nothing is deleted"
    );
    assert!(maildir_tmp_files(&maildir).is_empty(), "nothing in tmp/");
    let landed = delivered_indexes(&maildir, &msgs);
    assert!(
        !landed.is_empty() && landed.len() < msgs.len(),
        "interrupted mid-run: {} of {} delivered",
        landed.len(),
        msgs.len()
    );
    let uids = uid_to_index(dc.pop3_port(), USER, PASSWORD, &msgs);
    let mut want: Vec<String> = uids
        .iter()
        .filter(|(_, i)| landed.contains(i))
        .map(|(u, _)| u.clone())
        .collect();
    want.sort();
    assert_eq!(
        delivered_uids(&env.state_dir()),
        want,
        "the state lists exactly the UIDs whose messages are in the Maildir"
    );
    assert_journal_settled(&env.state_dir());

    relay.release();
    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(maildir_tmp_files(&maildir).is_empty());
    assert_eq!(dc.remaining(USER), 0, "the clean rerun deletes");
}

#[test]
fn sigterm_mid_message_sends_no_dele_or_quit_and_a_rerun_completes() {
    let seed = seed(9_020);
    let msgs = small_corpus(seed, 150, 16_000);
    // Message STALL (1-based) arrives half, then the server goes quiet,
    // on the first connection only.
    const STALL: usize = 100;
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let half = {
        let Reply::Raw(full) = Reply::message(&msgs[STALL - 1]) else {
            unreachable!()
        };
        full[..full.len() / 2].to_vec()
    };
    assert!(pop3_wire(&msgs[STALL - 1]).len() > 200);
    let stalled = Arc::new(AtomicBool::new(false));
    let srv = {
        let (drop, stalled) = (Arc::clone(&drop), Arc::clone(&stalled));
        ScriptServer::start(Reply::ok("ready"), move |conn, line| {
            if conn == 0 && line.eq_ignore_ascii_case(&format!("RETR {STALL}")) {
                stalled.store(true, Ordering::SeqCst);
                return Reply::Raw(half.clone());
            }
            if conn == 0 && stalled.load(Ordering::SeqCst) {
                return Reply::Nothing;
            }
            drop.reply(conn, line)
        })
    };

    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = AccountToml::new("sigterm")
        .str("host", "127.0.0.1")
        .raw("port", srv.port().to_string())
        .str("tls", "none")
        .raw("allow_plaintext", "true")
        .str("user", USER)
        .str("password", PASSWORD)
        .str("maildir", &maildir.display().to_string())
        .raw("received_header", "false")
        .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let run = env.spawn(&["-c", cfg]);
    assert!(
        srv.wait_for("RETR", Duration::from_secs(30))
            && wait_until(Duration::from_secs(30), || stalled.load(Ordering::SeqCst)),
        "the run never reached message {STALL}"
    );
    std::thread::sleep(Duration::from_millis(200));
    send_signal(run.id(), Signal::TERM);
    let out = run.wait(Duration::from_secs(30));
    out.assert_code(EX_TEMPFAIL);
    assert!(
        out.stderr.to_lowercase().contains("interrupt"),
        "the interruption is reported\n{out}"
    );
    let first: Vec<String> = srv
        .received()
        .into_iter()
        .filter(|r| r.conn == 0)
        .map(|r| r.line.to_ascii_uppercase())
        .collect();
    assert!(
        !first
            .iter()
            .any(|l| l.starts_with("DELE") || l.starts_with("QUIT")),
        "an interrupted run sends neither DELE nor QUIT: {first:?}"
    );
    assert_eq!(drop.remaining(), msgs.len());

    // Everything before the stalled message landed; it did not, not even
    // in part.
    assert!(maildir_tmp_files(&maildir).is_empty(), "nothing in tmp/");
    assert_same_messages(&read_maildir(&maildir), &msgs[..STALL - 1]);
    let want: Vec<String> = (0..STALL - 1).map(Maildrop::uid).collect();
    assert_eq!(delivered_uids(&env.state_dir()), want);
    assert_journal_settled(&env.state_dir());

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(maildir_tmp_files(&maildir).is_empty());
    assert_eq!(drop.remaining(), 0, "the clean rerun deletes");
}

#[test]
fn full_disk_is_a_clear_error_that_deletes_nothing() {
    let seed = seed(9_030);
    // About 1.5 MB of mail for a 1 MB filesystem.
    let msgs = sized_corpus(seed, 60, 10_000, 40_000);
    let env = TestEnv::new();
    let disk = env.path("disk");
    let fs = match Tmpfs::mount(&disk, "1m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!(
                "\n\
                 ************************************************************************\n\
                 *** SKIPPED full_disk_is_a_clear_error_that_deletes_nothing\n\
                 *** cannot mount a small tmpfs here ({why});\n\
                 *** it needs root with mount privileges\n\
                 ************************************************************************\n"
            );
            return;
        }
    };
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    dc.load_mailbox(USER, &msgs);
    let maildir = disk.join("Maildir");
    let acct = dc
        .account("fulldisk", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg]);
    out.assert_code(EX_IOERR);
    assert!(
        out.stderr.contains("fulldisk") && out.stderr.contains(&maildir.display().to_string()),
        "the error names the account and the Maildir\n{out}"
    );
    assert!(
        out.stderr.contains("free space"),
        "the error says what to do\n{out}"
    );
    assert_eq!(dc.server_messages(USER), sorted(&msgs), "nothing deleted");
    assert!(maildir_tmp_files(&maildir).is_empty(), "nothing in tmp/");
    let landed = delivered_indexes(&maildir, &msgs);
    assert!(landed.len() < msgs.len(), "the disk filled up mid-run");
    assert_journal_settled(&env.state_dir());

    fs.resize("64m");
    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(maildir_tmp_files(&maildir).is_empty());
    assert_eq!(dc.remaining(USER), 0);
    drop(fs);
}
