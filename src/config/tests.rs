//! Tests for loading and validating configs. Every test runs in its own
//! temporary directory with an explicit [`Env`]: the real home directory is
//! never read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use tempfile::TempDir;

use super::*;
use crate::account::{AuthChoice, CommandSpec, Destination, PasswordSource, Pipelining, TlsMode};

/// Whether the command line, not the file, is blamed: exit 64, not 78
/// (as `error.rs` decides).
trait Blame {
    fn is_usage(&self) -> bool;
}

impl Blame for ConfigError {
    fn is_usage(&self) -> bool {
        crate::error::config_code(self) == crate::error::exit::USAGE
    }
}

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn env(&self) -> Env {
        Env {
            home: Some(self.path("home")),
            config_base: Some(self.path("home/.config")),
            state_base: Some(self.path("home/.local/state")),
            netrc: Some(self.path("netrc")),
        }
    }

    /// Writes the config (mode 0600) and returns its path.
    fn write(&self, text: &str) -> PathBuf {
        let p = self.path("config.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    fn load(&self, text: &str, args: &[&str]) -> Result<Loaded, ConfigError> {
        let path = self.write(text);
        let mut cli = cli(args);
        cli.global.config = Some(path);
        let names = cli.account_names();
        load_in(&cli, &names, &self.env())
    }

    fn err(&self, text: &str, args: &[&str]) -> ConfigError {
        match self.load(text, args) {
            Ok(l) => panic!("accepted: {:?}", l.accounts),
            Err(e) => e,
        }
    }

    /// The message of an error in the file, checked to start at `line:col`.
    fn err_at(&self, text: &str, line: usize, col: usize) -> String {
        let e = self.err(text, &[]);
        assert!(!e.is_usage(), "{e}");
        let msg = e.to_string();
        let want = format!("{}:{line}:{col}: ", self.path("config.toml").display());
        assert!(msg.starts_with(&want), "wanted {want}, got: {msg}");
        msg
    }
}

fn cli(args: &[&str]) -> Cli {
    let mut argv = vec!["popfetch"];
    argv.extend_from_slice(args);
    let mut cli = Cli::try_parse_from(argv).unwrap();
    // Never let a POPFETCH_CONFIG in the test environment leak in.
    if !args.iter().any(|a| *a == "-c" || *a == "--config") {
        cli.global.config = None;
    }
    cli
}

const GOOD: &str = r#"
[defaults]
keep = true
timeout = 30
maildir = "~/Mail/default"

[account.zeta]
host = "pop.zeta.example"
user = "z"
password = "zpw"

[account.alpha]
host = "pop.alpha.example"
tls = "starttls"
user = "a"
keep = false
mbox = "/var/mail/a"
password_command = ["pass", "show", "mail/alpha"]

[account.mid]
host = "pop.mid.example"
port = 1995
user = "m"
password_command = "gpg -d ~/.pw.gpg"
max_size = "10M"
max_messages = 100
delete_after_days = 30
pipelining = "off"
received_header = false
tls_fingerprint = "sha256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
"#;

#[test]
fn accounts_keep_file_order_and_merge_defaults() {
    let f = Fixture::new();
    let loaded = f.load(GOOD, &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let names: Vec<_> = loaded.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
    let [zeta, alpha, mid] = &loaded.accounts[..] else {
        panic!()
    };

    assert_eq!(zeta.host, "pop.zeta.example");
    assert_eq!(zeta.port, 995);
    assert_eq!(zeta.tls, TlsMode::Implicit);
    assert_eq!(zeta.auth, AuthChoice::Auto);
    assert!(zeta.policy.keep, "keep comes from [defaults]");
    assert_eq!(zeta.timeout, Duration::from_secs(30));
    assert_eq!(
        zeta.destination,
        Destination::Maildir(f.path("home/Mail/default"))
    );
    assert!(matches!(&zeta.password, PasswordSource::Literal(s) if s.expose() == "zpw"));
    assert_eq!(zeta.state_dir, f.path("home/.local/state/popfetch"));
    assert_eq!(zeta.pipelining, Pipelining::Auto);
    assert!(zeta.received_header);
    assert_eq!(zeta.policy.max_size, None);

    assert_eq!(alpha.port, 110, "starttls defaults to port 110");
    assert!(!alpha.policy.keep, "the account overrides [defaults]");
    assert_eq!(alpha.destination, Destination::Mbox("/var/mail/a".into()));
    assert!(matches!(
        &alpha.password,
        PasswordSource::Command(CommandSpec::Argv(v)) if v == &["pass", "show", "mail/alpha"]
    ));

    assert_eq!(mid.port, 1995);
    assert!(matches!(
        &mid.password,
        PasswordSource::Command(CommandSpec::Shell(s)) if s == "gpg -d ~/.pw.gpg"
    ));
    assert_eq!(mid.policy.max_size, Some(10 << 20));
    assert_eq!(mid.policy.max_messages, Some(100));
    assert_eq!(mid.policy.delete_after_days, Some(30));
    assert_eq!(mid.pipelining, Pipelining::Off);
    assert!(!mid.received_header);
    let fp = mid.tls_fingerprint.as_deref().unwrap();
    assert!(fp.starts_with("sha256:00:01:02:"), "{fp}");
    assert!(fp.ends_with(":1E:1F"), "{fp}");
}

#[test]
fn built_in_defaults() {
    let f = Fixture::new();
    let loaded = f
        .load(
            "[account.x]\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/m\"\n",
            &[],
        )
        .unwrap();
    let a = &loaded.accounts[0];
    assert_eq!((a.tls, a.port), (TlsMode::Implicit, 995));
    assert_eq!(a.auth, AuthChoice::Auto);
    assert!(!a.policy.keep && !a.policy.fetch_all && !a.allow_plaintext);
    assert_eq!(a.timeout, Duration::from_secs(60));
    assert_eq!(a.pipelining, Pipelining::Auto);
    assert!(a.received_header);
    assert!(matches!(a.password, PasswordSource::Prompt));
    assert_eq!(a.tls_ca_file, None);
}

#[test]
fn flags_override_every_account() {
    let f = Fixture::new();
    let loaded = f
        .load(
            GOOD,
            &[
                "--no-keep",
                "--maildir",
                "/tmp/x",
                "--port",
                "2000",
                "--timeout",
                "5",
                "--password-command",
                "echo pw",
                "--tls-ca-file",
                "~/ca.pem",
                "--pipelining",
                "on",
                "--fetch-all",
                "--auth",
                "plain",
                // --port and --password-command name one mailbox: they
                // override several accounts only when those are named.
                "zeta",
                "alpha",
                "mid",
            ],
        )
        .unwrap_err();
    // mid has delete_after_days, which --no-keep contradicts: the flag is blamed.
    assert!(loaded.is_usage(), "{loaded}");
    assert!(loaded.to_string().contains("--no-keep"), "{loaded}");

    let loaded = f
        .load(
            GOOD,
            &[
                "--keep",
                "--maildir",
                "/tmp/x",
                "--port",
                "2000",
                "--timeout",
                "5",
                "--password-command",
                "echo pw",
                "--tls-ca-file",
                "~/ca.pem",
                "--pipelining",
                "on",
                "--fetch-all",
                "--auth",
                "plain",
                "--state-dir",
                "~/st",
                "zeta",
                "alpha",
                "mid",
            ],
        )
        .unwrap();
    assert_eq!(loaded.accounts.len(), 3);
    for a in &loaded.accounts {
        assert!(a.policy.keep);
        assert!(a.policy.fetch_all);
        assert_eq!(a.destination, Destination::Maildir("/tmp/x".into()));
        assert_eq!(a.port, 2000);
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert!(matches!(
            &a.password,
            PasswordSource::Command(CommandSpec::Shell(s)) if s == "echo pw"
        ));
        assert_eq!(a.tls_ca_file, Some(f.path("home/ca.pem")));
        assert_eq!(a.pipelining, Pipelining::On);
        assert_eq!(a.auth, AuthChoice::Plain);
        assert_eq!(a.state_dir, f.path("home/st"));
    }
}

#[test]
fn account_destination_replaces_the_default_one() {
    let f = Fixture::new();
    let loaded = f
        .load(
            "[defaults]\nmaildir = \"/d\"\npassword = \"p\"\n\
             [account.a]\nhost = \"h\"\nuser = \"u\"\nmda = [\"procmail\", \"-f\", \"%F\"]\n\
             password_command = \"echo x\"\n",
            &[],
        )
        .unwrap();
    let a = &loaded.accounts[0];
    assert_eq!(
        a.destination,
        Destination::Mda(CommandSpec::Argv(vec![
            "procmail".into(),
            "-f".into(),
            "%F".into()
        ]))
    );
    assert!(matches!(a.password, PasswordSource::Command(_)));
}

#[test]
fn names_select_accounts_in_file_order() {
    let f = Fixture::new();
    let loaded = f.load(GOOD, &["mid", "zeta"]).unwrap();
    let names: Vec<_> = loaded.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["zeta", "mid"]);
    let loaded = f.load(GOOD, &["check", "alpha"]).unwrap();
    assert_eq!(loaded.accounts.len(), 1);
    assert_eq!(loaded.accounts[0].name, "alpha");
}

#[test]
fn unknown_account_name_lists_the_known_ones() {
    let f = Fixture::new();
    let e = f.err(GOOD, &["work"]);
    assert!(e.is_usage());
    let msg = e.to_string();
    assert!(msg.contains("\"work\""), "{msg}");
    assert!(msg.contains("zeta, alpha, mid"), "{msg}");
}

#[test]
fn unknown_key_is_located_and_suggested() {
    let f = Fixture::new();
    let msg = f.err_at("[account.w]\nhost = \"h\"\n  prot = 995\n", 3, 3);
    assert!(msg.contains("unknown key \"prot\""), "{msg}");
    assert!(msg.contains("did you mean \"port\""), "{msg}");
    assert!(msg.contains("account \"w\""), "{msg}");

    let msg = f.err_at("[defaults]\nkeeep = true\n", 2, 1);
    assert!(
        msg.contains("[defaults]") && msg.contains("\"keep\""),
        "{msg}"
    );

    let msg = f.err_at("[acount.w]\nhost = \"h\"\n", 1, 2);
    assert!(
        msg.contains("\"acount\"") && msg.contains("\"account\""),
        "{msg}"
    );

    let msg = f.err_at("host = \"h\"\n[account.w]\n", 1, 1);
    assert!(msg.contains("[defaults]"), "{msg}");
}

#[test]
fn commit_every_zero_is_off_and_the_flag_overrides() {
    let f = Fixture::new();
    let text = "[defaults]\ncommit_every = 50\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/m\"\n\
                [account.a]\n[account.b]\ncommit_every = 0\n";
    let loaded = f.load(text, &[]).unwrap();
    let every: Vec<_> = loaded.accounts.iter().map(|a| a.commit_every).collect();
    assert_eq!(every, [Some(50), None]);
    let loaded = f.load(text, &["--commit-every", "3"]).unwrap();
    let every: Vec<_> = loaded.accounts.iter().map(|a| a.commit_every).collect();
    assert_eq!(every, [Some(3), Some(3)]);
    let loaded = f.load(text, &["--commit-every", "0"]).unwrap();
    assert!(loaded.accounts.iter().all(|a| a.commit_every.is_none()));
}

#[test]
fn log_file_and_syslog() {
    let f = Fixture::new();
    let text = "[defaults]\nlog_file = \"~/log/popfetch.log\"\nhost = \"h\"\nuser = \"u\"\n\
                maildir = \"/m\"\n[account.a]\n[account.b]\nsyslog = true\n";
    let loaded = f.load(text, &[]).unwrap();
    let [a, b] = &loaded.accounts[..] else {
        panic!()
    };
    assert_eq!(a.log_file, Some(f.path("home/log/popfetch.log")));
    assert!(!a.syslog && b.syslog);
    let loaded = f
        .load(text, &["--no-syslog", "--log-file", "/var/l"])
        .unwrap();
    for a in &loaded.accounts {
        assert!(!a.syslog);
        assert_eq!(a.log_file.as_deref(), Some(Path::new("/var/l")));
    }
    let loaded = f.load(text, &["--syslog"]).unwrap();
    assert!(loaded.accounts.iter().all(|a| a.syslog));
    let msg = f.err_at("[account.w]\nsyslog = \"yes\"\n", 2, 10);
    assert!(msg.contains("\"syslog\""), "{msg}");
}

#[test]
fn type_and_range_errors_name_the_key_and_value_position() {
    let f = Fixture::new();
    let cases: &[(&str, usize, usize, &[&str])] = &[
        (
            "port = \"995\"",
            2,
            8,
            &["\"port\"", "whole number", "string"],
        ),
        ("port = 0", 2, 8, &["\"port\"", "1 to 65535"]),
        ("port = 70000", 2, 8, &["\"port\"", "70000"]),
        ("timeout = 0", 2, 11, &["\"timeout\"", "from 1 to 86400"]),
        ("timeout = -5", 2, 11, &["\"timeout\""]),
        ("keep = \"yes\"", 2, 8, &["\"keep\"", "true or false"]),
        ("tls = \"ssl\"", 2, 7, &["\"tls\"", "starttls"]),
        ("auth = \"kerberos\"", 2, 8, &["\"auth\"", "cram-md5"]),
        (
            "pipelining = \"maybe\"",
            2,
            14,
            &["\"pipelining\"", "use \"auto\", \"on\" or \"off\""],
        ),
        (
            "pipelining = 1",
            2,
            14,
            &["expected \"auto\", \"on\" or \"off\", found integer"],
        ),
        ("max_size = \"10Q\"", 2, 12, &["\"max_size\"", "1024"]),
        ("max_size = 0", 2, 12, &["\"max_size\""]),
        ("max_messages = 0", 2, 16, &["\"max_messages\""]),
        ("delete_after_days = -1", 2, 21, &["\"delete_after_days\""]),
        (
            "commit_every = -1",
            2,
            16,
            &["\"commit_every\"", "0 (the default)"],
        ),
        ("commit_every = \"5\"", 2, 16, &["\"commit_every\""]),
        ("host = \"\"", 2, 8, &["\"host\"", "empty"]),
        ("host = \"a b\"", 2, 8, &["\"host\""]),
        ("user = 5", 2, 8, &["\"user\""]),
        ("password = \"\"", 2, 12, &["\"password\"", "empty"]),
        (
            "password_command = []",
            2,
            20,
            &["\"password_command\"", "empty"],
        ),
        (
            "password_command = [\"a\", 1]",
            2,
            20,
            &["\"password_command\""],
        ),
        ("mda = 5", 2, 7, &["\"mda\""]),
        ("maildir = \"~bob/Mail\"", 2, 11, &["\"maildir\"", "~user"]),
        (
            "tls_fingerprint = \"sha256:3A:9F\"",
            2,
            19,
            &["\"tls_fingerprint\"", "32 hex bytes"],
        ),
        (
            "tls_fingerprint = \"md5:00\"",
            2,
            19,
            &["\"tls_fingerprint\""],
        ),
    ];
    for (line, l, c, needles) in cases {
        let text = format!("[account.w]\n{line}\n");
        let msg = f.err_at(&text, *l, *c);
        assert!(msg.contains("account \"w\""), "{msg}");
        for n in *needles {
            assert!(msg.contains(n), "{line}: {n:?} missing from: {msg}");
        }
    }
}

#[test]
fn syntax_error_is_located() {
    let f = Fixture::new();
    let msg = f.err_at("[account.w]\nhost = \"unterminated\n", 2, 21);
    assert!(msg.contains("not valid TOML"), "{msg}");
    let e = f.err("[account.w]\nhost = \"a\"\nhost = \"b\"\n", &[]);
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    assert!(e.to_string().contains(":3:"), "{e}");
}

const BASE: &str = "host = \"h\"\nuser = \"u\"\nmaildir = \"/m\"\n";

#[test]
fn tls_none_needs_allow_plaintext() {
    let f = Fixture::new();
    let msg = f.err_at(&format!("[account.w]\n{BASE}tls = \"none\"\n"), 5, 1);
    assert!(msg.contains("account \"w\""), "{msg}");
    assert!(msg.contains("allow_plaintext = true"), "{msg}");
    assert!(msg.contains("[account.w]"), "{msg}");

    let msg = f.err_at(
        &format!("[defaults]\ntls = \"none\"\n[account.w]\n{BASE}"),
        2,
        1,
    );
    assert!(msg.contains("[defaults]"), "{msg}");

    let ok = f
        .load(
            &format!("[account.w]\n{BASE}tls = \"none\"\nallow_plaintext = true\n"),
            &[],
        )
        .unwrap();
    assert_eq!(
        (ok.accounts[0].tls, ok.accounts[0].port),
        (TlsMode::None, 110)
    );

    let e = f.err(&format!("[account.w]\n{BASE}"), &["--tls", "none"]);
    assert!(e.is_usage(), "{e}");
    assert!(e.to_string().contains("--allow-plaintext"), "{e}");
    f.load(
        &format!("[account.w]\n{BASE}"),
        &["--tls", "none", "--allow-plaintext"],
    )
    .unwrap();
}

#[test]
fn delete_after_days_needs_keep() {
    let f = Fixture::new();
    let msg = f.err_at(&format!("[account.w]\n{BASE}delete_after_days = 7\n"), 5, 1);
    assert!(msg.contains("delete_after_days"), "{msg}");
    assert!(msg.contains("keep = true"), "{msg}");

    let e = f.err(
        &format!("[account.w]\n{BASE}"),
        &["--delete-after-days", "7"],
    );
    assert!(e.is_usage(), "{e}");
    assert!(e.to_string().contains("--keep"), "{e}");
    let ok = f
        .load(
            &format!("[account.w]\n{BASE}"),
            &["--delete-after-days", "7", "--keep"],
        )
        .unwrap();
    assert_eq!(ok.accounts[0].policy.delete_after_days, Some(7));
}

#[test]
fn exactly_one_destination() {
    let f = Fixture::new();
    let msg = f.err_at("[account.w]\nmaildir = \"/m\"\nmbox = \"/b\"\n", 3, 1);
    assert!(msg.contains("mbox") && msg.contains("maildir"), "{msg}");
    assert!(msg.contains(":2:1"), "names where the first one is: {msg}");

    let msg = f.err_at("[account.w]\nhost = \"h\"\nuser = \"u\"\n", 1, 10);
    assert!(msg.contains("no maildir"), "{msg}");
    assert!(msg.contains("account \"w\""), "{msg}");

    let e = f.err(
        &format!("[account.w]\n{BASE}"),
        &["--maildir", "/a", "--mbox", "/b"],
    );
    assert!(e.is_usage(), "{e}");
    assert!(e.to_string().contains("--maildir and --mbox"), "{e}");
}

#[test]
fn lmtp_and_smtp_destinations_and_their_recipient() {
    use crate::account::{Relay, ServerAddr};
    const HU: &str = "host = \"h\"\nuser = \"u\"\n";
    let f = Fixture::new();
    let text = "[defaults]\nhost = \"h\"\nuser = \"ann\"\n\
                [account.a]\nlmtp = \"unix:~/run/lmtp\"\n\
                [account.b]\nlmtp = \"[::1]:24\"\nrecipient = \"bob@example.org\"\n\
                [account.c]\nsmtp = \"localhost\"\n\
                [account.d]\nsmtp = \"/run/smtp\"\n";
    let l = f.load(text, &[]).unwrap();
    let dest: Vec<&Destination> = l.accounts.iter().map(|a| &a.destination).collect();
    assert_eq!(
        dest,
        [
            &Destination::Lmtp(Relay {
                server: ServerAddr::Unix(f.path("home/run/lmtp")),
                recipient: "ann".into()
            }),
            &Destination::Lmtp(Relay {
                server: ServerAddr::Tcp {
                    host: "::1".into(),
                    port: 24
                },
                recipient: "bob@example.org".into()
            }),
            &Destination::Smtp(Relay {
                server: ServerAddr::Tcp {
                    host: "localhost".into(),
                    port: 25
                },
                recipient: "ann".into()
            }),
            &Destination::Smtp(Relay {
                server: ServerAddr::Unix("/run/smtp".into()),
                recipient: "ann".into()
            }),
        ]
    );
    assert_eq!(l.accounts[1].destination.describe(), "LMTP [::1]:24");

    // Flags: --recipient overrides, --smtp replaces the file's lmtp.
    let l = f
        .load(
            text,
            &["b", "--smtp", "127.0.0.1:2525", "--recipient", "c@d"],
        )
        .unwrap();
    assert_eq!(
        l.accounts[0].destination,
        Destination::Smtp(Relay {
            server: ServerAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 2525
            },
            recipient: "c@d".into()
        })
    );

    let msg = f.err_at(&format!("[account.w]\n{HU}lmtp = \"localhost\"\n"), 4, 8);
    assert!(msg.contains("lmtp has no standard port"), "{msg}");
    let msg = f.err_at(&format!("[account.w]\n{HU}smtp = \"h:0\"\n"), 4, 8);
    assert!(msg.contains("1 to 65535"), "{msg}");
    let msg = f.err_at(&format!("[account.w]\n{HU}lmtp = \"unix:\"\n"), 4, 8);
    assert!(msg.contains("absolute path"), "{msg}");
    let msg = f.err_at(
        &format!("[account.w]\n{HU}lmtp = \"h:24\"\nrecipient = \"a <b>\"\n"),
        5,
        13,
    );
    assert!(msg.contains("angle bracket"), "{msg}");
    let msg = f.err_at(
        &format!("[account.w]\n{HU}maildir = \"/m\"\nsmtp = \"h\"\n"),
        5,
        1,
    );
    assert!(
        msg.contains("one of maildir, mbox, mda, lmtp or smtp"),
        "{msg}"
    );
    // recipient with another destination, in the account or in [defaults].
    let msg = f.err_at(
        &format!("[account.w]\n{HU}maildir = \"/m\"\nrecipient = \"r\"\n"),
        5,
        1,
    );
    assert!(
        msg.contains("recipient only applies to lmtp and smtp"),
        "{msg}"
    );
    let msg = f.err_at(
        &format!("[defaults]\nrecipient = \"r\"\n[account.w]\n{HU}maildir = \"/m\"\n"),
        2,
        1,
    );
    assert!(msg.contains("(the key is in [defaults])"), "{msg}");
    // A user that cannot be a recipient must be replaced by one.
    let msg = f.err_at(
        "[account.w]\nhost = \"h\"\nuser = \"a b\"\nlmtp = \"h:24\"\n",
        1,
        10,
    );
    assert!(
        msg.contains("no recipient") && msg.contains("blank"),
        "{msg}"
    );
}

#[test]
fn host_and_user_are_required() {
    let f = Fixture::new();
    let msg = f.err_at("\n[account.w]\nuser = \"u\"\nmaildir = \"/m\"\n", 2, 10);
    assert!(msg.contains("no host"), "{msg}");
    let msg = f.err_at(
        "[account.\"my mail\"]\nhost = \"h\"\nmaildir = \"/m\"\n",
        1,
        10,
    );
    assert!(msg.contains("no user"), "{msg}");
    assert!(msg.contains("[account.\"my mail\"]"), "{msg}");
}

#[test]
fn password_and_password_command_conflict() {
    let f = Fixture::new();
    let msg = f.err_at(
        &format!("[account.w]\n{BASE}password = \"p\"\npassword_command = \"x\"\n"),
        6,
        1,
    );
    assert!(msg.contains("password_command"), "{msg}");
}

#[test]
fn password_in_readable_file_warns() {
    let f = Fixture::new();
    let text = format!("[account.w]\n{BASE}password = \"p\"\n");
    let path = f.write(&text);
    let mut c = cli(&[]);
    c.global.config = Some(path.clone());
    let loaded = load_in(&c, &[], &f.env()).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let loaded = load_in(&c, &[], &f.env()).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    let w = &loaded.warnings[0];
    assert!(w.contains("chmod 600"), "{w}");
    assert!(w.contains(":5:1"), "{w}");
    assert!(!w.contains("\"p\""), "{w}");

    // No password in the file: nothing to warn about.
    let path = f.write(&format!("[account.w]\n{BASE}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = load_in(&c, &[], &f.env()).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn netrc_supplies_missing_passwords() {
    let f = Fixture::new();
    let netrc = f.path("netrc");
    std::fs::write(&netrc, "machine h login u password fromnetrc\n").unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "[account.a]\n{BASE}\n[account.b]\nhost = \"h\"\nuser = \"other\"\nmbox = \"/b\"\n\
         [account.c]\n{BASE}password = \"own\"\n"
    );
    let loaded = f.load(&text, &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let pw = |i: usize| match &loaded.accounts[i].password {
        PasswordSource::Literal(s) => Some(s.expose().to_string()),
        _ => None,
    };
    assert_eq!(pw(0).as_deref(), Some("fromnetrc"));
    assert!(matches!(
        loaded.accounts[1].password,
        PasswordSource::Prompt
    ));
    assert_eq!(pw(2).as_deref(), Some("own"), "the config wins over .netrc");

    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = f.load(&text, &[]).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("chmod 600"));
}

#[test]
fn ad_hoc_account_without_a_config_file() {
    let f = Fixture::new();
    let env = f.env();
    let c = cli(&[
        "--host",
        "pop.example.com",
        "--user",
        "alice",
        "--mbox",
        "~/mbox",
        "--tls",
        "starttls",
    ]);
    let loaded = load_in(&c, &[], &env).unwrap();
    let a = &loaded.accounts[0];
    assert_eq!(a.name, "pop.example.com");
    assert_eq!(a.port, 110);
    assert_eq!(a.destination, Destination::Mbox(f.path("home/mbox")));
    assert_eq!(a.mailbox_id(), "alice@pop.example.com:110");

    let c = cli(&["--host", "pop.example.com", "--maildir", "/m"]);
    let e = load_in(&c, &[], &env).unwrap_err();
    assert!(e.is_usage(), "{e}");
    assert!(e.to_string().contains("--user"), "{e}");

    let c = cli(&["--host", "h", "--user", "u"]);
    let e = load_in(&c, &[], &env).unwrap_err();
    assert!(e.is_usage() && e.to_string().contains("--maildir"), "{e}");
}

#[test]
fn ad_hoc_account_uses_file_defaults() {
    let f = Fixture::new();
    let loaded = f
        .load(
            "[defaults]\nkeep = true\n",
            &["--host", "h", "--user", "u", "--maildir", "/m"],
        )
        .unwrap();
    assert_eq!(loaded.accounts.len(), 1);
    assert!(loaded.accounts[0].policy.keep);
}

#[test]
fn missing_default_config_explains_what_to_do() {
    let f = Fixture::new();
    let e = load_in(&cli(&[]), &[], &f.env()).unwrap_err();
    assert!(!e.is_usage());
    let msg = e.to_string();
    let want = f.path("home/.config/popfetch/config.toml");
    assert!(msg.contains(&want.display().to_string()), "{msg}");
    assert!(
        msg.contains("[account.NAME]") && msg.contains("--host"),
        "{msg}"
    );

    let e = load_in(&cli(&[]), &[], &Env::default()).unwrap_err();
    assert!(matches!(e, ConfigError::NoConfigDir), "{e}");
}

#[test]
fn missing_named_config_is_an_error_even_with_host() {
    let f = Fixture::new();
    let missing = f.path("nope.toml");
    let c = cli(&[
        "-c",
        missing.to_str().unwrap(),
        "--host",
        "h",
        "--user",
        "u",
        "--maildir",
        "/m",
    ]);
    let e = load_in(&c, &[], &f.env()).unwrap_err();
    assert!(matches!(e, ConfigError::NamedConfigMissing { .. }), "{e}");
    assert!(e.to_string().contains("nope.toml"), "{e}");
}

#[test]
fn empty_config_without_host() {
    let f = Fixture::new();
    let e = f.err("[defaults]\nkeep = true\n", &[]);
    assert!(matches!(e, ConfigError::NoAccounts { .. }), "{e}");
}

#[test]
fn default_config_path_is_used() {
    let f = Fixture::new();
    let dir = f.path("home/.config/popfetch");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), format!("[account.d]\n{BASE}")).unwrap();
    let loaded = load_in(&cli(&[]), &[], &f.env()).unwrap();
    assert_eq!(loaded.accounts[0].name, "d");
}

#[test]
fn state_dir_precedence() {
    let f = Fixture::new();
    let text = format!("[defaults]\nstate_dir = \"~/s1\"\n[account.w]\n{BASE}");
    let loaded = f.load(&text, &[]).unwrap();
    assert_eq!(loaded.accounts[0].state_dir, f.path("home/s1"));
    let loaded = f.load(&text, &["--state-dir", "/s2"]).unwrap();
    assert_eq!(loaded.accounts[0].state_dir, Path::new("/s2"));

    let mut env = f.env();
    env.state_base = None;
    let path = f.write(&format!("[account.w]\n{BASE}"));
    let mut c = cli(&[]);
    c.global.config = Some(path);
    let loaded = load_in(&c, &[], &env).unwrap();
    assert_eq!(
        loaded.accounts[0].state_dir,
        f.path("home/.local/state/popfetch")
    );
}

#[test]
fn tilde_expansion() {
    let env = Env {
        home: Some("/home/a".into()),
        ..Env::default()
    };
    assert_eq!(expand_tilde("~", &env).unwrap(), Path::new("/home/a"));
    assert_eq!(
        expand_tilde("~/Mail/x", &env).unwrap(),
        Path::new("/home/a/Mail/x")
    );
    assert_eq!(expand_tilde("/a/~", &env).unwrap(), Path::new("/a/~"));
    assert!(expand_tilde("~b/x", &env).is_err());
    assert!(expand_tilde("~/x", &Env::default()).is_err());
}

#[test]
fn errors_never_contain_the_password() {
    let f = Fixture::new();
    let e = f.err("[account.w]\npassword = \"hunter2\"\nport = 0\n", &[]);
    assert!(!e.to_string().contains("hunter2"));
    let loaded = f
        .load(&format!("[account.w]\n{BASE}password = \"hunter2\"\n"), &[])
        .unwrap();
    assert!(!format!("{loaded:?}").contains("hunter2"));
}

#[test]
fn toml_integer_forms() {
    let f = Fixture::new();
    let loaded = f
        .load(
            &format!("[account.w]\n{BASE}port = 0x3e3\ntimeout = 1_0\n"),
            &[],
        )
        .unwrap();
    assert_eq!(loaded.accounts[0].port, 995);
    assert_eq!(loaded.accounts[0].timeout, Duration::from_secs(10));
}

#[test]
fn proxy_urls_in_the_file_and_on_the_command_line() {
    let f = Fixture::new();
    let text = format!(
        "[defaults]\nproxy = \"socks5://bob:hunter2@127.0.0.1:1080\"\n[account.w]\n{BASE}\
         [account.direct]\n{BASE}proxy = \"socks5h://[::1]\"\n"
    );
    let loaded = f.load(&text, &[]).unwrap();
    let shown: Vec<Option<String>> = loaded
        .accounts
        .iter()
        .map(|a| a.proxy.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(
        shown,
        [
            Some("socks5://bob:********@127.0.0.1:1080".to_string()),
            Some("socks5://[::1]:1080".to_string())
        ]
    );
    assert!(!format!("{loaded:?}").contains("hunter2"));

    // The proxy's password is a password in the file.
    let path = f.path("config.toml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut c = cli(&[]);
    c.global.config = Some(path);
    let warnings = load_in(&c, &[], &f.env()).unwrap().warnings;
    assert!(
        warnings.len() == 1 && warnings[0].contains(":2:1") && warnings[0].contains("chmod 600"),
        "{warnings:?}"
    );

    // The flag overrides the file, and takes no password (ps would show it).
    let loaded = f
        .load(&text, &["--proxy", "socks5://10.0.0.1:9050"])
        .unwrap();
    for a in &loaded.accounts {
        let proxy = a.proxy.as_ref().map(ToString::to_string);
        assert_eq!(proxy.as_deref(), Some("socks5://10.0.0.1:9050"));
    }
    let e = f.err(&text, &["--proxy", "socks5://bob:hunter2@10.0.0.1"]);
    assert!(e.is_usage(), "{e}");
    let msg = e.to_string();
    assert!(
        !msg.contains("hunter2") && msg.contains("config file"),
        "{msg}"
    );
}

#[test]
fn bad_proxy_urls() {
    let f = Fixture::new();
    let msg = f.err_at(
        &format!("[account.w]\n{BASE}proxy = \"http://bob:hunter2@p:3128\"\n"),
        5,
        9,
    );
    assert!(msg.contains("SOCKS5") && !msg.contains("hunter2"), "{msg}");
    let msg = f.err_at(
        &format!("[account.w]\n{BASE}proxy = \"socks5://p:x\"\n"),
        5,
        9,
    );
    assert!(msg.contains("not a port"), "{msg}");
    let e = f.err(
        "",
        &[
            "--host",
            "h",
            "--user",
            "u",
            "--maildir",
            "/m",
            "--proxy",
            "p:1",
        ],
    );
    assert!(e.is_usage() && e.to_string().contains("--proxy"), "{e}");
}

#[test]
fn client_certificate_keys() {
    let f = Fixture::new();
    let text = format!(
        "[defaults]\ntls_client_cert = \"~/me.pem\"\n[account.w]\n{BASE}\
         tls_client_key = \"~/me.key\"\n[account.both]\n{BASE}"
    );
    let loaded = f.load(&text, &[]).unwrap();
    let [w, both] = &loaded.accounts[..] else {
        panic!("{:?}", loaded.accounts)
    };
    assert_eq!(w.tls_client_cert, Some(f.path("home/me.pem")));
    assert_eq!(w.tls_client_key, Some(f.path("home/me.key")));
    assert_eq!(both.tls_client_cert, Some(f.path("home/me.pem")));
    assert_eq!(
        both.tls_client_key, None,
        "the key is in the certificate's file"
    );

    let loaded = f
        .load(
            &text,
            &["--tls-client-cert", "~/other.pem", "--tls-client-key", "/k"],
        )
        .unwrap();
    for a in &loaded.accounts {
        assert_eq!(a.tls_client_cert, Some(f.path("home/other.pem")));
        assert_eq!(a.tls_client_key, Some(PathBuf::from("/k")));
    }

    // A key without its certificate is of no use.
    let msg = f.err_at(
        &format!("[account.w]\n{BASE}tls_client_key = \"/k\"\n"),
        5,
        1,
    );
    assert!(msg.contains("tls_client_cert"), "{msg}");
    let e = f.err(&format!("[account.w]\n{BASE}"), &["--tls-client-key", "/k"]);
    assert!(
        e.is_usage() && e.to_string().contains("--tls-client-cert"),
        "{e}"
    );
}

/// Two accounts on two servers, and what the ad-hoc flags do to them.
const TWO: &str = "[defaults]\nkeep = true\n[account.work]\nhost = \"w\"\nuser = \"alice\"\n\
                   maildir = \"/w\"\n[account.home]\nhost = \"h\"\nuser = \"al\"\nmbox = \"/h\"\n";

#[test]
fn host_without_an_account_name_is_an_account_of_its_own() {
    let f = Fixture::new();
    let loaded = f
        .load(
            TWO,
            &["--host", "pop.other", "--user", "bob", "--maildir", "/o"],
        )
        .unwrap();
    let [a] = &loaded.accounts[..] else {
        panic!(
            "one ad-hoc account, the configured ones untouched: {:?}",
            loaded.accounts
        )
    };
    assert_eq!(a.name, "pop.other");
    assert_eq!(a.mailbox_id(), "bob@pop.other:995");
    assert!(a.policy.keep, "[defaults] still applies");
    // The configured accounts' settings are not borrowed.
    let e = f.err(TWO, &["--host", "pop.other", "--maildir", "/o"]);
    assert!(e.is_usage() && e.to_string().contains("--user"), "{e}");
}

#[test]
fn host_with_account_names_overrides_those_accounts() {
    let f = Fixture::new();
    let loaded = f.load(TWO, &["--host", "pop.moved", "home"]).unwrap();
    let [a] = &loaded.accounts[..] else {
        panic!("{:?}", loaded.accounts)
    };
    assert_eq!((a.name.as_str(), a.host.as_str()), ("home", "pop.moved"));
    assert_eq!(a.destination, Destination::Mbox("/h".into()));
}

#[test]
fn flags_naming_one_mailbox_need_an_account_name_when_there_are_several() {
    let f = Fixture::new();
    for args in [
        &["--user", "bob"][..],
        &["--port", "1110"],
        &["--password-command", "echo pw"],
    ] {
        let e = f.err(TWO, args);
        let msg = e.to_string();
        assert!(e.is_usage(), "{args:?}: {e}");
        assert!(
            msg.contains(args[0]) && msg.contains("work, home") && msg.contains("--host"),
            "{args:?}: names the flag, the accounts and the way out: {msg}"
        );
        // Named, it overrides that account.
        let mut named = args.to_vec();
        named.push("work");
        let loaded = f.load(TWO, &named).unwrap();
        assert_eq!(loaded.accounts.len(), 1);
    }
    // One account: nothing is ambiguous.
    let one = "[account.work]\nhost = \"w\"\nuser = \"alice\"\nmaildir = \"/w\"\n";
    let loaded = f.load(one, &["--user", "bob"]).unwrap();
    assert_eq!(loaded.accounts[0].user, "bob");
    // Settings that are no mailbox's identity apply to every account.
    let loaded = f
        .load(TWO, &["--max-size", "1M", "--maildir", "/all"])
        .unwrap();
    assert!(
        loaded
            .accounts
            .iter()
            .all(|a| a.policy.max_size == Some(1 << 20)
                && a.destination == Destination::Maildir("/all".into()))
    );
}
