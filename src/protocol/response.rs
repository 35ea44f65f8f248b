//! Parsing of single-line server replies: status lines (`+OK` / `-ERR`,
//! with RFC 2449 / RFC 3206 response codes), SASL continuation lines, and
//! the one-line forms of STAT, LIST, UIDL, plus the APOP timestamp of the
//! greeting.
//!
//! Every function here is total over arbitrary bytes: a hostile server gets
//! a `ProtoError::Malformed`, never a panic.

use std::fmt;

use crate::text::printable_capped;

/// Longest reply text kept in a [`Status`], in characters. The text only
/// ever ends up in error messages and traces, so a server that sends a
/// 60 KB `-ERR` line must not produce a 60 KB error message.
pub const MAX_TEXT_CHARS: usize = 1024;

/// How much of an offending line a `Malformed` error quotes.
const MAX_QUOTE_CHARS: usize = 80;

/// The longest UID accepted, in bytes. RFC 1939 §7 allows 1 to 70; some
/// servers send longer ones, but a UID is stored in the state file and
/// journal for every message, so megabytes are refused.
pub const MAX_UID_BYTES: usize = 1000;

/// Everything that can go wrong while talking POP3.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server's reply is not valid POP3: {0}")]
    Malformed(String),
    #[error("the server refused {command}: {text}")]
    Refused {
        command: String,
        code: Option<RespCode>,
        text: String,
    },
    #[error("a reply line from the server is longer than {0} bytes")]
    LineTooLong(usize),
    /// A listing, or a line or UID in one, beyond what popfetch holds in
    /// memory or in its state; the text says what the server sent.
    #[error("{0}")]
    Oversized(String),
    /// A reply that arrives, but too slowly to ever end (the
    /// minimum-throughput rule of [`super::session::Pace`]).
    #[error("{0}; nothing was lost, the next run will try again")]
    TooSlow(String),
    #[error("refusing to send a command containing CR, LF or NUL")]
    BadArgument,
}

/// A response code (RFC 2449 §8, RFC 3206). Only the first level decides
/// the variant, except for `SYS`, whose second level does; unknown detail
/// levels are ignored as RFC 2449 §8 asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespCode {
    InUse,
    LoginDelay,
    SysTemp,
    SysPerm,
    Auth,
    /// Any other code, upper-cased, as received (e.g. `UTF8`, `SYS`).
    Other(String),
}

impl RespCode {
    /// Whether the condition is expected to clear by itself (exit 75).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            RespCode::InUse | RespCode::LoginDelay | RespCode::SysTemp
        )
    }

    /// Parse the inside of `[...]`. `None` when it is not valid resp-code
    /// syntax, in which case the brackets are just text.
    fn parse(inner: &[u8]) -> Option<RespCode> {
        // resp-level = 1*rchar; rchar excludes '/' (the separator) and ']'.
        let valid = |b: &u8| (0x21..=0x7e).contains(b) && *b != b']';
        if inner.is_empty() || !inner.iter().all(valid) {
            return None;
        }
        let upper = inner.to_ascii_uppercase();
        let mut levels = upper.split(|&b| b == b'/');
        let first = levels.next().unwrap_or_default();
        if first.is_empty() {
            return None;
        }
        let second = levels.next();
        let code = match (first, second) {
            (b"IN-USE", _) => RespCode::InUse,
            (b"LOGIN-DELAY", _) => RespCode::LoginDelay,
            (b"AUTH", _) => RespCode::Auth,
            (b"SYS", Some(b"TEMP")) => RespCode::SysTemp,
            (b"SYS", Some(b"PERM")) => RespCode::SysPerm,
            // Only printable ASCII got here, so this conversion is lossless.
            _ => RespCode::Other(String::from_utf8_lossy(&upper).into_owned()),
        };
        Some(code)
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
            RespCode::Other(s) => s,
        })
    }
}

/// A parsed status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub ok: bool,
    pub code: Option<RespCode>,
    /// The human text, printable, at most [`MAX_TEXT_CHARS`] characters.
    pub text: String,
}

impl Status {
    /// `Ok(self)` for `+OK`, otherwise the `Refused` error naming `command`.
    pub fn into_result(self, command: &str) -> Result<Status, ProtoError> {
        if self.ok {
            Ok(self)
        } else {
            Err(ProtoError::Refused {
                command: command.to_string(),
                code: self.code,
                text: self.text,
            })
        }
    }
}

fn malformed(what: &str, line: &[u8]) -> ProtoError {
    ProtoError::Malformed(format!(
        "{what}: \"{}\"",
        printable_capped(line, MAX_QUOTE_CHARS)
    ))
}

/// Case-insensitive prefix strip.
fn strip_prefix_ci<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&line[prefix.len()..])
    } else {
        None
    }
}

/// How the reply text of a status line becomes [`Status::text`]: made
/// printable and capped, after the session has hidden its secrets in it.
pub type ShowText<'a> = &'a dyn Fn(&[u8]) -> String;

/// The plain [`ShowText`]: printable, at most [`MAX_TEXT_CHARS`].
pub fn show_text(text: &[u8]) -> String {
    printable_capped(text, MAX_TEXT_CHARS)
}

/// Parse a status line (CRLF/LF already removed).
///
/// Accepts `+OK`, `+OK text`, `+OKtext`, `-ERR`, `-ERR [CODE] text`, in any
/// case (RFC 1939 requires upper case, but refusing `+ok` helps nobody). A
/// stray trailing CR is ignored. A response code is recognised on both
/// `+OK` and `-ERR` whenever the text starts with a well-formed `[...]`;
/// servers without RESP-CODES practically never start text with `[`.
pub fn parse_status(line: &[u8]) -> Result<Status, ProtoError> {
    parse_status_shown(line, &show_text)
}

/// [`parse_status`], with the text made by `show`.
pub fn parse_status_shown(line: &[u8], show: ShowText<'_>) -> Result<Status, ProtoError> {
    let (ok, rest) = if let Some(rest) = strip_prefix_ci(line, b"+OK") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ci(line, b"-ERR") {
        (false, rest)
    } else {
        return Err(malformed("expected +OK or -ERR", line));
    };
    let rest = rest.trim_ascii();
    let (code, text) = split_code(rest);
    Ok(Status {
        ok,
        code,
        text: show(text),
    })
}

/// Split a leading `[CODE]` off the reply text.
fn split_code(rest: &[u8]) -> (Option<RespCode>, &[u8]) {
    if rest.first() != Some(&b'[') {
        return (None, rest);
    }
    let Some(close) = rest.iter().position(|&b| b == b']') else {
        return (None, rest);
    };
    match RespCode::parse(&rest[1..close]) {
        Some(code) => (Some(code), rest[close + 1..].trim_ascii()),
        None => (None, rest),
    }
}

/// A reply during a SASL exchange (RFC 5034 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthReply {
    /// The raw base64 text after `"+ "`, empty for a bare `+` or `"+ "`.
    Challenge(Vec<u8>),
    /// The exchange is over.
    Done(Status),
}

/// [`parse_auth_reply_shown`] with status texts made by [`show_text`] (for
/// the tests and the fuzz targets).
#[cfg(any(test, feature = "fuzzing"))]
pub fn parse_auth_reply(line: &[u8]) -> Result<AuthReply, ProtoError> {
    parse_auth_reply_shown(line, &show_text)
}

/// Parse a line received during AUTH: `+OK`/`-ERR` end the exchange,
/// `+ xyz` or a bare `+` is a challenge. The text of a final status is made
/// by `show`.
pub fn parse_auth_reply_shown(line: &[u8], show: ShowText<'_>) -> Result<AuthReply, ProtoError> {
    // "+OK" is unambiguous: a challenge always has a space (or nothing)
    // after the '+'.
    if strip_prefix_ci(line, b"+OK").is_some() || strip_prefix_ci(line, b"-ERR").is_some() {
        return parse_status_shown(line, show).map(AuthReply::Done);
    }
    let Some(rest) = line.strip_prefix(b"+") else {
        return Err(malformed("expected a SASL challenge, +OK or -ERR", line));
    };
    match rest.first() {
        None => Ok(AuthReply::Challenge(Vec::new())),
        Some(b' ' | b'\t' | b'\r') => Ok(AuthReply::Challenge(rest.trim_ascii().to_vec())),
        Some(_) => Err(malformed("expected a SASL challenge, +OK or -ERR", line)),
    }
}

/// A message number or count: ASCII digits only (no sign, unlike
/// `str::parse`), no overflow.
fn parse_decimal<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Split on runs of spaces and tabs.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty())
}

/// Message numbers start at 1 (RFC 1939 §4); 0 would make us send `RETR 0`.
fn parse_msg_number(field: &[u8]) -> Option<u32> {
    parse_decimal::<u32>(field).filter(|&n| n > 0)
}

/// Parse a scan listing line, `"1 1234"` (from `LIST` or the text after
/// `+OK` of `LIST n`). Extra spaces and trailing fields are tolerated.
pub fn parse_list_line(line: &[u8]) -> Result<(u32, u64), ProtoError> {
    let line = line.trim_ascii();
    let mut f = fields(line);
    let msg = f.next().and_then(parse_msg_number);
    let size = f.next().and_then(parse_decimal::<u64>);
    match (msg, size) {
        (Some(msg), Some(size)) => Ok((msg, size)),
        _ => Err(malformed("expected \"number size\" in a LIST reply", line)),
    }
}

/// Encode a UID as a printable, space-free, injective string: bytes
/// 0x21..=0x7E other than `%` stay as they are, everything else is `%XX`.
/// For an RFC-conformant UID without `%` this is the identity.
pub fn encode_uid(uid: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(uid.len());
    for &b in uid {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            s.push(char::from(b));
        } else {
            s.push('%');
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    s
}

/// Parse a unique-id listing line, `"1 whqtswO00WBw418f9t5JxYwZ"`, with the
/// UID encoded by [`encode_uid`]. RFC 1939 says nothing follows the UID;
/// a server that puts spaces in its UIDs anyway gets everything after the
/// first separator (trailing blanks dropped), so distinct UIDs stay distinct.
pub fn parse_uidl_line(line: &[u8]) -> Result<(u32, String), ProtoError> {
    let line = line.trim_ascii();
    let sep = line.iter().position(|&b| b == b' ' || b == b'\t');
    let (num, rest) = match sep {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, &line[line.len()..]),
    };
    let uid = rest.trim_ascii_start();
    if uid.len() > MAX_UID_BYTES {
        return Err(uid_too_long());
    }
    match parse_msg_number(num) {
        Some(msg) if !uid.is_empty() => Ok((msg, encode_uid(uid))),
        _ => Err(malformed("expected \"number uid\" in a UIDL reply", line)),
    }
}

/// The error for a UID over [`MAX_UID_BYTES`].
pub fn uid_too_long() -> ProtoError {
    ProtoError::Oversized(format!(
        "the server sent a UID of more than {MAX_UID_BYTES} bytes in its UIDL listing"
    ))
}

/// The APOP timestamp of a greeting: the first `<local@domain>` token,
/// brackets included, or `None`.
///
/// Validation is strict on purpose (fetchmail-SA-2007-01): printable ASCII
/// only, no spaces or nested brackets, exactly one `@` with something on
/// both sides. Anything else means "this server has no usable APOP".
pub fn apop_timestamp(greeting_text: &str) -> Option<String> {
    let bytes = greeting_text.as_bytes();
    let mut from = 0;
    while let Some(off) = bytes[from..].iter().position(|&b| b == b'<') {
        let start = from + off;
        let inner_start = start + 1;
        let len = bytes[inner_start..].iter().position(|&b| b == b'>')?;
        let inner = &bytes[inner_start..inner_start + len];
        if is_msg_id(inner) {
            return Some(greeting_text[start..=inner_start + len].to_string());
        }
        from = inner_start;
    }
    None
}

fn is_msg_id(inner: &[u8]) -> bool {
    let printable = inner
        .iter()
        .all(|&b| (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>');
    let mut parts = inner.split(|&b| b == b'@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    printable && !local.is_empty() && !domain.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_ok_variants() {
        for (line, text) in [
            (&b"+OK"[..], ""),
            (b"+OK ", ""),
            (b"+OK   ", ""),
            (b"+OK hello world", "hello world"),
            (b"+OKhello", "hello"),
            (b"+ok lower", "lower"),
            (b"+Ok\r", ""),
            (b"+OK dovecot ready.\r", "dovecot ready."),
        ] {
            let s = parse_status(line).unwrap();
            assert!(s.ok, "{line:?}");
            assert_eq!(s.code, None);
            assert_eq!(s.text, text, "{line:?}");
        }
    }

    #[test]
    fn status_err_with_codes() {
        let cases: &[(&[u8], Option<RespCode>, &str)] = &[
            (b"-ERR", None, ""),
            (b"-err no such message", None, "no such message"),
            (b"-ERR [IN-USE] locked", Some(RespCode::InUse), "locked"),
            (b"-ERR [in-use] locked", Some(RespCode::InUse), "locked"),
            (
                b"-ERR [LOGIN-DELAY] wait",
                Some(RespCode::LoginDelay),
                "wait",
            ),
            (
                b"-ERR [SYS/TEMP] try later",
                Some(RespCode::SysTemp),
                "try later",
            ),
            (b"-ERR [SYS/PERM] gone", Some(RespCode::SysPerm), "gone"),
            (
                b"-ERR [SYS/TEMP/DISK] full",
                Some(RespCode::SysTemp),
                "full",
            ),
            (
                b"-ERR [AUTH] bad password",
                Some(RespCode::Auth),
                "bad password",
            ),
            (b"-ERR [AUTH/EXPIRED]", Some(RespCode::Auth), ""),
            (b"-ERR [IN-USE]", Some(RespCode::InUse), ""),
            (b"-ERR [IN-USE]x", Some(RespCode::InUse), "x"),
            (
                b"-ERR [SYS] what",
                Some(RespCode::Other("SYS".into())),
                "what",
            ),
            (
                b"-ERR [sys/other] x",
                Some(RespCode::Other("SYS/OTHER".into())),
                "x",
            ),
            (b"-ERR [UTF8] y", Some(RespCode::Other("UTF8".into())), "y"),
            // Not valid codes: the brackets stay in the text.
            (b"-ERR [] empty", None, "[] empty"),
            (b"-ERR [a b] spaced", None, "[a b] spaced"),
            (b"-ERR [/TEMP] x", None, "[/TEMP] x"),
            (b"-ERR [unclosed", None, "[unclosed"),
        ];
        for (line, code, text) in cases {
            let s = parse_status(line).unwrap();
            assert!(!s.ok);
            assert_eq!(&s.code, code, "{line:?}");
            assert_eq!(s.text, *text, "{line:?}");
        }
        let s = parse_status(b"+OK [IN-USE] odd but fine").unwrap();
        assert!(s.ok);
        assert_eq!(s.code, Some(RespCode::InUse));
    }

    #[test]
    fn status_rejects_non_pop3() {
        for line in [
            &b""[..],
            b"+",
            b"+O",
            b"-ER",
            b"* OK [CAPABILITY IMAP4rev1] ready",
            b"HTTP/1.1 400 Bad Request",
            b"220 smtp.example.com ESMTP",
            b" +OK",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse_status(line), Err(ProtoError::Malformed(_))),
                "{line:?}"
            );
        }
    }

    #[test]
    fn status_text_is_sanitised_and_capped() {
        let s = parse_status(b"-ERR bad\x1b[31mred\x00\x7f\xc3\xa9\xff\tx").unwrap();
        assert_eq!(s.text, "bad\u{FFFD}[31mred\u{FFFD}\u{FFFD}é\u{FFFD} x");
        let mut long = b"-ERR ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 10_000));
        let s = parse_status(&long).unwrap();
        assert_eq!(s.text.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(s.text.ends_with('…'));
    }

    #[test]
    fn malformed_error_quotes_briefly_and_safely() {
        let mut line = b"\x1b]0;pwned\x07".to_vec();
        line.extend(std::iter::repeat_n(b'z', 1000));
        let Err(ProtoError::Malformed(msg)) = parse_status(&line) else {
            panic!("expected Malformed");
        };
        assert!(!msg.chars().any(char::is_control), "{msg:?}");
        assert!(msg.len() < 300, "{}", msg.len());
    }

    #[test]
    fn status_into_result() {
        let ok = parse_status(b"+OK fine").unwrap();
        assert_eq!(ok.clone().into_result("RETR").unwrap(), ok);
        let err = parse_status(b"-ERR [IN-USE] busy").unwrap();
        match err.into_result("PASS") {
            Err(ProtoError::Refused {
                command,
                code,
                text,
            }) => {
                assert_eq!(command, "PASS");
                assert_eq!(code, Some(RespCode::InUse));
                assert_eq!(text, "busy");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refused_message_reads_well() {
        let e = ProtoError::Refused {
            command: "RETR".into(),
            code: None,
            text: "no such message".into(),
        };
        assert_eq!(e.to_string(), "the server refused RETR: no such message");
    }

    #[test]
    fn resp_code_display_and_temporary() {
        let all = [
            (RespCode::InUse, "IN-USE", true),
            (RespCode::LoginDelay, "LOGIN-DELAY", true),
            (RespCode::SysTemp, "SYS/TEMP", true),
            (RespCode::SysPerm, "SYS/PERM", false),
            (RespCode::Auth, "AUTH", false),
            (RespCode::Other("UTF8".into()), "UTF8", false),
        ];
        for (code, shown, temp) in all {
            assert_eq!(code.to_string(), shown);
            assert_eq!(code.is_temporary(), temp, "{shown}");
            // Display output parses back to the same code.
            let line = format!("-ERR [{shown}] x");
            assert_eq!(parse_status(line.as_bytes()).unwrap().code, Some(code));
        }
    }

    #[test]
    fn auth_replies() {
        assert_eq!(
            parse_auth_reply(b"+").unwrap(),
            AuthReply::Challenge(vec![])
        );
        assert_eq!(
            parse_auth_reply(b"+ ").unwrap(),
            AuthReply::Challenge(vec![])
        );
        assert_eq!(
            parse_auth_reply(b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuY29tPg==").unwrap(),
            AuthReply::Challenge(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuY29tPg==".to_vec())
        );
        assert_eq!(
            parse_auth_reply(b"+  abc \r").unwrap(),
            AuthReply::Challenge(b"abc".to_vec())
        );
        // A challenge may be long: no cap here.
        let mut long = b"+ ".to_vec();
        long.extend(std::iter::repeat_n(b'A', 20_000));
        match parse_auth_reply(&long).unwrap() {
            AuthReply::Challenge(c) => assert_eq!(c.len(), 20_000),
            other => panic!("{other:?}"),
        }
        match parse_auth_reply(b"+OK logged in").unwrap() {
            AuthReply::Done(s) => assert!(s.ok && s.text == "logged in"),
            other => panic!("{other:?}"),
        }
        match parse_auth_reply(b"+ok").unwrap() {
            AuthReply::Done(s) => assert!(s.ok),
            other => panic!("{other:?}"),
        }
        match parse_auth_reply(b"-ERR [AUTH] invalid credentials").unwrap() {
            AuthReply::Done(s) => {
                assert!(!s.ok);
                assert_eq!(s.code, Some(RespCode::Auth));
            }
            other => panic!("{other:?}"),
        }
        for bad in [&b""[..], b"+abc", b"* OK", b"OK", b"-", b"-E"] {
            assert!(parse_auth_reply(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn list_lines() {
        assert_eq!(parse_list_line(b"1 1234").unwrap(), (1, 1234));
        assert_eq!(parse_list_line(b"  2   99  ").unwrap(), (2, 99));
        assert_eq!(parse_list_line(b"3\t0").unwrap(), (3, 0));
        assert_eq!(parse_list_line(b"4 500 extra stuff").unwrap(), (4, 500));
        assert_eq!(parse_list_line(b"7 120\r").unwrap(), (7, 120));
        assert_eq!(
            parse_list_line(b"4294967295 18446744073709551615").unwrap(),
            (u32::MAX, u64::MAX)
        );
        for bad in [
            &b""[..],
            b"1",
            b"0 100",
            b"+1 100",
            b"1 -5",
            b"1 +5",
            b"a 1",
            b"1 1x",
            b"4294967296 1",
            b"1 18446744073709551616",
            b"\xff \xff",
        ] {
            assert!(
                matches!(parse_list_line(bad), Err(ProtoError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn uidl_lines() {
        assert_eq!(
            parse_uidl_line(b"1 whqtswO00WBw418f9t5JxYwZ").unwrap(),
            (1, "whqtswO00WBw418f9t5JxYwZ".to_string())
        );
        assert_eq!(
            parse_uidl_line(b"  12\t\tabc  \r").unwrap(),
            (12, "abc".to_string())
        );
        assert_eq!(
            parse_uidl_line(b"2 ../../etc/passwd;rm -rf").unwrap(),
            (2, "../../etc/passwd;rm%20-rf".to_string())
        );
        assert_eq!(
            parse_uidl_line(b"3 100%\xff\x00").unwrap(),
            (3, "100%25%FF%00".to_string())
        );
        for bad in [&b""[..], b"1", b"1   ", b"x abc", b"0 abc", b"-1 abc"] {
            assert!(parse_uidl_line(bad).is_err(), "{bad:?}");
        }
        let longest = format!("4 {}", "u".repeat(MAX_UID_BYTES));
        assert_eq!(parse_uidl_line(longest.as_bytes()).unwrap().1.len(), 1000);
        let over = format!("4 {}", "u".repeat(MAX_UID_BYTES + 1));
        match parse_uidl_line(over.as_bytes()) {
            Err(ProtoError::Oversized(m)) => {
                assert_eq!(
                    m,
                    "the server sent a UID of more than 1000 bytes in its UIDL listing"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn apop_timestamps() {
        assert_eq!(
            apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>").as_deref(),
            Some("<1896.697170952@dbc.mtview.ca.us>")
        );
        assert_eq!(apop_timestamp("<a@b> ready").as_deref(), Some("<a@b>"));
        // A non-msg-id bracket before the real one is skipped.
        assert_eq!(apop_timestamp("<a<b@c>").as_deref(), Some("<b@c>"));
        assert_eq!(
            apop_timestamp("Dovecot <ready> <12.34@host>").as_deref(),
            Some("<12.34@host>")
        );
        for bad in [
            "POP3 server ready",
            "<>",
            "<no-at-sign>",
            "<@domain>",
            "<local@>",
            "<a@b@c>",
            "<a b@c>",
            "<a\u{1}@c>",
            "<a@é.com>",
            "<unterminated@host",
            "> <",
        ] {
            assert_eq!(apop_timestamp(bad), None, "{bad:?}");
        }
    }

    fn decode_uid(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_status(&line);
            let _ = parse_auth_reply(&line);
            let _ = parse_list_line(&line);
            let _ = parse_uidl_line(&line);
            let text = String::from_utf8_lossy(&line);
            let _ = apop_timestamp(&text);
        }

        #[test]
        fn uid_encoding_is_printable_and_injective(uid in proptest::collection::vec(any::<u8>(), 0..100)) {
            let enc = encode_uid(&uid);
            prop_assert!(enc.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            prop_assert_eq!(decode_uid(&enc), uid);
        }

        #[test]
        fn conformant_uids_are_verbatim(uid in "[!-$&-~]{1,70}", n in 1u32..) {
            let line = format!("{n} {uid}");
            prop_assert_eq!(parse_uidl_line(line.as_bytes()).unwrap(), (n, uid));
        }

        #[test]
        fn list_round_trip(n in 1u32.., size in any::<u64>()) {
            let line = format!("{n} {size}");
            prop_assert_eq!(parse_list_line(line.as_bytes()).unwrap(), (n, size));
        }
    }
}
