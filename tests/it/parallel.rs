//! `-j N`: accounts fetched at once each get exactly their own mail, and
//! however the runs interleave, the report and the exit status follow the
//! config order.

use std::net::TcpListener;

use crate::common::PASSWORD;
use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{
    AccountToml, Output, TestEnv, assert_same_messages, config_of, read_maildir,
};

const EX_UNAVAILABLE: i32 = 69;
const EX_NOPERM: i32 = 77;

/// Where each account's report line is on stderr (its summary line or its
/// `popfetch: NAME:` error line), in the order of `names`.
fn report_positions(out: &Output, names: &[&str]) -> Vec<usize> {
    let lines: Vec<&str> = out.stderr.lines().collect();
    names
        .iter()
        .map(|name| {
            let own = format!("{name}:");
            let err = format!("popfetch: {name}:");
            lines
                .iter()
                .position(|l| l.starts_with(&own) || l.starts_with(&err))
                .unwrap_or_else(|| panic!("no line for {name}\n{out}"))
        })
        .collect()
}

#[track_caller]
fn assert_config_order(out: &Output, names: &[&str]) {
    let pos = report_positions(out, names);
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "account lines not in config order {names:?}\n{out}"
    );
}

#[test]
fn four_accounts_at_once_each_get_exactly_their_mail() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    let env = TestEnv::new();
    let names = ["ann", "ben", "cat", "dan"];
    let mut accounts = Vec::new();
    let mut corpora = Vec::new();
    for (i, name) in names.iter().enumerate() {
        dc.add_user(name, PASSWORD);
        let msgs = corpus::corpus(1200 + i as u64, 40 + 10 * i);
        dc.load_mailbox(name, &msgs);
        corpora.push(msgs);
        accounts.push(
            dc.account(
                name,
                name,
                PASSWORD,
                Tls::Implicit,
                &env.path(&format!("Mail/{name}")),
            )
            .raw("keep", "false"),
        );
    }
    let cfg = env.write_config(&config_of(&accounts.iter().collect::<Vec<_>>()));

    let out = env.run(&["-j", "4", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    for (name, msgs) in names.iter().zip(&corpora) {
        assert_same_messages(&read_maildir(&env.path(&format!("Mail/{name}"))), msgs);
        assert_eq!(dc.remaining(name), 0, "{name}");
    }
    assert_config_order(&out, &names);
    for (name, msgs) in names.iter().zip(&corpora) {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&format!("{name}: {} new", msgs.len()))),
            "{name}: its own count\n{out}"
        );
    }
}

/// A loopback port where nothing listens (free a moment ago).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The four ways an account can end, keyed by name.
fn failing_accounts(dc: &Dovecot, env: &TestEnv) -> Vec<(AccountToml, i32)> {
    let maildir = |n: &str| env.path(&format!("Mail/{n}"));
    // keep = true: every order fetches the same mailbox afresh.
    let account = |name: &str, user: &str, password: &str| {
        dc.account(name, user, password, Tls::Implicit, &maildir(name))
            .raw("keep", "true")
    };
    vec![
        (account("badpass", "alice", "not-the-password"), EX_NOPERM),
        (
            account("unreachable", "bob", PASSWORD).raw("port", dead_port().to_string()),
            EX_UNAVAILABLE,
        ),
        (account("good", "carol", PASSWORD), 0),
        (
            account("untrusted", "dave", PASSWORD).remove("tls_ca_file"),
            EX_UNAVAILABLE,
        ),
    ]
}

#[test]
fn accounts_failing_in_different_ways_report_in_config_order() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    for user in ["alice", "bob", "carol", "dave"] {
        dc.add_user(user, PASSWORD);
    }
    let mail = corpus::corpus(1210, 12);
    dc.load_mailbox("carol", &mail);
    dc.load_mailbox("alice", &corpus::corpus(1211, 3));
    dc.load_mailbox("dave", &corpus::corpus(1212, 3));

    // The wrong password is answered last (Dovecot delays auth failures),
    // the unreachable port and the untrusted certificate at once: config
    // order, not finishing order, must decide what is reported first and
    // which code is returned.
    let orders: [[usize; 4]; 2] = [[0, 1, 2, 3], [1, 0, 2, 3]];
    for order in orders {
        let env = TestEnv::new();
        let all = failing_accounts(&dc, &env);
        let picked: Vec<&(AccountToml, i32)> = order.iter().map(|&i| &all[i]).collect();
        let names: Vec<&str> = picked.iter().map(|(a, _)| a.name.as_str()).collect();
        let cfg = env.write_config(&config_of(
            &picked.iter().map(|(a, _)| a).collect::<Vec<_>>(),
        ));
        let want = picked.iter().map(|(_, c)| *c).find(|&c| c != 0).unwrap();

        let out = env.run(&["-j", "3", "-c", cfg.to_str().unwrap()]);
        out.assert_code(want);
        assert_config_order(&out, &names);
        assert_same_messages(&read_maildir(&env.path("Mail/good")), &mail);
        for bad in ["badpass", "unreachable", "untrusted"] {
            assert!(
                read_maildir(&env.path(&format!("Mail/{bad}"))).is_empty(),
                "{bad}"
            );
        }

        let json = env.run(&["-j", "3", "--json", "-c", cfg.to_str().unwrap()]);
        json.assert_code(want);
        let objs: Vec<serde_json::Value> = json
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: Vec<(String, i64)> = objs
            .iter()
            .map(|o| {
                (
                    o["account"].as_str().unwrap().to_owned(),
                    o["exit_code"].as_i64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, i64)> = picked
            .iter()
            .map(|(a, c)| (a.name.clone(), i64::from(*c)))
            .collect();
        assert_eq!(got, expected, "{json}");
        for o in &objs {
            let failed = o["exit_code"] != 0;
            assert_eq!(o["ok"], !failed, "{o}");
            assert_eq!(o["error"].is_string(), failed, "{o}");
        }
    }
    assert_eq!(dc.remaining("alice"), 3);
    assert_eq!(dc.remaining("dave"), 3);
}
