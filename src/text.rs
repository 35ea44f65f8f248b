//! Small text helpers every stage shares: hex for digests, a constant-time
//! compare for secrets and pins, and server bytes made safe to show
//! (control bytes replaced, our own secrets hidden).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// Uppercase hex of `bytes` with a colon between bytes: `3A:9F:00`, the
/// way certificate fingerprints are written.
pub fn hex_colons(bytes: &[u8]) -> String {
    let upper = hex(bytes).to_ascii_uppercase();
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, c) in upper.chars().enumerate() {
        if i > 0 && i % 2 == 0 {
            s.push(':');
        }
        s.push(c);
    }
    s
}

/// Equality whose time does not depend on where the inputs differ, so that
/// a forged signature or pin learns nothing from timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Server bytes made safe for a terminal or a log: lossy UTF-8, tabs become
/// spaces, every other control character (C0, DEL, C1) becomes U+FFFD so
/// that a server cannot inject escape sequences into the user's terminal.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// [`printable`], cut to `max` characters with a trailing ellipsis.
pub fn printable_capped(bytes: &[u8], max: usize) -> String {
    let mut s = printable(bytes);
    if let Some((idx, _)) = s.char_indices().nth(max) {
        s.truncate(idx);
        s.push('…');
    }
    s
}

/// What a hidden secret shows as.
pub const REDACTED: &str = "********";

/// Base64 as servers write it: either alphabet, padding optional.
const ANY_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Our own secrets, as a server might repeat them back (`-ERR unknown
/// command: PASS hunter2`), and the one way to hide them in server text.
/// The session registers each before it is sent: the password or token,
/// every SASL payload, the APOP digest.
#[derive(Default)]
pub struct Redactor {
    /// Longest first, so that a payload wins over a secret inside it.
    secrets: Vec<Zeroizing<String>>,
}

impl Redactor {
    /// Hide `secret` from now on. An empty one hides nothing.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.secrets.iter().any(|s| s.as_str() == secret) {
            return;
        }
        self.secrets.push(Zeroizing::new(secret.to_string()));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` as lossy UTF-8 with every occurrence of a secret replaced by
    /// [`REDACTED`], and every base64-looking word that decodes to bytes
    /// holding a secret replaced too. Control bytes are left for
    /// [`printable`]: this only hides.
    pub fn redact(&self, text: &[u8]) -> String {
        // Lossy decoding keeps every valid character, so a secret (valid
        // UTF-8) in the text survives it intact and is found below.
        let text = String::from_utf8_lossy(text);
        if self.secrets.is_empty() {
            return text.into_owned();
        }
        let plain = self.hide_literal(&text);
        self.hide_base64(&plain)
    }

    /// Whether `text` holds a secret as it is.
    fn holds_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// Replace every occurrence of every secret, in one pass over `text`
    /// so that replacements never interfere.
    fn hide_literal(&self, text: &str) -> String {
        let spans = self
            .secrets
            .iter()
            .flat_map(|s| {
                text.match_indices(s.as_str())
                    .map(|(i, m)| (i, i + m.len()))
            })
            .collect();
        replace_spans(text, spans)
    }

    /// Replace each run of base64 characters that decodes (at any of the
    /// four alignments, in either alphabet) to bytes holding a secret.
    fn hide_base64(&self, text: &str) -> String {
        let is_b64 =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_');
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && is_b64(bytes[i]) {
                i += 1;
            }
            // Runs are ASCII, so these are character boundaries.
            if i > start && self.decodes_to_secret(&text[start..i]) {
                spans.push((start, i));
            }
            i += 1;
        }
        replace_spans(text, spans)
    }

    fn decodes_to_secret(&self, run: &str) -> bool {
        let standard: String = run
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        (0..4).any(|skip| {
            let Some(part) = standard.get(skip..) else {
                return false;
            };
            // A length of 1 mod 4 cannot be base64: drop the odd one.
            let usable = if part.len() % 4 == 1 {
                part.len() - 1
            } else {
                part.len()
            };
            ANY_B64.decode(&part[..usable]).is_ok_and(|decoded| {
                let decoded = Zeroizing::new(decoded);
                self.holds_secret(&String::from_utf8_lossy(&decoded))
            })
        })
    }
}

/// `text` with each of the byte ranges `spans` (on character boundaries,
/// in any order, overlapping or not) replaced by [`REDACTED`]; ranges that
/// overlap or touch become one.
fn replace_spans(text: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if end <= at {
            continue;
        }
        if start >= at {
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(hex_colons(&[0x3a, 0x9f, 0x00]), "3A:9F:00");
        assert_eq!(hex_colons(&[]), "");
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn control_bytes_never_survive() {
        assert_eq!(printable(b"a\tb\x1b[31mc\x00"), "a b\u{FFFD}[31mc\u{FFFD}");
        assert_eq!(printable_capped(b"abcdef", 3), "abc…");
        assert_eq!(printable_capped(b"abc", 3), "abc");
    }
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn redactor(secrets: &[&str]) -> Redactor {
        let mut r = Redactor::default();
        for s in secrets {
            r.add(s);
        }
        r
    }

    #[test]
    fn nothing_to_hide_is_the_lossy_text() {
        let r = Redactor::default();
        assert_eq!(
            r.redact(b"-ERR PASS hunter2 \xff"),
            "-ERR PASS hunter2 \u{FFFD}"
        );
        let r = redactor(&[""]);
        assert_eq!(r.redact(b"abc"), "abc");
    }

    #[test]
    fn literal_secrets_are_hidden_everywhere() {
        let r = redactor(&["hunter2"]);
        assert_eq!(
            r.redact(b"-ERR unknown command: PASS hunter2 (hunter2hunter2)"),
            "-ERR unknown command: PASS ******** (****************)"
        );
        // Next to bytes that are not UTF-8.
        assert_eq!(r.redact(b"\xc3hunter2\xe2\x82"), "\u{FFFD}********\u{FFFD}");
        // A payload that holds the password is hidden whole.
        let payload = b64("\0alice\0hunter2");
        let r = redactor(&["hunter2", &payload]);
        let shown = r.redact(format!("-ERR AUTH PLAIN {payload}").as_bytes());
        assert_eq!(shown, "-ERR AUTH PLAIN ********");
        // Secrets that overlap, or that look like the stars.
        let r = redactor(&["abcd", "cdef", "*"]);
        assert_eq!(r.redact(b"xabcdefx *"), "x********x ********");
    }

    #[test]
    fn base64_that_decodes_to_a_secret_is_hidden() {
        let r = redactor(&["Tr0ub4dor&3"]);
        for encoded in [
            b64("Tr0ub4dor&3"),
            b64("\0alice\0Tr0ub4dor&3"),
            b64("user=alice\x01auth=Bearer Tr0ub4dor&3\x01\x01"),
            b64("{\"token\":\"Tr0ub4dor&3\"}"),
            b64("Tr0ub4dor&3").trim_end_matches('=').to_string(),
            // Cut at another alignment, or in the URL-safe alphabet.
            format!("Q{}", b64("xyTr0ub4dor&3")),
            b64("??>Tr0ub4dor&3").replace('+', "-").replace('/', "_"),
        ] {
            let line = format!("-ERR you sent {encoded}, bye");
            assert_eq!(
                r.redact(line.as_bytes()),
                "-ERR you sent ********, bye",
                "{encoded}"
            );
        }
        // Ordinary words and base64 of other things stay.
        let line = format!("-ERR [AUTH] Authentication failed {}", b64("other"));
        assert_eq!(r.redact(line.as_bytes()), line);
    }
}
