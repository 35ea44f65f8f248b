//! The envelope sender of a message, read from its own header section
//! as the message streams past: the sender an mbox `From ` line and an
//! MDA's `%F` name.

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

    /// For the MDA's `%F`: the address, or the empty string.
    pub(super) fn for_mda(&self) -> &str {
        match self {
            Sender::Address(a) => a,
            Sender::Null | Sender::Unknown => "",
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

/// Keeps a copy of a message's header section as it streams past.
#[derive(Debug)]
pub(super) struct HeaderCapture {
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
    pub(super) fn feed(&mut self, data: &[u8]) {
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
        assert_eq!(s.for_mda(), "");
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
            assert_eq!(s.for_mda(), "");
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
        // Hostile but without white space: used, and quoted later.
        let s = sender("Return-Path: <a'b;$(reboot)`id`@x>\n\n");
        assert_eq!(s, Sender::Address("a'b;$(reboot)`id`@x".into()));
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
