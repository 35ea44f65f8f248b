//! APOP (RFC 1939 §7): MD5 over the greeting's timestamp and the shared
//! secret. Weak by today's standards: `auto` takes it only where the server
//! offers neither SCRAM nor CRAM-MD5 (see [`super::choose`]).

use md5::{Digest, Md5};

use crate::secret::Secret;

/// The APOP digest: lowercase hex MD5 of `timestamp` (brackets included)
/// followed by the password. The timestamp must come from
/// [`crate::protocol::response::apop_timestamp`], which validates it.
pub fn digest(timestamp: &str, secret: &Secret) -> String {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(secret.expose().as_bytes());
    crate::text::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_vector() {
        let secret = Secret::new("tanstaaf".into());
        assert_eq!(
            digest("<1896.697170952@dbc.mtview.ca.us>", &secret),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn digest_depends_on_both_inputs() {
        let a = digest("<1.2@host>", &Secret::new("pw".into()));
        let b = digest("<1.3@host>", &Secret::new("pw".into()));
        let c = digest("<1.2@host>", &Secret::new("pW".into()));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn md5_of_empty_input() {
        // RFC 1321 test suite: MD5("") = d41d8cd98f00b204e9800998ecf8427e.
        assert_eq!(
            digest("", &Secret::new(String::new())),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }
}
