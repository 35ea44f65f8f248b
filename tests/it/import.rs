//! `popfetch import`: sample files in each peer's real syntax (with the
//! awkward cases) become a config that `popfetch accounts -c` accepts; a
//! broken file is a configuration error that names the file and line; and
//! with `--state` the messages the real mpop, fetchmail and getmail fetched
//! from a real Dovecot are recorded, so the first popfetch run with `keep`
//! downloads nothing they already fetched, and the next one exactly the new
//! mail.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::dovecot::Dovecot;
use crate::common::env::{Output, TestEnv, give_to_nobody, nobody, read_maildir};
use crate::common::{PASSWORD, USER, corpus, dovecot_with_mail, hold_lock, in_ci, skip_or_panic};
use popfetch::{Paths, UidState};

const EX_USAGE: i32 = 64;
const EX_CONFIG: i32 = 78;
const EX_TEMPFAIL: i32 = 75;

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
        r#"smtp = "localhost:25""#,
        r#"recipient = "carol@example.org""#,
        r#"smtp = "mail.example.com:25""#,
        r#"recipient = "bob@mail.example.com""#,
        r#"smtp = "127.0.0.1:25""#,
        r#"recipient = "jsmith@localhost""#,
        "max_size = 10485760",
        "max_messages = 500",
        "fetch_all = true",
        r#"auth = "user""#,
        "MD5",
        "set daemon 600",
        "popfetch daemon --interval 600s",
        r#"log_file = "/var/log/fetchmail.log""#,
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

#[test]
fn state_import_merges_a_getmail_oldmail_file_under_state_dir() {
    let env = TestEnv::new();
    let dir = env.path("gm");
    write_private(
        &dir.join("getmailrc"),
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\nport = 9995\n\
         username = alice\npassword = pw\n[destination]\ntype = Maildir\npath = ~/Maildir/\n\
         [options]\nread_all = false\n",
    );
    // The oldmail format getmail documents and writes: UID NUL TIMESTAMP.
    fs::write(
        dir.join("oldmail-127.0.0.1-9995-alice"),
        "000000014f3a2b1c\x001700000000\nweird uid%\x001700000100\nbroken line\n",
    )
    .unwrap();
    let state_dir = env.path("state");
    let paths = Paths::new(&state_dir, "alice@127.0.0.1:9995");
    fs::create_dir_all(&state_dir).unwrap();
    // A UID popfetch already knows stays, and keeps its time.
    fs::write(&paths.state, "already 2020-01-01T00:00:00Z delivered\n").unwrap();

    let out = env.run(&[
        "import",
        "getmailrc",
        dir.to_str().unwrap(),
        "--state",
        "--state-dir",
        state_dir.to_str().unwrap(),
    ]);
    out.assert_success();
    assert!(
        out.stderr.contains("2 messages getmail already fetched"),
        "{out}"
    );
    let state = UidState::load(&paths.state).unwrap();
    assert_eq!(state.len(), 3);
    assert!(state.is_delivered("already"));
    assert!(state.is_delivered("000000014f3a2b1c"));
    // Stored as the listing encodes it.
    assert!(state.is_delivered("weird%20uid%25"));
    assert_eq!(
        state.get("000000014f3a2b1c").unwrap().first_seen,
        1_700_000_000,
        "getmail's first-seen time is kept"
    );

    // Held lock: nothing is written, exit 75.
    let _lock = hold_lock(&paths.lock);
    let locked = env.run(&[
        "import",
        "getmailrc",
        dir.to_str().unwrap(),
        "--state",
        "--state-dir",
        state_dir.to_str().unwrap(),
    ]);
    locked.assert_code(EX_TEMPFAIL);
}

// --- the real peers against a real Dovecot ------------------------------------

/// Whether the peer's program is installed; if not, the loud skip (a
/// failure in CI).
fn have(program: &str, package: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join(program).is_file()) {
        return true;
    }
    skip_or_panic(
        in_ci(),
        &format!("{program} is not installed (apt-get install {package})"),
    );
    false
}

/// A peer's command in the same scrubbed environment popfetch runs in.
fn peer(env: &TestEnv, argv: &[&str]) -> Command {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.config_home())
        .env("XDG_STATE_HOME", env.state_home())
        .env("LANG", "C.UTF-8")
        .current_dir(env.home())
        .stdin(Stdio::null());
    cmd
}

fn run_peer(mut cmd: Command) -> std::process::Output {
    let out = cmd.output().expect("run the peer");
    eprintln!(
        "{cmd:?} -> {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A Dovecot holding six messages, a test environment and an empty
/// Maildir for the peer to fetch into.
struct Setup {
    dc: Dovecot,
    first: Vec<Vec<u8>>,
    env: TestEnv,
    maildir: PathBuf,
}

impl Setup {
    /// After the peer fetched `first` with keep: import its config (`kind`)
    /// and state into the default config location, check a popfetch run
    /// fetches nothing, then that after three new messages (from `seed`)
    /// arrive the next run fetches exactly those.
    fn popfetch_takes_over(&self, kind: &str, seed: u64) {
        let (env, dc, maildir, first) = (&self.env, &self.dc, &self.maildir, &self.first);
        let more = &corpus::corpus(seed, 3);
        let imported = env.run(&["import", kind, "--state"]);
        imported.assert_success();
        assert!(
            imported
                .stderr
                .contains(&format!("{} messages", first.len())),
            "every message the peer fetched is recorded\n{imported}"
        );
        let cfg = env.write_config(&imported.stdout);
        env.run(&["accounts", "-c", cfg.to_str().unwrap()])
            .assert_success();
        let before = read_maildir(maildir);
        assert_eq!(before.len(), first.len(), "the peer delivered everything");

        let run = env.run(&[]);
        run.assert_success();
        assert!(run.stderr.contains("no new mail"), "{run}");
        assert_eq!(
            read_maildir(maildir),
            before,
            "popfetch downloaded nothing the peer had fetched"
        );
        assert_eq!(dc.remaining(USER), first.len(), "keep deleted nothing");

        dc.load_mailbox(USER, more);
        let run = env.run(&[]);
        run.assert_success();
        assert!(run.stderr.contains(&format!("{} new", more.len())), "{run}");
        let after = read_maildir(maildir);
        let mut added: Vec<Vec<u8>> = after.into_iter().filter(|m| !before.contains(m)).collect();
        added.sort();
        let mut want = more.to_vec();
        want.sort();
        assert_eq!(added.len(), more.len(), "exactly the new messages arrived");
        assert_eq!(added, want, "byte for byte");
    }
}

/// The setup for a test of `program`; `None` when it or Dovecot is
/// missing (after the loud skip, or a failure in CI).
fn setup(program: &str, package: &str, seed: u64) -> Option<Setup> {
    if !have(program, package) {
        return None;
    }
    let (dc, first) = dovecot_with_mail(Default::default(), seed, 6)?;
    let env = TestEnv::new();
    let maildir = env.path("Mail/inbox");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    Some(Setup {
        dc,
        first,
        env,
        maildir,
    })
}

#[test]
fn mpop_state_is_imported_so_the_first_keep_run_fetches_only_new_mail() {
    let Some(s) = setup("mpop", "mpop", 711) else {
        return;
    };
    let (dc, env, maildir) = (&s.dc, &s.env, &s.maildir);
    // ~/.mpoprc, so that `popfetch import mpoprc` finds it by default; the
    // UIDLS file goes where mpop puts it by default too.
    write_private(
        &env.path(".mpoprc"),
        &format!(
            "defaults\ntls on\ntls_starttls off\ntls_trust_file {ca}\nkeep on\n\
             received_header off\n\naccount work\nhost 127.0.0.1\nport {port}\nuser {USER}\n\
             password {PASSWORD}\ndelivery maildir {md}\n",
            ca = dc.ca_pem_path().display(),
            port = dc.pop3s_port(),
            md = maildir.display()
        ),
    );
    let out = run_peer(peer(env, &["mpop", "-a"]));
    assert!(out.status.success(), "mpop fetched");
    let uidls = fs::read_to_string(env.path(&format!(".mpop_uidls/{USER}_at_127.0.0.1")))
        .expect("mpop wrote its UIDLS file");
    eprintln!("--- mpop's UIDLS file\n{uidls}");
    s.popfetch_takes_over("mpoprc", 712);
}

#[test]
fn fetchmail_state_is_imported_so_the_first_keep_run_fetches_only_new_mail() {
    let Some(s) = setup("fetchmail", "fetchmail", 721) else {
        return;
    };
    let (dc, env, maildir) = (&s.dc, &s.env, &s.maildir);
    // A minimal MDA both fetchmail and popfetch run: one message into the
    // Maildir given as $1.
    let mda = env.path("bin/to-maildir");
    fs::create_dir_all(env.path("bin")).unwrap();
    crate::common::write_program(
        &mda,
        "#!/bin/sh\nset -eu\nname=\"$(date +%s.%N).$$\"\n\
         cat > \"$1/tmp/$name\"\nmv \"$1/tmp/$name\" \"$1/new/$name\"\n",
        0o700,
    );
    // `set invisible`: no Received: header, so messages can be compared.
    write_private(
        &env.path(".fetchmailrc"),
        &format!(
            "set invisible\nset no bouncemail\n\
             poll 127.0.0.1 protocol pop3 port {port}\n\
             \x20 user \"{USER}\" there with password \"{PASSWORD}\"\n\
             \x20 ssl sslcertfile \"{ca}\" sslcertck sslcommonname localhost keep\n\
             \x20 mda \"{mda} {md}\"\n",
            port = dc.pop3s_port(),
            ca = dc.ca_pem_path().display(),
            mda = mda.display(),
            md = maildir.display()
        ),
    );
    let out = run_peer(peer(env, &["fetchmail", "--nosyslog", "--nodetach"]));
    assert_eq!(out.status.code(), Some(0), "fetchmail fetched mail");
    let ids = fs::read_to_string(env.path(".fetchids")).expect("fetchmail wrote ~/.fetchids");
    eprintln!("--- ~/.fetchids\n{ids}");
    assert_eq!(ids.lines().count(), s.first.len(), "{ids}");
    s.popfetch_takes_over("fetchmailrc", 722);
}

#[test]
fn getmail_state_is_imported_so_the_first_keep_run_fetches_only_new_mail() {
    let Some(s) = setup("getmail", "getmail6", 731) else {
        return;
    };
    let (dc, env, maildir) = (&s.dc, &s.env, &s.maildir);
    let gdir = env.path(".getmail");
    write_private(
        &gdir.join("getmailrc"),
        &format!(
            "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\nport = {port}\n\
             username = {USER}\npassword = {PASSWORD}\nca_certs = {ca}\n\n\
             [destination]\ntype = Maildir\npath = {md}/\n\n\
             [options]\nread_all = false\ndelete = false\nreceived = false\n\
             delivered_to = false\nverbose = 0\n",
            port = dc.pop3s_port(),
            ca = dc.ca_pem_path().display(),
            md = maildir.display()
        ),
    );
    let mut argv: Vec<String> = Vec::new();
    if rustix::process::geteuid().is_root() {
        // getmail will not deliver as root: run it as nobody, as a user
        // would run it as themselves.
        make_reachable(&env.home());
        give_to_nobody(&gdir);
        give_to_nobody(&env.path("Mail"));
        let (uid, gid) = nobody();
        argv.extend([
            "setpriv".into(),
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
        ]);
    }
    argv.extend([
        "getmail".to_string(),
        "--getmaildir".into(),
        gdir.display().to_string(),
        "--rcfile".into(),
        "getmailrc".into(),
    ]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = run_peer(peer(env, &argv));
    assert!(out.status.success(), "getmail fetched");
    let oldmail = gdir.join(format!("oldmail-127.0.0.1-{}-{USER}", dc.pop3s_port()));
    let text = fs::read(&oldmail).expect("getmail wrote its oldmail file");
    eprintln!(
        "--- {}\n{}",
        oldmail.display(),
        String::from_utf8_lossy(&text).replace('\0', "\\0")
    );
    s.popfetch_takes_over("getmailrc", 732);
}

/// Lets another user reach `dir` (a fresh temp dir is 0700).
fn make_reachable(dir: &Path) {
    let mut d: Option<PathBuf> = Some(dir.to_path_buf());
    while let Some(p) = d {
        if p == Path::new("/") || p == Path::new("/tmp") {
            break;
        }
        let mode = fs::metadata(&p).unwrap().permissions().mode();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode | 0o711)).unwrap();
        d = p.parent().map(Path::to_path_buf);
    }
}
