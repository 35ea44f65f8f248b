//! The README's MDA examples (procmail, maildrop, dovecot-lda) run as
//! written: each `mda = [...]` line and the files it names are taken from
//! README.md (the blocks marked `mda-example=NAME` and `mda-file=PATH`),
//! with `/home/alice` replaced by the test's home, and fetch the test
//! Dovecot's mail into `~/Mail/inbox` byte for byte.
//!
//! dovecot-lda will not run as root without a `-d` user that only a running
//! Dovecot can look up; the README says to run it as yourself. When the
//! tests run as root, that one example runs as `nobody` (through
//! `setpriv`, which only changes the user), with the Maildir `nobody`'s.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::dovecot::{Options, Tls, which};
use crate::common::env::{
    TestEnv, assert_same_messages, config_of, nobody, read_maildir, unprivileged,
};
use crate::common::{PASSWORD, USER, dovecot_with_mail, in_ci, skip_or_panic_with};

/// The home directory the README's examples are written for.
const README_HOME: &str = "/home/alice";

/// A fenced block of README.md: its info string and its text.
struct Block {
    info: String,
    text: String,
}

fn readme_blocks() -> Vec<Block> {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for line in readme.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_owned(),
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The `mda = ...` value of the example `name`, and the files (path, text)
/// the README gives for it.
fn example(name: &str) -> (String, Vec<(String, String)>) {
    let blocks = readme_blocks();
    let mda = blocks
        .iter()
        .find(|b| {
            b.info
                .split_whitespace()
                .any(|w| w == format!("mda-example={name}"))
        })
        .unwrap_or_else(|| panic!("README.md has no mda-example={name} block"));
    let value = mda
        .text
        .trim()
        .strip_prefix("mda = ")
        .unwrap_or_else(|| panic!("the {name} example is not an mda line: {}", mda.text))
        .to_owned();
    let files: Vec<(String, String)> = blocks
        .iter()
        .filter_map(|b| {
            let path = b
                .info
                .split_whitespace()
                .find_map(|w| w.strip_prefix("mda-file="))?;
            value
                .contains(path)
                .then(|| (path.to_owned(), b.text.clone()))
        })
        .collect();
    assert!(
        !files.is_empty(),
        "the {name} example names no file of the README"
    );
    (value, files)
}

/// Runs the README's `name` example against Dovecot: every message lands
/// in `~/Mail/inbox`.
fn run_example(name: &str, program: &str, seed: u64, as_nobody: bool) {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), seed, 12) else {
        return;
    };
    if !Path::new(program).is_file() {
        skip_or_panic_with(
            in_ci(),
            &format!("{program} is not installed"),
            "Install it: apt-get install procmail maildrop dovecot-core",
        );
        return;
    }
    let env = TestEnv::new();
    let home = env.home();
    let here = |t: &str| t.replace(README_HOME, &home.display().to_string());
    let (mut mda, files) = example(name);
    mda = here(&mda);
    for (path, text) in &files {
        let path = PathBuf::from(here(path));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, here(text)).unwrap();
        // maildrop wants its filter private; the others are read by the
        // agent, which may run as another user here.
        let mode = if name == "maildrop" { 0o600 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    // As the README says: the Maildir's parent (procmail's MAILDIR), and
    // for maildrop the Maildir itself.
    let inbox = home.join("Mail/inbox");
    fs::create_dir_all(home.join("Mail")).unwrap();
    if name == "maildrop" {
        for d in ["cur", "new", "tmp"] {
            fs::create_dir_all(inbox.join(d)).unwrap();
        }
    }
    if as_nobody {
        let setpriv = which("setpriv").expect("setpriv (util-linux)");
        let (uid, gid) = nobody();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
        let mail = home.join("Mail");
        rustix::fs::chown(
            &mail,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .unwrap();
        let rest = mda.strip_prefix('[').expect("the list form");
        mda = format!(
            "[\"{}\", \"--reuid={uid}\", \"--regid={gid}\", \"--clear-groups\", {rest}",
            setpriv.display()
        );
    }
    let acct = dc
        .account(name, USER, PASSWORD, Tls::Implicit, Path::new("unused"))
        .remove("maildir")
        .raw("mda", mda);
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_same_messages(&read_maildir(&inbox), &msgs);
    assert_eq!(dc.remaining(USER), 0, "{out}");
}

#[test]
fn the_readme_procmail_example_delivers_every_message() {
    run_example("procmail", "/usr/bin/procmail", 3400, false);
}

#[test]
fn the_readme_maildrop_example_delivers_every_message() {
    run_example("maildrop", "/usr/bin/maildrop", 3401, false);
}

#[test]
fn the_readme_dovecot_lda_example_delivers_every_message() {
    // As root, dovecot-lda insists on a `-d` user; the README has it run
    // by an ordinary user, so under root it runs as `nobody`.
    let root = rustix::process::geteuid().is_root() && !unprivileged();
    run_example("dovecot-lda", "/usr/lib/dovecot/dovecot-lda", 3402, root);
}
