//! Policies against Dovecot: delete_after_days counts from the first-seen
//! time in the state, max_size leaves large messages on the server on every
//! run, max_messages takes the oldest first, fetch_all delivers again,
//! state entries of UIDs gone from the server are pruned, and `check`
//! counts without changing anything.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use popfetch::{Paths, UidState};

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{TestEnv, assert_same_messages, config_of, read_maildir, sorted};
use crate::common::pop3::Pop3;
use crate::common::{PASSWORD, USER, dovecot_with_mail};

const DAY: i64 = 86_400;

/// The UIDs Dovecot gives `user`'s messages, in message-number order.
fn uids_of(dc: &Dovecot, user: &str) -> Vec<String> {
    let mut raw = Pop3::login(dc.pop3_port(), user, PASSWORD);
    let uids = raw.uidl();
    raw.quit();
    uids
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The state file of `user`'s account on the implicit-TLS port.
fn paths(env: &TestEnv, dc: &Dovecot, user: &str) -> Paths {
    Paths::new(
        &env.state_dir(),
        &format!("{user}@127.0.0.1:{}", dc.pop3s_port()),
    )
}

/// Writes a state file by hand, in the documented format
/// (`UID RFC3339 delivered|seen`).
fn write_state(paths: &Paths, entries: &[(&str, i64, bool)]) {
    fs::create_dir_all(&paths.dir).unwrap();
    fs::set_permissions(&paths.dir, fs::Permissions::from_mode(0o700)).unwrap();
    let mut text = String::from("# written by the test\n");
    for (uid, seen, delivered) in entries {
        let ts = jiff::Timestamp::from_second(*seen).unwrap();
        let status = if *delivered { "delivered" } else { "seen" };
        text.push_str(&format!("{uid} {ts} {status}\n"));
    }
    fs::write(&paths.state, text).unwrap();
    fs::set_permissions(&paths.state, fs::Permissions::from_mode(0o600)).unwrap();
}

fn wire_size(msg: &[u8]) -> u64 {
    (msg.len() + msg.iter().filter(|&&b| b == b'\n').count()) as u64
}

#[test]
fn delete_after_days_deletes_only_messages_first_seen_long_ago() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 1100, 5) else {
        return;
    };
    let uids = uids_of(&dc, USER);
    assert_eq!(uids.len(), 5);
    let env = TestEnv::new();
    let paths = paths(&env, &dc, USER);
    let t = now();
    // Messages 1 and 2 were first seen 40 days ago, 3 and 4 ten days ago,
    // all delivered then; message 5 is new.
    write_state(
        &paths,
        &[
            (&uids[0], t - 40 * DAY, true),
            (&uids[1], t - 40 * DAY, true),
            (&uids[2], t - 10 * DAY, true),
            (&uids[3], t - 10 * DAY, true),
        ],
    );
    let maildir = env.path("Maildir");
    let acct = dc
        .account("aged", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "true")
        .raw("delete_after_days", "30");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg]);
    out.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs[4..]);
    assert_eq!(
        dc.server_messages(USER),
        sorted(&msgs[2..]),
        "only the messages first seen 40 days ago are deleted"
    );
    assert!(out.stderr.contains("2 deleted"), "{out}");

    let state = UidState::load(&paths.state).unwrap();
    assert!(state.get(&uids[0]).is_none() && state.get(&uids[1]).is_none());
    for uid in &uids[2..4] {
        let e = state.get(uid).unwrap();
        assert!(e.delivered);
        assert!(
            (e.first_seen - (t - 10 * DAY)).abs() < 60,
            "the first-seen time survives the run: {uid} {e:?}"
        );
    }
    let young = state.get(&uids[4]).unwrap();
    assert!(young.delivered && (young.first_seen - t).abs() < 600);

    // Nothing else is old enough yet.
    env.run(&["-c", cfg]).assert_success();
    assert_eq!(dc.server_messages(USER), sorted(&msgs[2..]));
    assert_same_messages(&read_maildir(&maildir), &msgs[4..]);
}

/// A message of about `kb` KB.
fn big_message(i: usize, kb: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Big Sender <big@example.org>\nTo: alice@example.net\nSubject: big {i}\n\
         Message-ID: <big.{i}@corpus.popfetch.test>\n\n"
    )
    .into_bytes();
    for n in 0..kb * 16 {
        m.extend_from_slice(
            format!("{n:08} a line of a large message, {i}, padded out..\n").as_bytes(),
        );
    }
    m
}

#[test]
fn max_size_leaves_large_messages_on_the_server_on_every_run() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    let limit = 32 * 1024;
    let small: Vec<Vec<u8>> = corpus::corpus(1101, 60)
        .into_iter()
        .filter(|m| wire_size(m) < 16 * 1024)
        .take(4)
        .collect();
    assert_eq!(small.len(), 4);
    let big = vec![big_message(1, 80), big_message(2, 200)];
    assert!(big.iter().all(|m| wire_size(m) > limit));
    let msgs = vec![
        small[0].clone(),
        big[0].clone(),
        small[1].clone(),
        small[2].clone(),
        big[1].clone(),
        small[3].clone(),
    ];
    dc.load_mailbox(USER, &msgs);
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("sized", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false")
        .str("max_size", "32K");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    for run in 1..=2 {
        let out = env.run(&["-vv", "-c", cfg]);
        out.assert_success();
        assert_same_messages(&read_maildir(&maildir), &small);
        assert_eq!(dc.server_messages(USER), sorted(&big), "run {run}");
        assert!(
            out.stderr.contains("2 left (over 32 KB)"),
            "run {run}: the summary reports them\n{out}"
        );
        let retrs = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("sized: C: RETR "))
            .count();
        assert_eq!(
            retrs,
            if run == 1 { 4 } else { 0 },
            "run {run}: the large ones are never downloaded\n{out}"
        );
    }
}

#[test]
fn max_messages_takes_the_oldest_first_and_the_rest_next_run() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 1102, 7) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("limited", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false")
        .raw("max_messages", "3");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    for (run, upto, held) in [(1, 3, 4), (2, 6, 1), (3, 7, 0)] {
        let out = env.run(&["-c", cfg]);
        out.assert_success();
        assert_same_messages(&read_maildir(&maildir), &msgs[..upto]);
        assert_eq!(dc.server_messages(USER), sorted(&msgs[upto..]), "run {run}");
        assert_eq!(
            out.stderr.contains(&format!("{held} held back")),
            held > 0,
            "run {run}\n{out}"
        );
    }
}

#[test]
fn fetch_all_delivers_everything_again() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 1103, 5) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("again", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "true");
    let cfg = env.path("popfetch.toml");
    let twice: Vec<Vec<u8>> = msgs.iter().chain(&msgs).cloned().collect();

    env.write_config_at(&cfg, &config_of(&[&acct]));
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);

    env.write_config_at(&cfg, &config_of(&[&acct.clone().raw("fetch_all", "true")]));
    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_same_messages(&read_maildir(&maildir), &twice);
    assert!(out.stderr.contains("5 new"), "{out}");

    // Without fetch_all, nothing is new.
    env.write_config_at(&cfg, &config_of(&[&acct]));
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &twice);
    assert_eq!(dc.remaining(USER), 5);
}

#[test]
fn uids_gone_from_the_server_leave_the_state() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 1104, 6) else {
        return;
    };
    let uids = uids_of(&dc, USER);
    let env = TestEnv::new();
    let paths = paths(&env, &dc, USER);
    // A UID this server never had, from some earlier life of the mailbox.
    write_state(&paths, &[("ghost-uid-0001", now() - 90 * DAY, true)]);
    let maildir = env.path("Maildir");
    let acct = dc
        .account("pruned", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    let state = UidState::load(&paths.state).unwrap();
    assert!(state.get("ghost-uid-0001").is_none(), "the ghost is pruned");
    assert_eq!(state.len(), 6);
    assert!(uids.iter().all(|u| state.is_delivered(u)));

    // Another client deletes the first two messages.
    let mut raw = Pop3::login(dc.pop3_port(), USER, PASSWORD);
    assert!(raw.cmd("DELE 1").starts_with("+OK"));
    assert!(raw.cmd("DELE 2").starts_with("+OK"));
    raw.quit();
    assert_eq!(dc.remaining(USER), 4);

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    let state = UidState::load(&paths.state).unwrap();
    assert_eq!(state.len(), 4, "{state:?}");
    assert!(uids[2..].iter().all(|u| state.is_delivered(u)));
    assert!(state.get(&uids[0]).is_none() && state.get(&uids[1]).is_none());
}

const JSON_KEYS: [&str; 14] = [
    "account",
    "command",
    "ok",
    "exit_code",
    "error",
    "new",
    "bytes",
    "deleted",
    "too_big",
    "held_back",
    "on_server",
    "recovered",
    "seconds",
    "destination",
];

#[test]
fn check_counts_new_mail_and_changes_nothing() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 1105, 5) else {
        return;
    };
    dc.add_user("bob", PASSWORD);
    let env = TestEnv::new();
    let alice_dir = env.path("Mail/alice");
    let bob_dir = env.path("Mail/bob");
    let alice = dc
        .account("alice", USER, PASSWORD, Tls::Implicit, &alice_dir)
        .raw("keep", "true");
    let bob = dc
        .account("bob", "bob", PASSWORD, Tls::Implicit, &bob_dir)
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&alice, &bob]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg, "check"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("alice") && l.contains("5 new")),
        "{out}"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("bob") && l.contains("no new mail")),
        "{out}"
    );
    assert!(
        read_maildir(&alice_dir).is_empty(),
        "check downloads nothing"
    );
    assert_eq!(dc.remaining(USER), 5);

    let json = env.run(&["-c", cfg, "--json", "check"]);
    json.assert_code(0);
    let objs: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 2, "one object per account\n{json}");
    for (obj, (name, new)) in objs.iter().zip([("alice", 5), ("bob", 0)]) {
        for key in JSON_KEYS {
            assert!(obj.get(key).is_some(), "{key} missing in {obj}");
        }
        assert_eq!(obj["account"], name);
        assert_eq!(obj["command"], "check");
        assert_eq!(obj["ok"], true);
        assert_eq!(obj["new"], new);
    }
    let bytes: u64 = msgs.iter().map(|m| wire_size(m)).sum();
    let reported = objs[0]["bytes"].as_u64().unwrap();
    assert!(
        reported > 0 && reported <= bytes,
        "bytes {reported} vs {bytes} on the wire"
    );

    // check recorded nothing: the fetch still gets all five.
    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&alice_dir), &msgs);

    let out = env.run(&["-c", cfg, "check"]);
    out.assert_code(1);
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("alice") && l.contains("no new mail")),
        "{out}"
    );
    let json = env.run(&["-c", cfg, "--json", "check"]);
    json.assert_code(1);
    let news: Vec<u64> = json
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["new"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(news, [0, 0], "{json}");
    assert_eq!(dc.remaining(USER), 5);
}
