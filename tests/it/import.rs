//! `popfetch import`: sample files in each peer's real syntax (with the
//! awkward cases) become a config that `popfetch accounts -c` accepts; a
//! broken file is a configuration error that names the file and line.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::env::{Output, TestEnv};

const EX_USAGE: i32 = 64;
const EX_CONFIG: i32 = 78;

/// Writes `text` at `path` with mode 0600 (the peers insist on it when a
/// file holds a password).
fn write_private(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs `popfetch import ...`, saves what it prints as `out`, and checks
/// that `popfetch accounts -c out` accepts it; returns (import, accounts).
fn import_and_check(env: &TestEnv, args: &[&str], out: &Path) -> (Output, Output) {
    let mut argv = vec!["import"];
    argv.extend_from_slice(args);
    let imported = env.run(&argv);
    imported.assert_success();
    write_private(out, &imported.stdout);
    let accounts = env.run(&["accounts", "-c", out.to_str().unwrap()]);
    accounts.assert_success();
    (imported, accounts)
}

/// The account names `popfetch accounts` listed.
fn names(accounts: &Output) -> Vec<String> {
    accounts
        .stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(String::from)
        .collect()
}

const FETCHMAILRC: &str = r#"# fetchmail, with most of what its grammar allows
set daemon 600
set logfile "/var/log/fetchmail.log"   # a comment at the end of a line
set no bouncemail

defaults proto pop3
    user "jsmith" keep

poll pop.provider.net with proto pop3:
     user "jsmith", with password "secret\x22quote", is "jsmith" here;
     fetchall limit 10485760 fetchlimit 500

poll label via mail.provider.net service 995 auth password
     user "jjsmith" there has password "4u but u cannot krak this"
     is jws here and wants mda "/usr/bin/procmail -f %F -d %T" ssl
     sslcertfile /etc/ssl/certs/ca-certificates.crt sslfingerprint "D1:2A:33:44"
     user 'keep' there with pass "a b\
c" is bob here nokeep smtphost mail.example.com
     user carol password 'c' is carol here smtphost localhost/25 smtpaddress example.org

poll imap.example.com proto imap user x password y
skip old.example.com user x password y
"#;

#[test]
fn fetchmailrc_sample_imports_and_loads() {
    let env = TestEnv::new();
    let rc = env.path("fetchmailrc");
    write_private(&rc, FETCHMAILRC);
    let out = env.path("imported.toml");
    let (imported, accounts) = import_and_check(&env, &["fetchmailrc", rc.to_str().unwrap()], &out);
    assert_eq!(
        names(&accounts),
        [
            "pop.provider.net",
            "label-jjsmith",
            "label-keep",
            "label-carol"
        ],
        "{accounts}"
    );
    let text = &imported.stdout;
    for expected in [
        r#"password = 'secret"quote'"#,
        r#"password = "a bc""#,
        r#"mda = "/usr/bin/procmail -f %F -d 'jws'""#,
        r#"mda = ["/usr/sbin/sendmail", "-i", "-f", "%F", "--", "carol@example.org"]"#,
        "max_size = 10485760",
        "max_messages = 500",
        "fetch_all = true",
        r#"auth = "user""#,
        "MD5",
        "set daemon 600",
        "smtphost mail.example.com",
        "CHECK the destination",
        "# [account.\"imap.example.com\"]",
        "# [account.\"old.example.com\"]",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    assert!(
        imported.stderr.contains("imported 4 accounts"),
        "{imported}"
    );
}

const MPOPRC: &str = r#"# mpop, with defaults, inheritance and quoting
defaults
tls on
tls_trust_file system
keep on

account freemail
host pop.freemail.example
user joe.smith
passwordeval gpg --no-tty -q -d ~/.mpop-password.gpg
delivery maildir ~/Mail/incoming

account company
host mail.company.example
tls_starttls off
user company0815
password "with spaces and a # sign"
auth cram-md5
delivery mda /usr/bin/procmail -f '%F' -d $USER
killsize 10m
keep 30d
filter /usr/local/bin/spamcheck

defaults
only_new off

account company2 : company
user company4711
   # an indented comment
proxy_host 127.0.0.1

account plain : freemail, company
tls off
"#;

#[test]
fn mpoprc_sample_imports_and_loads() {
    let env = TestEnv::new();
    let rc = env.path("mpoprc");
    write_private(&rc, MPOPRC);
    let out = env.path("imported.toml");
    let (imported, accounts) = import_and_check(&env, &["mpoprc", rc.to_str().unwrap()], &out);
    assert_eq!(
        names(&accounts),
        ["freemail", "company", "company2", "plain"],
        "{accounts}"
    );
    let list = &accounts.stdout;
    assert!(
        list.contains("company0815@mail.company.example:995\ttls\tkeep"),
        "{list}"
    );
    assert!(
        list.contains("company@mail.company.example:110\tplaintext")
            || list.contains("company0815@mail.company.example:110\tplaintext"),
        "the last parent wins, then tls off: {list}"
    );
    let text = &imported.stdout;
    for expected in [
        r#"password = "with spaces and a # sign""#,
        r#"mda = "/usr/bin/procmail -f %F -d $USER""#,
        "delete_after_days = 30",
        "max_size = 10485760",
        "fetch_all = true",
        "filter /usr/local/bin/spamcheck",
        "proxy_host 127.0.0.1",
        "allow_plaintext = true",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
}

#[test]
fn getmail_directory_imports_one_account_per_rc_file() {
    let env = TestEnv::new();
    let dir = env.path(".getmail");
    write_private(
        &dir.join("getmailrc-work"),
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = pop.example.com\n\
         username = alice@example.com\npassword_command = (\"/usr/bin/pass\", 'show',\n\
         \x20   \"mail/work\", )\n\n\
         [destination]\ntype = MDA_external\npath = /usr/bin/procmail\n\
         arguments = (\"-f\", \"%(sender)\", r'-m', \"~/.procmailrc\")\n\n\
         [options]\ndelete = false\nread_all = false\ndelete_after = 14\n\
         message_log = ~/.getmail/log\n",
    );
    write_private(
        &dir.join("getmailrc-home"),
        "[retriever]\ntype = SimplePOP3Retriever\nserver = pop.isp.example.net\n\
         username = bob\npassword = hunter2 ; not a comment\n\
         [destination]\ntype = Mboxrd\npath = ~/inbox\n",
    );
    // getmail's own files in the same directory are not rc files.
    fs::write(dir.join("oldmail-pop.example.com-995-alice"), "x\x001\n").unwrap();
    fs::write(dir.join("getmailrc-home~"), "editor backup").unwrap();
    let out = env.path("imported.toml");
    // No FILE: getmail's directory, as getmail picks its rc files.
    let (imported, accounts) = import_and_check(&env, &["getmailrc"], &out);
    assert_eq!(names(&accounts), ["home", "work"], "{accounts}");
    let text = &imported.stdout;
    for expected in [
        r#"password_command = ["/usr/bin/pass", "show", "mail/work"]"#,
        r#"mda = ["/usr/bin/procmail", "-f", "%F", "-m", "~/.procmailrc"]"#,
        r#"password = "hunter2 ; not a comment""#,
        "delete_after_days = 14",
        "message_log",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
}

#[test]
fn broken_peer_files_are_configuration_errors_naming_file_and_line() {
    let env = TestEnv::new();
    let rc = env.path("rc");
    for (kind, text, line) in [
        ("fetchmailrc", "poll h\n  user u\n  keep\n  proto pop3\n", 4),
        ("mpoprc", "account a\nhost h\nfrobnicate yes\n", 3),
        (
            "getmailrc",
            "[retriever]\ntype = SimplePOP3Retriever\nnot a setting\n",
            3,
        ),
    ] {
        write_private(&rc, text);
        let out = env.run(&["import", kind, rc.to_str().unwrap()]);
        out.assert_code(EX_CONFIG);
        assert!(
            out.stderr.contains(&format!("{}:{line}:", rc.display())),
            "{kind}: the error names file and line\n{out}"
        );
        assert!(out.stdout.is_empty(), "nothing printed on error\n{out}");
    }
    let missing = env.run(&["import", "mpoprc", env.path("nope").to_str().unwrap()]);
    missing.assert_code(EX_CONFIG);
    assert!(missing.stderr.contains("nope"), "{missing}");
    let flags = env.run(&["import", "mpoprc", rc.to_str().unwrap(), "--keep"]);
    flags.assert_code(EX_USAGE);
}
