//! Secrets (passwords, tokens): wiped on drop and never printed.
//!
//! [`crate::password`] finds an account's secret; this module only keeps it
//! out of memory once dropped and out of every log and message, and keeps
//! the process's memory out of core dumps and other users' debuggers.

use std::fmt;

use zeroize::Zeroizing;

/// A password or token. `Debug` and `Display` print `********`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub(crate) fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }

    /// The secret in clear, for the one place that must send it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Keep the process's memory, and so every secret in it, out of core dumps
/// and away from other users' ptrace (Linux: `PR_SET_DUMPABLE` 0). Called
/// before any secret is read. Best effort: where the kernel refuses, the
/// run goes on as it would have without.
pub(crate) fn protect_process() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_is_not_dumpable_once_protected() {
        protect_process();
        assert_eq!(
            rustix::process::dumpable_behavior(),
            Ok(rustix::process::DumpableBehavior::NotDumpable)
        );
    }

    #[test]
    fn secret_is_never_printed() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "******** ********");
        assert_eq!(s.expose(), "hunter2");
    }
}
