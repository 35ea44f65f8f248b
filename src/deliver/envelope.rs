//! The envelope sender of a message, read from its own header section
//! as the message streams past: the sender an mbox `From ` line and an
//! MDA's `%F` name.
//!
//! The sender is the first Return-Path, else the first From address. What
//! an MDA's `%F` can be is exactly one of two things, so that it is safe
//! as an argument and even unquoted in a shell (`mda = ["sh", "-c",
//! "procmail -f %F"]`):
//!
//! - a plausible address: `local@domain`, the local part a dot-atom of
//!   ASCII letters, digits and `+ - = _` (dots between them; no quoted
//!   local parts), the domain dot-separated labels of letters, digits and
//!   `-` (not at either end of a label), at most 64 and 255 characters,
//!   not starting with `-`. SRS, BATV and VERP addresses (`=`, `+`) fit;
//! - otherwise `MAILER-DAEMON`: a bounce (`Return-Path: <>`), a message
//!   naming no sender, and any sender with anything else in it: a shell
//!   metacharacter (dollar, backquote, `;`, `&`, `|`, `<`, `>`,
//!   parentheses, braces, backslash, quotes, `*`, `?`, brackets, `~`,
//!   `!`, `#`, `%`, `^`), a blank, `/`, non-ASCII, an address literal
//!   (`[192.0.2.1]` is a shell pattern), or a local part that is not a
//!   dot-atom.
//!
//! `%T` is the account's `user` as written in the config: trusted, and
//! substituted as is in the argv form (the shell form quotes both).

use mail_parser::{HeaderName, HeaderValue, MessageParser};

/// At most this much of a message's header section is kept to find the
/// sender; a longer header section is cut here.
const MAX_HEADER: usize = 256 * 1024;

/// Longest address accepted as an envelope sender (RFC 5321 allows 256
/// for a path; a little slack for odd but harmless ones).
const MAX_SENDER: usize = 320;

/// The envelope sender of a message, from its own headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sender {
    Address(String),
    /// `Return-Path: <>`: a bounce, which has no sender.
    Null,
    /// No usable Return-Path or From.
    Unknown,
}

impl Sender {
    /// For an mbox `From ` line: the address, or `MAILER-DAEMON`.
    pub(super) fn for_from_line(&self) -> &str {
        match self {
            Sender::Address(a) => a,
            Sender::Null | Sender::Unknown => "MAILER-DAEMON",
        }
    }

    /// For the MDA's `%F`: the address when it is plausible (see the
    /// module doc), else `MAILER-DAEMON`.
    pub(super) fn for_mda(&self) -> &str {
        match self {
            Sender::Address(a) if plausible_address(a) => a,
            Sender::Address(_) | Sender::Null | Sender::Unknown => "MAILER-DAEMON",
        }
    }

    /// The sender a header section names: the first (topmost, so most
    /// recent) Return-Path, else the first From address.
    ///
    /// The result becomes a word on an mbox `From ` line and an argument
    /// to an MDA, so an address with white space, control characters or a
    /// leading `-` (which a program could take for an option) is not used.
    pub(super) fn from_headers(headers: &[u8]) -> Sender {
        let Some(msg) = MessageParser::default().parse_headers(headers) else {
            return Sender::Unknown;
        };
        if let Some(h) = msg
            .headers()
            .iter()
            .find(|h| h.name == HeaderName::ReturnPath)
        {
            let raw = headers
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            match &h.value {
                HeaderValue::Text(t) => {
                    if let Some(a) = usable(t) {
                        return Sender::Address(a);
                    }
                }
                HeaderValue::TextList(list) => {
                    if let Some(a) = list.first().and_then(|t| usable(t)) {
                        return Sender::Address(a);
                    }
                }
                _ if is_null_path(raw) => return Sender::Null,
                _ => {}
            }
        }
        msg.from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .and_then(usable)
            .map_or(Sender::Unknown, Sender::Address)
    }
}

/// `<>`, possibly with white space around or inside.
fn is_null_path(raw: &[u8]) -> bool {
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    compact == b"<>"
}

fn usable(addr: &str) -> Option<String> {
    let a = addr.trim();
    let a = a
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(a);
    let ok = !a.is_empty()
        && a.len() <= MAX_SENDER
        && !a.starts_with('-')
        && !a.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| a.to_string())
}

/// An address popfetch passes to an MDA as `%F`: a dot-atom local part of
/// letters, digits and `+ - = _`, an `@`, and a host name (see the module
/// doc). None of these characters means anything to a shell, in a path
/// or to a program's option parser.
fn plausible_address(addr: &str) -> bool {
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    let atom = |a: &str| {
        !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-=_".contains(&b))
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    !local.starts_with('-')
        && local.len() <= 64
        && domain.len() <= 255
        && local.split('.').all(atom)
        && domain.split('.').all(label)
}

/// Keeps a copy of a message's header section as it streams past.
#[derive(Debug)]
pub(crate) struct HeaderCapture {
    buf: Vec<u8>,
    complete: bool,
    at_line_start: bool,
}

impl Default for HeaderCapture {
    fn default() -> Self {
        HeaderCapture {
            buf: Vec::new(),
            complete: false,
            at_line_start: true,
        }
    }
}

impl HeaderCapture {
    /// Look at the next bytes of the message.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        if self.complete {
            return;
        }
        let mut end = data.len();
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' && self.at_line_start {
                // An empty line: the header section is over.
                self.complete = true;
                end = i + 1;
                break;
            }
            self.at_line_start = b == b'\n';
        }
        self.buf.extend_from_slice(&data[..end]);
        if self.buf.len() >= MAX_HEADER {
            self.buf.truncate(MAX_HEADER);
            self.complete = true;
        }
    }

    /// The header section has been seen whole (or up to the cap).
    pub(super) fn is_complete(&self) -> bool {
        self.complete
    }

    pub(super) fn sender(&self) -> Sender {
        Sender::from_headers(&self.buf)
    }

    /// The From and Subject fields as a person reads them: encoded words
    /// (RFC 2047) decoded, each address as `Name <address>`, several
    /// joined by `, `; empty when the field is missing. Still the
    /// sender's text: the caller makes it printable and caps it.
    pub(crate) fn sender_and_subject(&self) -> (String, String) {
        let Some(msg) = MessageParser::default().parse_headers(&self.buf) else {
            return (String::new(), String::new());
        };
        let from = msg
            .from()
            .map(|list| {
                list.iter()
                    .map(|a| match (a.name(), a.address()) {
                        (Some(n), Some(addr)) => format!("{n} <{addr}>"),
                        (None, Some(addr)) => addr.to_string(),
                        (Some(n), None) => n.to_string(),
                        (None, None) => String::new(),
                    })
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        (from, msg.subject().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(h: &str) -> Sender {
        Sender::from_headers(h.as_bytes())
    }

    #[test]
    fn return_path_wins_over_from() {
        let s = sender("Return-Path: <bounce@lists.example>\nFrom: Ann <ann@example.org>\n\n");
        assert_eq!(s, Sender::Address("bounce@lists.example".into()));
        assert_eq!(s.for_from_line(), "bounce@lists.example");
        assert_eq!(s.for_mda(), "bounce@lists.example");
    }

    #[test]
    fn the_topmost_return_path_is_used() {
        let s = sender("Return-Path: <new@a.example>\nReturn-Path: <old@b.example>\n\n");
        assert_eq!(s, Sender::Address("new@a.example".into()));
    }

    #[test]
    fn from_is_used_without_return_path() {
        let s = sender("Subject: x\nFrom: \"Ann, PhD\" <ann@example.org>\n\nbody\n");
        assert_eq!(s, Sender::Address("ann@example.org".into()));
    }

    #[test]
    fn null_return_path_is_mailer_daemon_and_empty_for_mda() {
        let s = sender("Return-Path: <>\nFrom: postmaster@example.org\n\n");
        assert_eq!(s, Sender::Null);
        assert_eq!(s.for_from_line(), "MAILER-DAEMON");
        assert_eq!(s.for_mda(), "MAILER-DAEMON");
    }

    #[test]
    fn nothing_usable_is_unknown() {
        for h in [
            "Subject: none\n\n",
            "",
            "\n\nbody only\n",
            "From: undisclosed-recipients:;\n\n",
        ] {
            let s = sender(h);
            assert_eq!(s, Sender::Unknown, "{h:?}");
            assert_eq!(s.for_from_line(), "MAILER-DAEMON");
            assert_eq!(s.for_mda(), "MAILER-DAEMON");
        }
    }

    #[test]
    fn senders_with_spaces_newlines_or_a_leading_dash_are_not_used() {
        // The Return-Path is unusable, so the From address is taken.
        let s = sender("Return-Path: <a'b;rm -rf ~@x>\nFrom: ok@example.org\n\n");
        assert_eq!(s, Sender::Address("ok@example.org".into()));
        let s = sender("Return-Path: <-oQ/tmp/x@example.org>\n\n");
        assert_eq!(s, Sender::Unknown);
        let s = sender("From: \"x\" <a\u{7}b@example.org>\n\n");
        assert_eq!(s, Sender::Unknown);
        // Hostile but without white space: on an mbox From line as is (it
        // is one word there), never to an MDA.
        let s = sender("Return-Path: <a'b;$(reboot)`id`@x>\n\n");
        assert_eq!(s, Sender::Address("a'b;$(reboot)`id`@x".into()));
        assert_eq!(s.for_mda(), "MAILER-DAEMON");
    }

    #[test]
    fn only_plausible_addresses_reach_an_mda() {
        for good in [
            "alice@example.com",
            "a.b+tag@mail.example-1.org",
            "SRS0=HHH=TT=example.org=bob@fwd.example",
            "prvs=1234abcd=user@example.com",
            "list-bounces+user=example.com@lists.example.org",
            "root@localhost",
            "_x_@x",
        ] {
            assert!(plausible_address(good), "{good}");
            let s = sender(&format!("Return-Path: <{good}>\n\n"));
            assert_eq!(s.for_mda(), good);
        }
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "-oQ/tmp/x@example.org",
            ".a@x",
            "a.@x",
            "a..b@x",
            "a@b@c",
            "a@-x.org",
            "a@x-.org",
            "a@x..org",
            "a@x.org.",
            "a@[127.0.0.1]",
            "a@[IPv6:::1]",
            "\"a b\"@x",
            "$(id)@x",
            "`id`@x",
            "a;b@x",
            "a&b@x",
            "a|b@x",
            "a<b@x",
            "a>b@x",
            "a(b)@x",
            "a{b}@x",
            "a\\b@x",
            "a'b@x",
            "a*b@x",
            "a?b@x",
            "a[b]@x",
            "~a@x",
            "a!b@x",
            "#a@x",
            "a%b@x",
            "a/b@x",
            "../x@y",
            "a^b@x",
            "\u{e9}@x",
            "a@\u{e9}.fr",
            "a@x_y.org",
        ] {
            assert!(!plausible_address(bad), "{bad:?}");
        }
        let long_local = format!("{}@x", "a".repeat(65));
        assert!(!plausible_address(&long_local));
        let long_label = format!("a@{}.org", "b".repeat(64));
        assert!(!plausible_address(&long_label));
    }

    #[test]
    fn header_capture_stops_at_the_empty_line_across_chunks() {
        let msg = b"Return-Path: <a@b>\nSubject: s\n\nFrom: c@d\n";
        for split in 0..msg.len() {
            let mut h = HeaderCapture::default();
            h.feed(&msg[..split]);
            h.feed(&msg[split..]);
            assert!(h.is_complete());
            assert_eq!(h.buf, b"Return-Path: <a@b>\nSubject: s\n\n");
            assert_eq!(h.sender(), Sender::Address("a@b".into()));
        }
    }

    #[test]
    fn sender_and_subject_are_decoded() {
        let mut h = HeaderCapture::default();
        h.feed(
            b"From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>, b@example.org\n\
              Subject: =?UTF-8?B?R3LDvMOfZQ==?=\n  and more\n\nFrom: not@header\n",
        );
        assert_eq!(
            h.sender_and_subject(),
            (
                "J\u{f6}rg <j@example.org>, b@example.org".to_string(),
                "Grüße and more".to_string()
            )
        );
        let mut h = HeaderCapture::default();
        h.feed(b"X-Other: 1\n\n");
        assert_eq!(h.sender_and_subject(), (String::new(), String::new()));
    }

    #[test]
    fn header_capture_is_bounded() {
        let mut h = HeaderCapture::default();
        h.feed(b"Return-Path: <a@b>\n");
        let line = format!("X-Long: {}\n", "y".repeat(1000));
        for _ in 0..400 {
            h.feed(line.as_bytes());
        }
        assert!(h.is_complete());
        assert_eq!(h.buf.len(), MAX_HEADER);
        assert_eq!(h.sender(), Sender::Address("a@b".into()));
    }
}
