//! Ctrl-C stops the whole run: the accounts fetching finish or roll back
//! the message in hand, no other account starts, each says what it saved,
//! and the run exits 75. A second Ctrl-C ends it at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::corpus;
use crate::common::env::{TestEnv, config_of, read_maildir};
use crate::common::pty::strip_escapes;
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, wait_until};
use crate::terminal::scripted;

const EX_TEMPFAIL: i32 = 75;
const NAMES: [&str; 4] = ["ann", "ben", "cat", "dan"];

/// A mailbox of three messages whose first comes at once and whose others
/// crawl (1 KiB every 100 ms), so that a run is caught in the middle of
/// message 2 with message 1 received whole.
fn slow_server(seed: u64) -> (Arc<Maildrop>, ScriptServer) {
    let mut msgs = corpus::corpus(seed, 3);
    msgs[1] = big_message(&format!("slow {seed}"), 200 * 1024);
    let mailbox = Maildrop::new(USER, PASSWORD, msgs);
    let inner = Arc::clone(&mailbox);
    let srv = ScriptServer::maildrop_except(Arc::clone(&mailbox), move |conn, line| {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("RETR") && upper != "RETR 1" {
            match inner.reply(conn, line) {
                Reply::Raw(bytes) => Some(Reply::Paced {
                    bytes,
                    chunk: 1024,
                    every: Duration::from_millis(100),
                }),
                other => Some(other),
            }
        } else {
            None
        }
    });
    (mailbox, srv)
}

/// A plain-text message of about `size` bytes.
pub fn big_message(subject: &str, size: usize) -> Vec<u8> {
    let mut m = format!("From: a@example.com\nSubject: {subject}\n\n").into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

struct Four {
    env: TestEnv,
    cfg: String,
    servers: Vec<(Arc<Maildrop>, ScriptServer)>,
}

fn four_slow_accounts(seed: u64) -> Four {
    let env = TestEnv::new();
    let servers: Vec<_> = (0..4).map(|i| slow_server(seed + i)).collect();
    let accounts: Vec<_> = NAMES
        .iter()
        .zip(&servers)
        .map(|(name, (_, srv))| scripted(name, srv.port(), &env).raw("timeout", "300"))
        .collect();
    let cfg = env.write_config(&config_of(&accounts.iter().collect::<Vec<_>>()));
    Four {
        cfg: cfg.display().to_string(),
        env,
        servers,
    }
}

impl Four {
    /// Whether the first two accounts are both in the middle of message 2.
    fn both_running_in_message_2(&self) -> bool {
        self.servers[..2].iter().all(|(_, s)| s.saw_line("RETR 2"))
    }

    fn maildir(&self, name: &str) -> std::path::PathBuf {
        self.env.path(&format!("Mail/{name}"))
    }

    /// What must hold after the interrupt, whatever delivered it.
    #[track_caller]
    fn assert_stopped_cleanly(&self, stderr: &str) {
        for (i, name) in NAMES.iter().enumerate() {
            let (mailbox, srv) = &self.servers[i];
            assert_eq!(mailbox.remaining(), 3, "{name}: nothing deleted\n{stderr}");
            assert!(
                !srv.saw("DELE") && !srv.saw("QUIT"),
                "{name}: {:?}",
                srv.commands()
            );
            let line = stderr
                .lines()
                .find(|l| l.contains(&format!("{name}:")))
                .unwrap_or_else(|| panic!("no line for {name}\n{stderr}"));
            if i < 2 {
                assert_eq!(
                    read_maildir(&self.maildir(name)).len(),
                    1,
                    "{name}\n{stderr}"
                );
                assert!(
                    line.contains("1 message was delivered and recorded"),
                    "{name} says what it saved: {line}"
                );
            } else {
                assert_eq!(srv.connections(), 0, "{name} never connected\n{stderr}");
                assert!(
                    !Path::new(&self.maildir(name)).exists(),
                    "{name}: nothing touched"
                );
                assert!(
                    line.contains("not started") && line.contains("nothing was fetched"),
                    "{name} says it did not start: {line}"
                );
            }
        }
    }
}

#[test]
fn sigint_stops_the_whole_run_and_every_account_says_what_it_saved() {
    let four = four_slow_accounts(3500);
    let run = four.env.spawn(&["-j", "2", "-c", &four.cfg]);
    assert!(
        wait_until(Duration::from_secs(60), || four.both_running_in_message_2()),
        "the first two accounts never got to message 2\n{}",
        run.kill()
    );
    signal(run.id(), rustix::process::Signal::INT);
    let out = run.wait(Duration::from_secs(30));
    out.assert_code(EX_TEMPFAIL);
    assert!(out.elapsed < Duration::from_secs(30), "{out}");
    four.assert_stopped_cleanly(&out.stderr);
    assert!(
        out.stderr.contains("interrupt again to stop at once"),
        "the interrupt is acknowledged at once\n{out}"
    );

    // The next run fetches the rest.
    four.env.run(&["-j", "4", "-c", &four.cfg]).assert_success();
    for name in NAMES {
        assert_eq!(read_maildir(&four.maildir(name)).len(), 3, "{name}");
    }
}

#[test]
fn ctrl_c_at_the_terminal_stops_the_whole_run() {
    let four = four_slow_accounts(3510);
    let mut run = four.env.spawn_in_pty(
        &["-j", "2", "--progress", "never", "-c", &four.cfg],
        100,
        30,
    );
    assert!(
        wait_until(Duration::from_secs(60), || four.both_running_in_message_2()),
        "the first two accounts never got to message 2\n{}",
        run.screen()
    );
    run.type_keys(b"\x03");
    let out = run.wait(Duration::from_secs(30));
    assert_eq!(out.code, Some(EX_TEMPFAIL), "{out}");
    four.assert_stopped_cleanly(&strip_escapes(&out.raw));
}

#[test]
fn a_second_interrupt_ends_the_run_at_once_and_the_next_run_settles_it() {
    // An MDA that takes its time: the first interrupt lets it finish the
    // message in hand; the second does not wait for it.
    let mailbox = Maildrop::new(USER, PASSWORD, corpus::corpus(3520, 3));
    let srv = ScriptServer::maildrop(Arc::clone(&mailbox));
    let env = TestEnv::new();
    let out_dir = env.path("delivered");
    std::fs::create_dir_all(&out_dir).unwrap();
    let started = env.path("mda-started");
    let mda = format!(
        "touch {started}; sleep 4; cat > {dir}/$(date +%s%N)",
        started = started.display(),
        dir = out_dir.display()
    );
    let acct = scripted("slowmda", srv.port(), &env)
        .remove("maildir")
        .str("mda", &mda);
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let mut run = env.spawn(&["-c", cfg]);
    assert!(
        wait_until(Duration::from_secs(30), || started.exists()),
        "the MDA never started\n{}",
        run.kill()
    );
    signal(run.id(), rustix::process::Signal::INT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(run.running(), "the first interrupt lets the MDA finish");
    signal(run.id(), rustix::process::Signal::INT);
    let out = run.wait(Duration::from_secs(5));
    assert_eq!(
        out.signal,
        Some(rustix::process::Signal::INT.as_raw()),
        "the second interrupt ends popfetch as SIGINT ends a program (a shell shows 130)\n{out}"
    );
    assert!(out.stderr.contains("again"), "says it stops at once\n{out}");
    assert_eq!(mailbox.remaining(), 3, "nothing deleted");

    // The next run settles the journal and fetches what is left; at most
    // the message that was in the MDA's hands comes twice.
    // The MDA popfetch left behind finishes its message.
    assert!(wait_until(Duration::from_secs(20), || {
        std::fs::read_dir(&out_dir).unwrap().count() == 1
    }));
    let quick = acct
        .clone()
        .str("mda", &format!("cat > {}/$(date +%s%N)", out_dir.display()));
    let cfg2 = env.path("quick.toml");
    env.write_config_at(&cfg2, &config_of(&[&quick]));
    env.run(&["-c", cfg2.to_str().unwrap()]).assert_success();
    let landed = std::fs::read_dir(&out_dir).unwrap().count();
    assert!((3..=4).contains(&landed), "{landed} files");
    assert_eq!(mailbox.remaining(), 0);
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}
