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
