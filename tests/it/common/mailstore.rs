//! What the real servers of the tests (Dovecot, Courier) share: mailboxes
//! are Maildirs below the server's temporary directory, filled from the
//! corpus and counted directly, and popfetch reaches them on 127.0.0.1
//! with the test's CA.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::dovecot::Tls;
use super::env::AccountToml;

/// Who must own the mail (the server reads it as that user), if anyone.
pub type Owner = Option<(u32, u32)>;

fn give(path: &Path, owner: Owner) {
    if let Some((uid, gid)) = owner {
        chown(path, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// Creates `home` and the Maildir in it (0700), where missing.
pub fn make_maildir(home: &Path, owner: Owner) {
    for d in ["", "Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"] {
        let d = home.join(d);
        if !d.exists() {
            fs::create_dir(&d).unwrap();
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
            give(&d, owner);
        }
    }
}

/// Puts messages into the Maildir's `new/`, in order: names with a
/// fixed-width time part from `counter`, so that name order is load order.
/// Messages use LF line endings, as Maildirs do; servers send CRLF.
pub fn load(md: &Path, messages: &[Vec<u8>], counter: &AtomicU64, owner: Owner) {
    assert!(md.join("new").is_dir(), "no Maildir at {}", md.display());
    for msg in messages {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.M{n}P{}.popfetch-test",
            1_700_000_000 + n,
            std::process::id()
        );
        let tmp = md.join("tmp").join(&name);
        fs::write(&tmp, msg).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).unwrap();
        give(&tmp, owner);
        fs::rename(&tmp, md.join("new").join(&name)).unwrap();
    }
}

/// The message files in the Maildir (`new/` and `cur/`), once two
/// listings in a row agree: a server may still be moving files from `new/`
/// to `cur/` (or renaming them for a flag) after it answered QUIT, and a
/// listing taken during a move counts a file twice or not at all.
pub fn message_files(md: &Path) -> Vec<PathBuf> {
    let mut last = list_messages(md);
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = list_messages(md);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the Maildir {} never stopped changing", md.display())
}

fn list_messages(md: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|sub| fs::read_dir(md.join(sub)).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.path().is_file())
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// An `[account.NAME]` block for a server on 127.0.0.1 with these plain
/// POP3 and implicit-TLS ports (the one that fits `tls` is used), trusting
/// `ca`, with `received_header = false` so that delivered bytes can be
/// compared exactly.
pub fn account(
    name: &str,
    tls: Tls,
    (pop3, pop3s): (u16, u16),
    (user, password): (&str, &str),
    ca: &Path,
    maildir: &Path,
) -> AccountToml {
    let port = match tls {
        Tls::Implicit => pop3s,
        Tls::Starttls | Tls::None => pop3,
    };
    AccountToml::new(name)
        .str("host", "127.0.0.1")
        .raw("port", port.to_string())
        .str("tls", tls.as_str())
        .str("user", user)
        .str("password", password)
        .str("tls_ca_file", &ca.display().to_string())
        .str("maildir", &maildir.display().to_string())
        .raw("received_header", "false")
}
