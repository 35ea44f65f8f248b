//! Where a mailbox's state files live and the filesystem helpers the state,
//! the journal and the delivery targets share: private directories, file
//! names escaped from untrusted strings, directory fsync, and opening
//! without following links.
//!
//! Symbolic links: every file popfetch writes is opened with `O_NOFOLLOW`
//! (and one it creates anew with `O_EXCL`), so a link planted where it
//! writes, pointing at some other file, makes the open fail instead of
//! making popfetch truncate or fill that file. The one exception is the
//! mbox the user names (see `deliver::mbox`). A state directory that
//! another user owns, or that group or others may write, is refused,
//! since whoever can write there can plant such links or swap files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::StateError;

/// The paths of one mailbox's state files.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub journal: PathBuf,
    pub lock: PathBuf,
}

impl Paths {
    pub fn new(dir: &Path, mailbox_id: &str) -> Self {
        let key = escape_file_name(mailbox_id);
        Paths {
            dir: dir.to_path_buf(),
            state: dir.join(format!("{key}.state")),
            journal: dir.join(format!("{key}.journal")),
            lock: dir.join(format!("{key}.lock")),
        }
    }

    /// Create the state directory (0700) if needed, and check that it is
    /// the user's alone.
    pub fn ensure_dir(&self) -> Result<(), StateError> {
        create_private_dir(&self.dir).map_err(|e| StateError::io("create", &self.dir, e))?;
        check_private_dir(&self.dir)
    }
}

/// Refuse a state directory that is not the user's alone: another user
/// owns it, or group or others may write it.
pub fn check_private_dir(dir: &Path) -> Result<(), StateError> {
    let meta = fs::metadata(dir).map_err(|e| StateError::io("read", dir, e))?;
    let me = rustix::process::geteuid().as_raw();
    let shown = dir.display();
    let why = if meta.uid() != me {
        format!(
            "it belongs to another user (uid {}): take it over (`chown {me} {shown}`) or \
             choose another state_dir",
            meta.uid()
        )
    } else if meta.mode() & 0o022 != 0 {
        format!(
            "group or others can write it (mode {:04o}), so they could plant links or \
             swap files in it: run `chmod 700 {shown}`",
            meta.mode() & 0o7777
        )
    } else {
        return Ok(());
    };
    Err(StateError::UnsafeDir {
        path: dir.to_path_buf(),
        why,
    })
}

/// `O_NOFOLLOW`, for [`OpenOptionsExt::custom_flags`]: the open fails on a
/// symbolic link instead of following it.
pub(crate) const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Whether an open with [`NOFOLLOW`] failed because the path is a link.
pub(crate) fn is_link_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

/// An open's error, saying so plainly when the path is a symbolic link.
pub(crate) fn explain_link(e: io::Error) -> io::Error {
    if is_link_error(&e) {
        io::Error::new(
            e.kind(),
            "it is a symbolic link, which popfetch does not write through (it could point \
             anywhere): remove the link",
        )
    } else {
        e
    }
}

/// Create a directory and its parents; the ones created are 0700 from the
/// start (never world-accessible for an instant), and existing ones are
/// left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            // The umask can only take bits away from 0700; should it take
            // the owner's, the directory would be of no use, so give them
            // back (a no-op for every usual umask).
            let meta = fs::symlink_metadata(dir)?;
            if meta.permissions().mode() & 0o777 != 0o700 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Escape a string into a safe, reversible file name: `[A-Za-z0-9._@+-]`
/// stay, everything else becomes `%XX`.
pub fn escape_file_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._@+-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // "." and ".." alone would be directory names.
    if out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

/// Make `path` appear with `text` already in it, so that nobody ever finds
/// it empty or half written: the text goes into `tmp` beside it (made anew,
/// links refused; a leftover there goes first), which is hard-linked into
/// place and removed. On a filesystem without hard links: an exclusive
/// create, then the write (a failed write removes the file again).
/// `durable`: the text is fsynced before it can appear. `AlreadyExists`
/// when `path` exists.
pub(crate) fn create_filled(path: &Path, tmp: &Path, text: &[u8], durable: bool) -> io::Result<()> {
    let create = |at: &Path| {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(NOFOLLOW)
            .mode(0o600)
            .open(at)
    };
    // The mode is repaired with the filling, not the create: a failure of
    // either removes the file, where an empty one would otherwise stay.
    let fill = |f: &mut File| -> io::Result<()> {
        make_private(f)?;
        f.write_all(text)?;
        if durable {
            f.sync_all()?;
        }
        Ok(())
    };
    let _ = fs::remove_file(tmp);
    let linked = create(tmp).and_then(|mut f| {
        fill(&mut f)?;
        fs::hard_link(tmp, path)
    });
    let _ = fs::remove_file(tmp);
    match linked {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
            let mut f = create(path)?;
            fill(&mut f).inspect_err(|_| {
                let _ = fs::remove_file(path);
            })
        }
        other => other,
    }
}

/// Open `path` with `options` and mode 0600, then give the owner back what
/// the umask took ([`make_private`]): every private file popfetch creates
/// goes through here (or, where a failure after the create must be told
/// apart, opens with 0600 and calls [`make_private`] itself), so none can
/// miss it. What else the open does (links refused, exclusive create) is
/// the caller's, in `options`.
pub(crate) fn open_private(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    let file = options.mode(0o600).open(path)?;
    make_private(&file)?;
    Ok(file)
}

/// Give a file popfetch has just opened or created with mode 0600 the bits
/// the umask took from it. A usual umask (022, 027, 077) takes none of the
/// owner's and then there is nothing to do, which saves an `fchmod` per
/// delivered message; with any other, or none to be read, the mode is set.
pub(crate) fn make_private(file: &File) -> io::Result<()> {
    if umask_spares_owner() {
        return Ok(());
    }
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

/// Whether the process umask leaves the owner's read and write bits alone.
/// Read once, from /proc/self/status: popfetch never changes its umask, and
/// reading it with umask(2) means setting it, under other threads' feet.
fn umask_spares_owner() -> bool {
    static SPARES: OnceLock<bool> = OnceLock::new();
    *SPARES.get_or_init(|| {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| umask_in_status(&status))
            .is_some_and(|umask| umask & 0o600 == 0)
    })
}

fn umask_in_status(status: &str) -> Option<u32> {
    let value = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(value.trim(), 8).ok()
}

/// fsync a directory so that a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The whole content of `path`, or `None` if there is no such file. A
/// link there is an error: popfetch writes these files by name, never
/// through a link, so one there was not made by popfetch.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    let read = || -> io::Result<Vec<u8>> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(NOFOLLOW)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    match read() {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io("read", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_file_appears_whole_once_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let (path, tmp) = (dir.path().join("f"), dir.path().join("f.tmp"));
        // A leftover temporary of a dead run goes first.
        fs::write(&tmp, b"old").unwrap();
        create_filled(&path, &tmp, b"text\n", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"text\n");
        assert!(!tmp.exists());
        let e = create_filled(&path, &tmp, b"other\n", false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"text\n", "not overwritten");
        // A link planted at the temporary name is not written through.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        create_filled(&dir.path().join("g"), &tmp, b"x", false).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn file_names_are_escaped() {
        assert_eq!(
            escape_file_name("alice@pop.example.com:995"),
            "alice@pop.example.com%3A995"
        );
        assert_eq!(escape_file_name("../x/y"), "%2E.%2Fx%2Fy");
        assert_eq!(escape_file_name("a b"), "a%20b");
    }

    #[test]
    fn private_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        create_private_dir(&d).unwrap();
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn the_umask_is_read_from_the_status_file() {
        let status = "Name:\tpopfetch\nUmask:\t0022\nState:\tR (running)\n";
        assert_eq!(umask_in_status(status), Some(0o022));
        assert_eq!(umask_in_status("Umask:\t0277\n"), Some(0o277));
        assert_eq!(umask_in_status("Name:\tpopfetch\n"), None);
        assert_eq!(umask_in_status("Umask:\tx\n"), None);
    }
}
