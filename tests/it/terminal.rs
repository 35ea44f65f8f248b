//! The command line as a person and cron meet it: quiet where cron would
//! mail, helpful where a person typed something slightly wrong.

use std::sync::Arc;

use popfetch::Paths;

use crate::common::corpus;
use crate::common::env::{AccountToml, TestEnv, config_of};
use crate::common::script::{Maildrop, ScriptServer};
use crate::common::{PASSWORD, USER, hold_lock};

const EX_TEMPFAIL: i32 = 75;

/// An account on a scripted server (cleartext, USER/PASS).
pub fn scripted(name: &str, port: u16, env: &TestEnv) -> AccountToml {
    AccountToml::new(name)
        .str("host", "127.0.0.1")
        .raw("port", port.to_string())
        .str("tls", "none")
        .raw("allow_plaintext", "true")
        .str("auth", "user")
        .str("user", USER)
        .str("password", PASSWORD)
        .str(
            "maildir",
            &env.path(&format!("Mail/{name}")).display().to_string(),
        )
        .raw("received_header", "false")
}

#[test]
fn an_overlapping_cron_run_is_silent_under_q_and_says_so_without() {
    let mailbox = Maildrop::new(USER, PASSWORD, corpus::corpus(3200, 2));
    let srv = ScriptServer::maildrop(Arc::clone(&mailbox));
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[&scripted("cron", srv.port(), &env)]));
    let cfg = cfg.to_str().unwrap();
    let paths = Paths::new(
        &env.state_dir(),
        &format!("{USER}@127.0.0.1:{}", srv.port()),
    );
    let lock = hold_lock(&paths.lock);

    let quiet = env.run(&["-q", "-c", cfg]);
    quiet.assert_code(EX_TEMPFAIL);
    assert_eq!(quiet.stderr, "", "cron would mail this\n{quiet}");
    assert_eq!(quiet.stdout, "", "{quiet}");

    let loud = env.run(&["-c", cfg]);
    loud.assert_code(EX_TEMPFAIL);
    assert!(
        loud.stderr
            .contains("cron: another popfetch run is fetching"),
        "{loud}"
    );
    assert_eq!(srv.connections(), 0, "a locked account never connects");

    // Other errors still speak under -q.
    drop(lock);
    let dead = scripted("cron", srv.port(), &env).str("password", "wrong");
    let cfg2 = env.path("wrong.toml");
    env.write_config_at(&cfg2, &config_of(&[&dead]));
    let refused = env.run(&["-q", "-c", cfg2.to_str().unwrap()]);
    refused.assert_code(77);
    assert!(refused.stderr.contains("cron:"), "{refused}");
}

#[test]
fn a_mistyped_subcommand_is_suggested_before_the_account_names() {
    let srv = ScriptServer::start(crate::common::script::Reply::ok("ready"), |_, _| {
        crate::common::script::Reply::Close
    });
    let env = TestEnv::new();
    env.write_config(&config_of(&[&scripted("work", srv.port(), &env)]));
    for (typo, want) in [
        ("chek", "check"),
        ("serverinfp", "serverinfo"),
        ("acounts", "accounts"),
        ("ftech", "fetch"),
    ] {
        let out = env.run(&[typo]);
        out.assert_code(64);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(&format!("did you mean `popfetch {want}`?")),
            "{typo}: suggests {want} first\n{out}"
        );
        let (hint, rest) = out.stderr.split_once("did you mean").unwrap();
        assert!(
            !hint.contains("there is no account")
                && rest.contains(&format!("no account named \"{typo}\"")),
            "{out}"
        );
    }
    // Without a config file, the same.
    let bare = TestEnv::new();
    let out = bare.run(&["chek"]);
    out.assert_code(64);
    assert!(
        out.stderr.contains("did you mean `popfetch check`?"),
        "{out}"
    );
    // A real account of that name is fetched, not questioned; a name far
    // from every command is just an unknown account.
    let out = env.run(&["zzzz"]);
    out.assert_code(64);
    assert!(!out.stderr.contains("did you mean"), "{out}");
    assert_eq!(srv.connections(), 0);
}

#[test]
fn with_no_config_popfetch_offers_a_commented_example_that_validates() {
    let env = TestEnv::new();
    let out = env.run(&[]);
    out.assert_code(78);
    assert!(
        out.stderr.contains("popfetch config example"),
        "the no-config error names the example\n{out}"
    );

    let example = env.run(&["config", "example"]);
    example.assert_success();
    let text = &example.stdout;
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() > 10,
        "commented\n{text}"
    );
    for key in [
        "[defaults]",
        "[account.",
        "host",
        "password_command",
        "maildir",
        "keep",
    ] {
        assert!(text.contains(key), "{key}\n{text}");
    }
    let cfg = env.write_config(text);
    let listed = env.run(&["accounts", "-c", cfg.to_str().unwrap()]);
    listed.assert_success();
    assert!(!listed.stdout.trim().is_empty(), "{listed}");
    // The default place works too, with no warning.
    let listed = env.run(&["accounts"]);
    listed.assert_success();
    assert_eq!(listed.stderr, "", "{listed}");
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn check_json_carries_the_status_check_exits_with() {
    let full = Maildrop::new(USER, PASSWORD, corpus::corpus(3300, 2));
    let empty = Maildrop::new(USER, PASSWORD, Vec::new());
    let (full_srv, empty_srv) = (
        ScriptServer::maildrop(Arc::clone(&full)),
        ScriptServer::maildrop(Arc::clone(&empty)),
    );
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[
        &scripted("full", full_srv.port(), &env),
        &scripted("empty", empty_srv.port(), &env),
    ]));
    let cfg = cfg.to_str().unwrap();

    let none = env.run(&["check", "--json", "-c", cfg, "empty"]);
    none.assert_code(1);
    let v = &json_lines(&none.stdout)[0];
    assert_eq!(v["exit_code"], 1, "{none}");
    assert_eq!(v["ok"], true, "no new mail is a successful check\n{none}");
    assert_eq!(v["new"], 0);

    let some = env.run(&["check", "--json", "-c", cfg, "full"]);
    some.assert_code(0);
    assert_eq!(json_lines(&some.stdout)[0]["exit_code"], 0, "{some}");

    // Both: the run exits 0 (there is new mail); each object says what
    // `popfetch check` of that account alone exits with.
    let both = env.run(&["check", "--json", "-c", cfg]);
    both.assert_code(0);
    let codes: Vec<_> = json_lines(&both.stdout)
        .iter()
        .map(|v| (v["account"].clone(), v["exit_code"].clone()))
        .collect();
    assert_eq!(
        codes,
        [("full".into(), 0.into()), ("empty".into(), 1.into())],
        "{both}"
    );
    assert_eq!(full.remaining(), 2, "check deletes nothing");
}

#[test]
fn accounts_json_is_one_object_per_account() {
    let env = TestEnv::new();
    let work = scripted("work", 1995, &env)
        .str("tls", "implicit")
        .remove("allow_plaintext")
        .raw("keep", "true")
        .raw("delete_after_days", "30")
        .str("max_size", "10M");
    let home = scripted("home", 110, &env)
        .remove("password")
        .remove("maildir")
        .str("mbox", &env.path("mbox").display().to_string())
        .str("password_command", "pass show home");
    let cfg = env.write_config(&config_of(&[&work, &home]));
    let out = env.run(&["accounts", "--json", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 2, "{out}");
    assert_eq!(v[0]["account"], "work");
    assert_eq!(v[0]["host"], "127.0.0.1");
    assert_eq!(v[0]["port"], 1995);
    assert_eq!(v[0]["user"], USER);
    assert_eq!(v[0]["tls"], "implicit");
    assert_eq!(v[0]["mailbox"], format!("{USER}@127.0.0.1:1995"));
    assert_eq!(v[0]["keep"], true);
    assert_eq!(v[0]["delete_after_days"], 30);
    assert_eq!(v[0]["max_size"], 10 * 1024 * 1024);
    assert_eq!(v[0]["delivery"], "maildir");
    assert_eq!(v[0]["password"], "stored");
    assert_eq!(v[1]["account"], "home");
    assert_eq!(v[1]["tls"], "none");
    assert_eq!(v[1]["delivery"], "mbox");
    assert_eq!(v[1]["password"], "command");
    assert_eq!(v[1]["keep"], false);
    assert!(v[1]["delete_after_days"].is_null());
    assert!(!out.stdout.contains(PASSWORD), "no secret in the listing");
}

#[test]
fn ad_hoc_flags_never_retarget_the_configured_accounts() {
    let servers: Vec<(Arc<Maildrop>, ScriptServer)> = (0..3)
        .map(|i| {
            let m = Maildrop::new(USER, PASSWORD, corpus::corpus(3400 + i, 2));
            let s = ScriptServer::maildrop(Arc::clone(&m));
            (m, s)
        })
        .collect();
    let env = TestEnv::new();
    let cfg = env.write_config(&format!(
        "[defaults]\nkeep = true\n\n{}",
        config_of(&[
            &scripted("work", servers[0].1.port(), &env),
            &scripted("home", servers[1].1.port(), &env),
        ])
    ));
    let cfg = cfg.to_str().unwrap();
    let other = servers[2].1.port().to_string();
    let adhoc_dir = env.path("Mail/adhoc");

    // --host and no account named: one account of its own.
    let out = env.run(&[
        "-c",
        cfg,
        "--host",
        "127.0.0.1",
        "--port",
        &other,
        "--tls",
        "none",
        "--allow-plaintext",
        "--auth",
        "user",
        "--user",
        USER,
        "--password-command",
        &format!("echo '{PASSWORD}'"),
        "--maildir",
        adhoc_dir.to_str().unwrap(),
        "--no-received-header",
    ]);
    out.assert_success();
    assert_eq!(
        crate::common::env::read_maildir(&adhoc_dir).len(),
        2,
        "{out}"
    );
    assert!(
        out.stderr.starts_with("127.0.0.1: 2 new") && !out.stderr.contains("work"),
        "only the ad-hoc account ran\n{out}"
    );
    assert_eq!(
        servers[0].1.connections() + servers[1].1.connections(),
        0,
        "{out}"
    );
    assert_eq!(
        servers[2].0.remaining(),
        2,
        "[defaults] keep = true applied\n{out}"
    );

    // --user alone would point both accounts at one login: refused.
    let out = env.run(&["-c", cfg, "--user", "bob"]);
    out.assert_code(64);
    assert!(
        out.stderr.contains("work, home") && out.stderr.contains("--host"),
        "{out}"
    );
    assert_eq!(
        servers[0].1.connections() + servers[1].1.connections(),
        0,
        "{out}"
    );

    // --host with a name moves that account only.
    let out = env.run(&["-c", cfg, "--host", "127.0.0.1", "--port", &other, "home"]);
    out.assert_success();
    assert_eq!(
        servers[1].1.connections(),
        0,
        "home went to the other port\n{out}"
    );
    assert_eq!(servers[0].1.connections(), 0, "work was not named\n{out}");
}
