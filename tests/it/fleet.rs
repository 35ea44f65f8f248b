//! Many accounts: hundreds at once with `-j`, the per-server connection
//! cap, a hanging account that holds up nobody beyond its timeout, and
//! `--shard K/N` splitting a fleet between processes, each with a state
//! directory of its own.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{AccountToml, Output, TestEnv, read_maildir};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, wait_until};

const EX_USAGE: i32 = 64;
const EX_TEMPFAIL: i32 = 75;
const EX_CONFIG: i32 = 78;

/// An account on a scripted server on loopback, without TLS.
fn scripted(name: &str, user: &str, port: u16, maildir: &Path) -> AccountToml {
    AccountToml::new(name)
        .str("host", "127.0.0.1")
        .raw("port", port.to_string())
        .str("tls", "none")
        .raw("allow_plaintext", "true")
        .str("auth", "user")
        .str("user", user)
        .str("password", PASSWORD)
        .str("maildir", &maildir.display().to_string())
        .raw("received_header", "false")
        .raw("keep", "true")
}

fn config(defaults: &str, accounts: &[AccountToml]) -> String {
    let mut text = format!("[defaults]\n{defaults}\n");
    for a in accounts {
        text.push_str(&a.to_toml());
        text.push('\n');
    }
    text
}

/// The account names of the `--json` lines, in order.
fn json_accounts(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["account"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A scripted mailbox that any user name opens (each user is its own
/// mailbox as far as popfetch can tell), counting the sessions between
/// login and QUIT. Each session lingers on UIDL, and the count is taken
/// at the end of that linger: a session that ends with a QUIT it does not
/// wait to see answered (one that deleted nothing) may still be counted
/// for a moment after the client moved on, but not for the whole linger.
struct Counting {
    server: ScriptServer,
    peak: Arc<AtomicUsize>,
}

fn counting_server(msgs: Vec<Vec<u8>>, linger: Duration) -> Counting {
    let drop = Maildrop::new(USER, PASSWORD, msgs);
    let open = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (o, p) = (Arc::clone(&open), Arc::clone(&peak));
    let server = ScriptServer::start(Reply::ok("ready"), move |conn, line| {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            // Counted from USER, which comes after the client connected
            // (and so after it took its slot), to QUIT.
            "USER" => {
                o.fetch_add(1, Ordering::SeqCst);
                return drop.reply(conn, &format!("USER {USER}"));
            }
            "QUIT" => {
                o.fetch_sub(1, Ordering::SeqCst);
            }
            "UIDL" => {
                std::thread::sleep(linger);
                p.fetch_max(o.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            _ => {}
        }
        drop.reply(conn, line)
    });
    Counting { server, peak }
}

#[test]
fn sixteen_jobs_with_a_cap_of_two_never_open_more_than_two_sessions() {
    let msgs = corpus::corpus(3100, 3);
    let srv = counting_server(msgs.clone(), Duration::from_millis(150));
    let env = TestEnv::new();
    let accounts: Vec<AccountToml> = (0..16)
        .map(|i| {
            scripted(
                &format!("a{i:02}"),
                &format!("user{i}"),
                srv.server.port(),
                &env.path(&format!("Mail/a{i:02}")),
            )
        })
        .collect();
    let cfg = env.write_config(&config("max_connections_per_host = 2", &accounts));
    let out = env.run(&["-j", "16", "--json", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(
        srv.peak.load(Ordering::SeqCst),
        2,
        "at most two sessions at once, and -j used both\n{out}"
    );
    for a in &accounts {
        assert_eq!(
            read_maildir(&env.path(&format!("Mail/{}", a.name))).len(),
            msgs.len(),
            "{}",
            a.name
        );
    }
    let names: Vec<String> = accounts.iter().map(|a| a.name.clone()).collect();
    assert_eq!(json_accounts(&out), names, "--json in config order");

    // The flag overrides the file; the default (4) applies without either.
    let srv = counting_server(msgs.clone(), Duration::from_millis(150));
    let env = TestEnv::new();
    let accounts: Vec<AccountToml> = (0..12)
        .map(|i| {
            scripted(
                &format!("b{i:02}"),
                &format!("user{i}"),
                srv.server.port(),
                &env.path(&format!("Mail/b{i:02}")),
            )
        })
        .collect();
    let cfg = env.write_config(&config("max_connections_per_host = 2", &accounts));
    let out = env.run(&[
        "-j",
        "12",
        "--max-connections-per-host",
        "3",
        "-c",
        cfg.to_str().unwrap(),
    ]);
    out.assert_success();
    assert_eq!(srv.peak.load(Ordering::SeqCst), 3, "{out}");

    let srv = counting_server(msgs, Duration::from_millis(150));
    let env = TestEnv::new();
    let accounts: Vec<AccountToml> = (0..12)
        .map(|i| {
            scripted(
                &format!("c{i:02}"),
                &format!("user{i}"),
                srv.server.port(),
                &env.path(&format!("Mail/c{i:02}")),
            )
        })
        .collect();
    let cfg = env.write_config(&config("", &accounts));
    let out = env.run(&["-j", "12", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(srv.peak.load(Ordering::SeqCst), 4, "the default cap\n{out}");
}

#[test]
fn max_connections_per_host_is_range_checked() {
    let env = TestEnv::new();
    let acct = scripted("a", USER, 1, &env.path("Mail/a"));
    for bad in ["0", "1025", "-1", "\"4\""] {
        let cfg = env.write_config(&config(
            &format!("max_connections_per_host = {bad}"),
            std::slice::from_ref(&acct),
        ));
        let out = env.run(&["accounts", "-c", cfg.to_str().unwrap()]);
        out.assert_code(EX_CONFIG);
        assert!(out.stderr.contains("max_connections_per_host"), "{out}");
    }
    let cfg = env.write_config(&config("", std::slice::from_ref(&acct)));
    for bad in ["0", "1025", "x"] {
        let out = env.run(&[
            "accounts",
            "--max-connections-per-host",
            bad,
            "-c",
            cfg.to_str().unwrap(),
        ]);
        out.assert_code(EX_USAGE);
    }
}

#[test]
fn a_server_that_never_speaks_holds_up_nobody_beyond_its_timeout() {
    // Accepts, and never sends a greeting.
    let silent = ScriptServer::start(Reply::Stall(Duration::from_secs(600)), |_, _| Reply::Close);
    let msgs = corpus::corpus(3110, 4);
    let good = counting_server(msgs.clone(), Duration::ZERO);
    let env = TestEnv::new();
    let mut accounts =
        vec![scripted("hang", USER, silent.port(), &env.path("Mail/hang")).raw("timeout", "6")];
    for i in 0..3 {
        accounts.push(scripted(
            &format!("ok{i}"),
            &format!("user{i}"),
            good.server.port(),
            &env.path(&format!("Mail/ok{i}")),
        ));
    }
    let cfg = env.write_config(&config("", &accounts));
    let started = Instant::now();
    let mut run = env.spawn(&["-j", "2", "--json", "-c", cfg.to_str().unwrap()]);
    // The others are fetched while the silent server still holds its
    // account (and one of the two workers).
    let fetched = wait_until(Duration::from_secs(5), || {
        (0..3).all(|i| read_maildir(&env.path(&format!("Mail/ok{i}"))).len() == msgs.len())
    });
    assert!(fetched, "the other accounts were not fetched meanwhile");
    assert!(run.running(), "the run waited for the silent server");
    let out = run.wait(Duration::from_secs(60));
    let took = started.elapsed();
    out.assert_code(EX_TEMPFAIL);
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(20),
        "the run ends about one timeout (6 s) after it starts: {took:?}\n{out}"
    );
    assert_eq!(json_accounts(&out), ["hang", "ok0", "ok1", "ok2"], "{out}");
    assert!(out.stderr.contains("hang"), "{out}");
}

/// `n` users named `u0000`... on `dc`, each with one message of its own;
/// returns the accounts (implicit TLS, keep) delivering into one shared
/// Maildir, and every message.
fn fleet(dc: &Dovecot, env: &TestEnv, n: usize, tls: Tls) -> (Vec<AccountToml>, Vec<Vec<u8>>) {
    let users: Vec<(String, String)> = (0..n)
        .map(|i| (format!("u{i:04}"), PASSWORD.to_owned()))
        .collect();
    dc.add_users(&users);
    let mut all = Vec::new();
    let mut accounts = Vec::new();
    for (i, (user, _)) in users.iter().enumerate() {
        let msgs = corpus::corpus(40_000 + i as u64, 1);
        dc.load_mailbox(user, &msgs);
        all.extend(msgs);
        let mut a = dc
            .account(user, user, PASSWORD, tls, &env.path("Mail/all"))
            .raw("keep", "true");
        if tls == Tls::None {
            a = a.raw("allow_plaintext", "true");
        }
        accounts.push(a);
    }
    (accounts, all)
}

fn counts(messages: &[Vec<u8>]) -> HashMap<&[u8], usize> {
    let mut m = HashMap::new();
    for msg in messages {
        *m.entry(msg.as_slice()).or_insert(0) += 1;
    }
    m
}

#[test]
fn three_hundred_accounts_at_once() {
    let Some(dc) = Dovecot::start(Options::default().many_clients()) else {
        return;
    };
    let env = TestEnv::new();
    // Without TLS: what is tested is popfetch holding 300 sessions, their
    // threads and descriptors; 300 TLS handshakes at once are a load
    // test of the machine (timeout is generous for a busy one).
    let (accounts, all) = fleet(&dc, &env, 300, Tls::None);
    let cfg = env.write_config(&config("timeout = 600", &accounts));
    let out = env.run(&[
        "-j",
        "300",
        "--max-connections-per-host",
        "300",
        "--json",
        "-c",
        cfg.to_str().unwrap(),
    ]);
    out.assert_success();
    let names: Vec<String> = accounts.iter().map(|a| a.name.clone()).collect();
    assert_eq!(json_accounts(&out), names, "--json in config order");
    let got = read_maildir(&env.path("Mail/all"));
    assert_eq!(got.len(), all.len());
    assert_eq!(counts(&got), counts(&all), "each message once");
}

#[test]
fn two_shards_deliver_every_message_once() {
    let Some(dc) = Dovecot::start(Options::default().many_clients()) else {
        return;
    };
    let env = TestEnv::new();
    // 200 accounts keep the test within a minute or two on a busy
    // machine; bench/shard.sh runs 1,000.
    let n = 200;
    let (accounts, all) = fleet(&dc, &env, n, Tls::None);
    let cfg = env.write_config(&config("", &accounts));
    let cfg = cfg.to_str().unwrap();
    let state = |k: u32| env.path(&format!("state-{k}")).display().to_string();
    let (s1, s2) = (state(1), state(2));

    // What each shard holds, as `accounts` lists it: disjoint, together
    // everything, and the same run after run.
    let listed = |shard: &str| -> Vec<String> {
        let out = env.run(&["accounts", "--shard", shard, "-c", cfg]);
        out.assert_success();
        out.stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_owned())
            .collect()
    };
    let (one, two) = (listed("1/2"), listed("2/2"));
    assert_eq!(one.len() + two.len(), n);
    assert!(one.iter().all(|a| !two.contains(a)));
    assert!((70..=130).contains(&one.len()), "{}", one.len());
    assert_eq!(listed("1/2"), one, "stable");

    // Both shards at once, as two machines would run them.
    for round in 0..2 {
        let a = env.spawn(&[
            "-j",
            "8",
            "--max-connections-per-host",
            "8",
            "--shard",
            "1/2",
            "--state-dir",
            &s1,
            "-c",
            cfg,
        ]);
        let b = env.spawn_with(
            &[("POPFETCH_SHARD", std::ffi::OsStr::new("2/2"))],
            &[
                "-j",
                "8",
                "--max-connections-per-host",
                "8",
                "--state-dir",
                &s2,
                "-c",
                cfg,
            ],
        );
        let (a, b) = (
            a.wait(Duration::from_secs(600)),
            b.wait(Duration::from_secs(600)),
        );
        a.assert_success();
        b.assert_success();
        let got = read_maildir(&env.path("Mail/all"));
        assert_eq!(got.len(), all.len(), "round {round}: every message, once");
        assert_eq!(counts(&got), counts(&all), "round {round}");
    }

    // A shard that finds another shard's state directory refuses.
    let out = env.run(&["--shard", "2/2", "--state-dir", &s1, "-c", cfg]);
    out.assert_code(EX_CONFIG);
    assert!(out.stderr.contains("belongs to shard 1/2"), "{out}");
    let out = env.run(&["--state-dir", &s1, "-c", cfg]);
    out.assert_code(EX_CONFIG);
    assert!(out.stderr.contains("not sharded"), "{out}");
    assert_eq!(read_maildir(&env.path("Mail/all")).len(), all.len());
}

#[test]
fn shard_usage_errors() {
    let env = TestEnv::new();
    let acct = scripted("a", USER, 1, &env.path("Mail/a"));
    let cfg = env.write_config(&config("", std::slice::from_ref(&acct)));
    let cfg = cfg.to_str().unwrap();
    for bad in ["0/2", "3/2", "1/0", "2", "a/b", "1/10001", ""] {
        let out = env.run(&["accounts", "--shard", bad, "-c", cfg]);
        out.assert_code(EX_USAGE);
        assert!(out.stderr.contains("shard"), "{bad}: {out}");
        let out = env.run_with(
            &[("POPFETCH_SHARD", std::ffi::OsStr::new(bad))],
            &["accounts", "-c", cfg],
        );
        if !bad.is_empty() {
            out.assert_code(EX_USAGE);
        }
    }
    let out = env.run(&["accounts", "--shard", "1/1", "-c", cfg]);
    out.assert_success();
    assert!(out.stdout.starts_with("a\t"), "{out}");
}
