//! Small text helpers every stage shares: hex for digests, a constant-time
//! compare for secrets and pins, and server bytes made safe to show.

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
