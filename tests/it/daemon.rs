//! `popfetch daemon`: fetches on a schedule until stopped; SIGUSR1 fetches
//! now, SIGHUP re-reads the config (keeping the old one when the new one
//! is broken), SIGTERM finishes or rolls back the message in hand and
//! exits 0; a failing account backs off while the others go on; a
//! server's LOGIN-DELAY stretches its account's interval; memory stays
//! flat over a thousand rounds.
//!
//! Timings are loose on purpose (the machine may be busy): tests assert
//! relations between counts, never exact times.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::common::corpus;
use crate::common::dovecot::{Options, Tls};
use crate::common::env::{
    AccountToml, Output, Running, TestEnv, assert_same_messages, config_of, read_maildir,
};
use crate::common::kill::send_signal;
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, dovecot_with_mail, wait_until};
use crate::hostile::{scripted, verb};

const EX_USAGE: i32 = 64;
const EX_CONFIG: i32 = 78;

/// Lets the daemon take intervals below 10 s.
const SHORT: (&str, &str) = ("POPFETCH_TESTING_SHORT_INTERVALS", "1");

fn start(env: &TestEnv, cfg: &Path, args: &[&str]) -> Running {
    let mut all = vec!["daemon", "-c", cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    env.spawn_with(&[(SHORT.0, OsStr::new(SHORT.1))], &all)
}

/// SIGTERM, and the daemon's exit (within 30 s of the signal).
fn stop(run: Running) -> Output {
    send_signal(run.id(), Signal::TERM);
    let limit = run.elapsed() + Duration::from_secs(30);
    run.wait(limit)
}

/// The run lines of a `log_file`: one per account and round, once the
/// round is over.
fn runs_logged(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" run exit="))
        .map(str::to_owned)
        .collect()
}

/// Logins (PASS commands) a scripted server received.
fn logins(srv: &ScriptServer) -> usize {
    srv.commands().iter().filter(|l| verb(l) == "PASS").count()
}

#[test]
fn bad_intervals_are_usage_errors() {
    let env = TestEnv::new();
    for bad in ["5s", "9", "2d", "25h", "5x", "abc", "-1", ""] {
        let out = env.run(&["daemon", &format!("--interval={bad}")]);
        out.assert_code(EX_USAGE);
        assert!(out.stderr.contains("--interval"), "{out}");
    }
    let out = env.run(&["daemon", "--interval", "1s"]);
    assert!(out.stderr.contains("shorter than 10 s"), "{out}");
}

#[test]
fn an_account_that_would_need_a_prompt_is_refused_at_start() {
    let env = TestEnv::new();
    let acct = AccountToml::new("work")
        .str("host", "127.0.0.1")
        .str("user", USER)
        .str("maildir", &env.path("Mail").display().to_string());
    let cfg = env.write_config(&config_of(&[&acct]));
    let out = env.run(&["daemon", "-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_CONFIG);
    assert!(
        out.stderr.contains("work") && out.stderr.contains("password_command"),
        "{out}"
    );
}

#[test]
fn sigusr1_fetches_before_the_interval_and_the_password_command_runs_each_time() {
    let msgs = corpus::corpus(4101, 3);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let counter = env.path("password-runs");
    let log = env.path("popfetch.log");
    let acct = scripted("work", srv.port(), &env.path("Maildir"), true)
        .str("log_file", &log.display().to_string())
        .remove("password")
        .raw(
            "password_command",
            format!(
                "[\"sh\", \"-c\", \"echo run >> {}; echo '{PASSWORD}'\"]",
                counter.display()
            ),
        );
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["--interval", "1h"]);
    assert!(wait_until(Duration::from_secs(20), || runs_logged(&log)
        .len()
        == 1));
    let runs = |p: &Path| fs::read_to_string(p).unwrap_or_default().lines().count();
    let after_first = logins(&srv);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(logins(&srv), after_first, "nothing before the hour is up");
    let before = runs(&counter);

    send_signal(run.id(), Signal::USR1);
    assert!(
        wait_until(Duration::from_secs(10), || logins(&srv) > after_first),
        "SIGUSR1 brought no fetch"
    );
    assert!(wait_until(Duration::from_secs(5), || runs(&counter) > before));
    assert!(wait_until(Duration::from_secs(20), || runs_logged(&log)
        .len()
        == 2));
    let out = stop(run);
    out.assert_success();
    assert_same_messages(&read_maildir(&env.path("Maildir")), &msgs);
    // Every round printed its line.
    assert!(out.stderr.contains("work: 3 new"), "{out}");
    assert!(out.stderr.contains("work: no new mail"), "{out}");
    assert!(out.stderr.contains("stopped by SIGTERM"), "{out}");
}

#[test]
fn sighup_keeps_the_old_config_when_the_new_one_is_broken_and_takes_a_fixed_one() {
    let drop_a = Maildrop::new(USER, PASSWORD, corpus::corpus(4201, 2));
    let srv_a = ScriptServer::maildrop(Arc::clone(&drop_a));
    let drop_b = Maildrop::new(USER, PASSWORD, corpus::corpus(4202, 2));
    let srv_b = ScriptServer::maildrop(Arc::clone(&drop_b));
    let env = TestEnv::new();
    let a = scripted("a", srv_a.port(), &env.path("Mail/a"), false);
    let b = scripted("b", srv_b.port(), &env.path("Mail/b"), false);
    let cfg = env.write_config(&config_of(&[&a]));
    let mut run = start(&env, &cfg, &["--interval", "1h"]);
    assert!(wait_until(Duration::from_secs(20), || drop_a.remaining() == 0));

    env.write_config(&format!("{}\nthis is not toml\n", config_of(&[&a, &b])));
    send_signal(run.id(), Signal::HUP);
    std::thread::sleep(Duration::from_millis(700));
    assert!(run.running(), "a broken config must not end the daemon");
    assert_eq!(srv_b.connections(), 0);

    env.write_config(&config_of(&[&a, &b]));
    send_signal(run.id(), Signal::HUP);
    assert!(
        wait_until(Duration::from_secs(20), || drop_b.remaining() == 0),
        "the new account was not fetched"
    );
    let out = stop(run);
    out.assert_success();
    let broken = out
        .stderr
        .find("this is not valid TOML")
        .unwrap_or_else(|| panic!("the broken config was not reported\n{out}"));
    let kept = out
        .stderr
        .find("the config was not re-read")
        .unwrap_or_else(|| panic!("no word that the old config is kept\n{out}"));
    assert!(broken < kept, "{out}");
    assert!(
        out.stderr.contains("re-read the config; fetching a, b"),
        "{out}"
    );
}

#[test]
fn sigterm_in_the_middle_of_a_message_exits_0_and_nothing_is_lost_or_doubled() {
    let msgs = corpus::corpus(4301, 4);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let stall = Arc::new(AtomicBool::new(true));
    let stalling = Arc::clone(&stall);
    // Message 2 arrives half, then a byte a second: the daemon is caught
    // with it in hand.
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |c, l| {
        if l == "RETR 2" && stalling.load(Ordering::SeqCst) {
            let Reply::Raw(whole) = inner.reply(c, l) else {
                unreachable!()
            };
            return Some(Reply::Crawl {
                head: whole[..whole.len() / 2].to_vec(),
                tail: b"x".to_vec(),
                every: Duration::from_secs(1),
            });
        }
        None
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted("work", srv.port(), &maildir, false);
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["--interval", "1h"]);
    assert!(srv.wait_for("RETR", Duration::from_secs(20)));
    assert!(wait_until(Duration::from_secs(20), || srv
        .commands()
        .iter()
        .any(|l| l == "RETR 2")));
    std::thread::sleep(Duration::from_millis(300));
    let out = stop(run);
    out.assert_success();
    assert_eq!(drop.remaining(), msgs.len(), "nothing was deleted");
    assert!(!srv.saw("DELE"), "{:?}", srv.commands());
    assert_same_messages(&read_maildir(&maildir), &msgs[..1]);

    // The next run finishes the job, delivering nothing twice.
    stall.store(false, Ordering::SeqCst);
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_failing_account_backs_off_while_another_keeps_being_fetched() {
    let good = ScriptServer::maildrop(Maildrop::new(USER, PASSWORD, corpus::corpus(4401, 1)));
    // The refusing server notes when each login came.
    let tries: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let noted = Arc::clone(&tries);
    let bad = ScriptServer::start(Reply::ok("ready"), move |_, l| match verb(l).as_str() {
        "CAPA" => Reply::multi("+OK", &["USER"]),
        "PASS" => {
            noted.lock().unwrap().push(Instant::now());
            Reply::err("[AUTH] wrong password")
        }
        _ => Reply::ok(""),
    });
    let env = TestEnv::new();
    let g = scripted("good", good.port(), &env.path("Mail/good"), true);
    let b = scripted("bad", bad.port(), &env.path("Mail/bad"), true);
    let cfg = env.write_config(&config_of(&[&b, &g]));
    let interval = Duration::from_millis(400);
    let run = start(&env, &cfg, &["--interval", "400ms"]);
    // The good account goes on being fetched while the bad one fails...
    assert!(
        wait_until(Duration::from_secs(120), || tries.lock().unwrap().len()
            >= 4),
        "the failing account was not retried"
    );
    let good_logins = logins(&good);
    let out = stop(run);
    out.assert_success();
    assert!(
        good_logins >= 8,
        "good: {good_logins} logins while bad failed 4 times\n{out}"
    );
    // ...and the bad one is tried after 2, 4, 8 intervals, never sooner:
    // the server saw the gaps double.
    let tries = tries.lock().unwrap().clone();
    for (k, pair) in tries.windows(2).enumerate().take(3) {
        let gap = pair[1] - pair[0];
        let least = interval * (2u32 << k);
        assert!(
            gap >= least,
            "try {}: {gap:?} after the one before, not {least:?}",
            k + 2
        );
    }
    assert!(out.stderr.contains("bad: "), "{out}");
    assert!(out.stderr.contains("wrong password"), "{out}");
}

#[test]
fn a_dead_port_backs_off_too_and_the_good_account_still_gets_its_mail() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 4402, 3) else {
        return;
    };
    let env = TestEnv::new();
    let log = env.path("popfetch.log");
    let maildir = env.path("Mail/good");
    let good = dc
        .account("good", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false")
        .str("log_file", &log.display().to_string());
    let dead = scripted(
        "dead",
        crate::common::dovecot::free_port(),
        &env.path("Mail/dead"),
        true,
    )
    .str("log_file", &log.display().to_string());
    let cfg = env.write_config(&config_of(&[&dead, &good]));
    let started = Instant::now();
    let run = start(&env, &cfg, &["--interval", "300ms"]);
    let rounds = |name: &str| {
        runs_logged(&log)
            .iter()
            .filter(|l| {
                l.contains(&format!("account={name} "))
                    || l.contains(&format!("account=\"{name}\""))
            })
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(120), || rounds("good") >= 12),
        "{:?}",
        runs_logged(&log)
    );
    let dead_rounds = rounds("dead");
    let elapsed = started.elapsed();
    let out = stop(run);
    out.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 0);
    // Tries n of the dead port need 2 + 4 + ... + 2^(n-1) intervals
    // between them: in `elapsed`, at most log2(elapsed / interval + 2),
    // however slow or fast the rounds were. Without backoff it would be
    // tried as often as the good account.
    let most = (elapsed.as_secs_f64() / 0.3 + 2.0).log2().floor() as usize;
    assert!(
        (1..=most).contains(&dead_rounds),
        "dead port tried {dead_rounds} times in {elapsed:?} (at most {most})\n{out}"
    );
    assert!(out.stderr.contains("dead: "), "{out}");
}

#[test]
fn login_delay_stretches_the_interval() {
    // A server that announces LOGIN-DELAY 3 and refuses a login sooner.
    let drop = Maildrop::with_capa(
        USER,
        PASSWORD,
        corpus::corpus(4501, 1),
        &["USER", "UIDL", "RESP-CODES", "LOGIN-DELAY 3"],
    );
    let last: Arc<Mutex<Option<Instant>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let (last2, refused2) = (Arc::clone(&last), Arc::clone(&refused));
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |_, l| {
        if verb(l) != "PASS" {
            return None;
        }
        let mut last = last2.lock().unwrap();
        if last.is_some_and(|t| t.elapsed() < Duration::from_millis(2900)) {
            refused2.fetch_add(1, Ordering::SeqCst);
            return Some(Reply::err("[LOGIN-DELAY] wait"));
        }
        *last = Some(Instant::now());
        None
    });
    let env = TestEnv::new();
    let acct = scripted("slow", srv.port(), &env.path("Maildir"), true);
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["--interval", "1s"]);
    assert!(srv.wait_for("PASS", Duration::from_secs(20)));
    let first = Instant::now();
    // SIGUSR1 asks for a fetch at once; LOGIN-DELAY still holds.
    send_signal(run.id(), Signal::USR1);
    std::thread::sleep(Duration::from_millis(5500).saturating_sub(first.elapsed()));
    let out = stop(run);
    out.assert_success();
    // The first login, and one about 3 s after the first round ended.
    let seen = logins(&srv);
    assert_eq!(seen, 2, "{seen} logins in 5.5 s with LOGIN-DELAY 3\n{out}");
    assert_eq!(refused.load(Ordering::SeqCst), 0, "{out}");
}

#[test]
fn a_login_refused_with_login_delay_backs_off() {
    let srv = ScriptServer::start(Reply::ok("ready"), |_, l| match verb(l).as_str() {
        "CAPA" => Reply::multi("+OK", &["USER", "RESP-CODES"]),
        "PASS" => Reply::err("[LOGIN-DELAY] too soon"),
        _ => Reply::ok(""),
    });
    let env = TestEnv::new();
    let acct = scripted("slow", srv.port(), &env.path("Maildir"), true);
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["--interval", "300ms"]);
    std::thread::sleep(Duration::from_secs(4));
    let out = stop(run);
    out.assert_success();
    // 0.6, 1.2, 2.4 s after the first: about 4 tries, not a dozen.
    let seen = logins(&srv);
    assert!((2..=5).contains(&seen), "{seen} logins\n{out}");
}

#[test]
fn memory_stays_flat_over_hundreds_of_rounds() {
    // bench/daemon-rss.sh runs a thousand against Dovecot.
    const ROUNDS: usize = 300;
    // Every other login finds a new message: rounds deliver and delete
    // mail, write the state and the log, without the mailbox growing.
    let body = b"From: a@example.org\nSubject: round\n\nhello\n".to_vec();
    let wire_len = body.len() + body.iter().filter(|&&b| b == b'\n').count();
    let offered = Arc::new(Mutex::new(Vec::<bool>::new()));
    let deleted = Arc::new(Mutex::new(Vec::<bool>::new()));
    let (o, d) = (Arc::clone(&offered), Arc::clone(&deleted));
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        let mut offered = o.lock().unwrap();
        let mut deleted = d.lock().unwrap();
        while offered.len() <= c {
            let prev = offered.len().checked_sub(1);
            let gave = prev.is_some_and(|p| offered[p] && deleted[p]);
            offered.push(!gave);
            deleted.push(false);
        }
        let has = offered[c] && !deleted[c];
        match verb(l).as_str() {
            "CAPA" => Reply::multi("+OK", &["USER", "UIDL"]),
            "LIST" if has => Reply::multi("+OK", &[format!("1 {wire_len}").as_str()]),
            "UIDL" if has => Reply::multi("+OK", &[format!("1 m-{c}").as_str()]),
            "LIST" | "UIDL" => Reply::multi("+OK", &[]),
            "RETR" if has => Reply::message(&body),
            "DELE" if has => {
                deleted[c] = true;
                Reply::ok("")
            }
            "QUIT" => Reply::SendAndClose(b"+OK\r\n".to_vec()),
            "USER" | "PASS" => Reply::ok(""),
            _ => Reply::err("no"),
        }
    });
    let env = TestEnv::new();
    let acct =
        scripted("mem", srv.port(), &env.path("Maildir"), false).str("log_file", "~/popfetch.log");
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["-q", "--interval", "1ms"]);
    let log = env.path("popfetch.log");
    let rounds = || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(" run exit=")
            .count()
    };
    assert!(wait_until(Duration::from_secs(60), || rounds() >= 10));
    let at_10 = rss(run.id());
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(600), || rounds() >= ROUNDS),
        "only {} rounds",
        rounds()
    );
    let at_end = rss(run.id());
    let took = started.elapsed();
    let out = stop(run);
    out.assert_success();
    eprintln!(
        "daemon RSS: {at_10} kB after 10 rounds, {at_end} kB after {ROUNDS} rounds \
         ({:.1} s for the last {})",
        took.as_secs_f64(),
        ROUNDS - 10
    );
    assert!(
        at_end <= at_10 + 1024,
        "RSS grew from {at_10} kB to {at_end} kB over {ROUNDS} rounds"
    );
    assert!(
        read_maildir(&env.path("Maildir")).len() >= ROUNDS / 3,
        "rounds delivered mail"
    );
    // -q: nothing to say, but for the round SIGTERM may have cut.
    assert!(
        out.stderr
            .lines()
            .all(|l| l.starts_with("popfetch: mem: ") && l.contains("interrupted")),
        "{out}"
    );
}

#[test]
fn against_dovecot_sigusr1_fetches_new_mail_before_the_interval() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 4601, 20) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let log = env.path("popfetch.log");
    let acct = dc
        .account("work", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false")
        .str("log_file", &log.display().to_string());
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["--interval", "1h"]);
    assert!(
        wait_until(Duration::from_secs(30), || !runs_logged(&log).is_empty()),
        "no first round"
    );
    assert_eq!(read_maildir(&maildir).len(), 20, "{:?}", runs_logged(&log));
    assert_eq!(dc.remaining(USER), 0);
    let later = corpus::corpus(4602, 5);
    dc.load_mailbox(USER, &later);
    // An hour before the next round is due: only the signal brings it.
    send_signal(run.id(), Signal::USR1);
    assert!(
        wait_until(Duration::from_secs(30), || runs_logged(&log)
            .iter()
            .any(|l| l.contains("summary=\"5 new"))),
        "the new mail did not arrive: {:?}",
        runs_logged(&log)
    );
    assert_eq!(
        runs_logged(&log).len(),
        2,
        "one round at start, one for the signal"
    );
    let out = stop(run);
    out.assert_success();
    let mut all = msgs.clone();
    all.extend(later);
    assert_same_messages(&read_maildir(&maildir), &all);
    assert!(wait_until(Duration::from_secs(10), || dc.remaining(USER) == 0));
    assert!(out.stderr.contains("work: 20 new"), "{out}");
    assert!(out.stderr.contains("work: 5 new"), "{out}");
}

/// The resident set of a process, in kB.
fn rss(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for {pid}"))
}

/// Run by bench/daemon-rss.sh: the daemon against Dovecot for
/// `POPFETCH_RSS_ROUNDS` rounds (default 1000), mail arriving every tenth
/// round; prints the RSS after 10 rounds and after the last.
#[test]
#[ignore = "a benchmark: bench/daemon-rss.sh runs it"]
fn daemon_rss_against_dovecot() {
    let rounds_wanted: usize = std::env::var("POPFETCH_RSS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 4701, 5) else {
        panic!(
            "no Dovecot: {:?}",
            crate::common::dovecot::unavailable_reason()
        );
    };
    let env = TestEnv::new();
    let log = env.path("popfetch.log");
    let acct = dc
        .account("bench", USER, PASSWORD, Tls::Implicit, &env.path("Maildir"))
        .raw("keep", "false")
        .str("log_file", &log.display().to_string());
    let cfg = env.write_config(&config_of(&[&acct]));
    let run = start(&env, &cfg, &["-q", "--interval", "1ms"]);
    let rounds = || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(" run exit=")
            .count()
    };
    let mut delivered = 5;
    let mut seed = 4702;
    let mut at_10 = None;
    let started = Instant::now();
    loop {
        let n = rounds();
        if n >= 10 && at_10.is_none() {
            at_10 = Some((n, rss(run.id())));
        }
        if n >= rounds_wanted {
            break;
        }
        if n / 10 > (delivered - 5) {
            dc.load_mailbox(USER, &corpus::corpus(seed, 1));
            seed += 1;
            delivered += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "only {n} rounds in an hour"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let at_end = (rounds(), rss(run.id()));
    let took = started.elapsed();
    let out = stop(run);
    out.assert_success();
    let (n10, rss10) = at_10.unwrap_or((0, 0));
    println!(
        "daemon RSS against Dovecot: {rss10} kB after round {n10}, {} kB after round {} \
         ({:.0} s, {} messages delivered)",
        at_end.1,
        at_end.0,
        took.as_secs_f64(),
        read_maildir(&env.path("Maildir")).len()
    );
    assert!(wait_until(Duration::from_secs(30), || dc.remaining(USER) == 0));
}
