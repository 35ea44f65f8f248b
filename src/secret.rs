//! Secrets (passwords, tokens): wiped on drop and never printed.
//!
//! [`crate::password`] finds an account's secret; this module only keeps it
//! out of memory once dropped and out of every log and message.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_never_printed() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "******** ********");
        assert_eq!(s.expose(), "hunter2");
    }
}
