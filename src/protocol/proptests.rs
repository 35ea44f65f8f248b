//! Property tests across the POP3 parsers, beyond the per-module ones:
//! arbitrary bytes never panic, results keep their invariants, and where a
//! round trip exists it is exact.
//!
//! - status lines and SASL continuation lines: every well-formed reply
//!   parses back to what was written, whatever the case of `+OK`/`-ERR`,
//!   the blanks and the response code; the kept text is printable and
//!   capped; anything else is `Malformed`, with a short printable quote.
//! - LIST and UIDL lines: any number, size and UID bytes, any blanks.
//! - the body decoder against a line-at-a-time model of RFC 1939 §3, on
//!   arbitrary input (not only well-formed wire data) cut at arbitrary
//!   points, and the dot-stuffing round trip for arbitrary messages
//!   (`fuzzing::wire_form` writes them as a server sends them).
//! - the blocking session over a stream that returns arbitrary read sizes
//!   (and `Interrupted`): status and body come out as decoded in one go,
//!   the next reply stays in sync, and memory is bounded per read.
//! - CAPA: tags in any case and spacing parse back to the same flags.

use std::io::{self, Read, Write};

use proptest::prelude::*;

use super::capa::Capabilities;
use super::multiline::DotDecoder;
use super::response::{
    AuthReply, MAX_TEXT_CHARS, ProtoError, RespCode, encode_uid, parse_auth_reply, parse_list_line,
    parse_status, parse_uidl_line,
};
use super::session::{BodyError, Listing, Session, UIDL_LISTING};
use crate::fuzzing::wire_form;

// --- strategies ----------------------------------------------------------------

/// Arbitrary bytes, leaning towards the ones the parsers care about.
fn pop3_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => any::<u8>(),
        2 => prop::sample::select(b".\r\n +-[]/OKERokerAUTH0123456789\t".to_vec()),
    ];
    proptest::collection::vec(byte, 0..max)
}

/// `s` with each ASCII letter in a random case.
fn random_case(s: &str) -> impl Strategy<Value = String> {
    let s = s.to_string();
    proptest::collection::vec(any::<bool>(), s.len()).prop_map(move |flips| {
        s.chars()
            .zip(flips)
            .map(|(c, up)| {
                if up {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// Spaces and tabs, at least one.
fn blanks() -> impl Strategy<Value = String> {
    "[ \t]{1,4}"
}

/// Reply text as a server writes it: printable ASCII, no leading `[`, and
/// neither starting nor ending with a blank (the parser trims those).
fn reply_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[!-Z\\\\-~]([ -~]{0,40}[!-~])?",]
}

/// A response code as RFC 2449 §8 writes it, and what it parses to.
fn resp_code() -> impl Strategy<Value = (String, RespCode)> {
    let level = "[!-.0-\\\\^-~]{1,10}"; // rchar: printable, no '/' or ']'
    prop_oneof![
        Just(("IN-USE".to_string(), RespCode::InUse)),
        Just(("LOGIN-DELAY".to_string(), RespCode::LoginDelay)),
        Just(("SYS/TEMP".to_string(), RespCode::SysTemp)),
        Just(("SYS/PERM".to_string(), RespCode::SysPerm)),
        Just(("AUTH".to_string(), RespCode::Auth)),
        (level, proptest::option::of(level)).prop_map(|(a, b)| {
            let code = match b {
                Some(b) => format!("{a}/{b}"),
                None => a,
            };
            let upper = code.to_ascii_uppercase();
            let first = upper.split('/').next().unwrap_or_default().to_string();
            let second = upper.split('/').nth(1).map(str::to_string);
            let parsed = match (first.as_str(), second.as_deref()) {
                ("IN-USE", _) => RespCode::InUse,
                ("LOGIN-DELAY", _) => RespCode::LoginDelay,
                ("AUTH", _) => RespCode::Auth,
                ("SYS", Some("TEMP")) => RespCode::SysTemp,
                ("SYS", Some("PERM")) => RespCode::SysPerm,
                _ => RespCode::Other(upper.clone()),
            };
            (code, parsed)
        }),
    ]
}

// --- status lines --------------------------------------------------------------

fn is_malformed(r: &Result<impl std::fmt::Debug, ProtoError>) -> bool {
    matches!(r, Err(ProtoError::Malformed(_)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every well-formed status line parses to what was written.
    #[test]
    fn status_lines_round_trip(
        ok in any::<bool>(),
        word in prop_oneof![random_case("+OK"), random_case("-ERR")],
        code in proptest::option::of(resp_code()),
        sep in blanks(),
        text in reply_text(),
        cr in any::<bool>(),
    ) {
        let word = if ok { word.replace("-err", "+ok").replace("-ERR", "+OK") } else { word };
        let want_ok = word.starts_with('+');
        let mut line = word.clone();
        if let Some((c, _)) = &code {
            line.push_str(&sep);
            line.push_str(&format!("[{c}]"));
        }
        if !text.is_empty() {
            line.push_str(&sep);
            line.push_str(&text);
        }
        if cr {
            line.push('\r');
        }
        let st = parse_status(line.as_bytes()).unwrap();
        prop_assert_eq!(st.ok, want_ok);
        prop_assert_eq!(st.code, code.map(|(_, parsed)| parsed));
        prop_assert_eq!(st.text, text.replace('\t', " "));
    }

    /// Whatever the bytes: +OK/-ERR (any case) parse, with printable,
    /// capped text; everything else is Malformed with a short, printable
    /// quote.
    #[test]
    fn status_lines_of_arbitrary_bytes(line in pop3_bytes(300)) {
        let upper = line.to_ascii_uppercase();
        let is_status = upper.starts_with(b"+OK") || upper.starts_with(b"-ERR");
        match parse_status(&line) {
            Ok(st) => {
                prop_assert!(is_status);
                prop_assert_eq!(st.ok, upper.starts_with(b"+OK"));
                prop_assert!(st.text.chars().count() <= MAX_TEXT_CHARS + 1);
                prop_assert!(!st.text.chars().any(char::is_control), "{:?}", st.text);
                prop_assert_eq!(st.text.trim(), st.text.as_str());
                if let Some(RespCode::Other(c)) = &st.code {
                    prop_assert!(!c.is_empty());
                    prop_assert!(c.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b']'));
                    prop_assert_eq!(c.to_ascii_uppercase(), c.clone());
                }
            }
            Err(ProtoError::Malformed(msg)) => {
                prop_assert!(!is_status);
                prop_assert!(!msg.chars().any(char::is_control), "{msg:?}");
                prop_assert!(msg.chars().count() < 200, "{}", msg.len());
            }
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    /// The SASL reply parser agrees with the status parser on +OK/-ERR and
    /// returns a challenge verbatim (minus surrounding blanks).
    #[test]
    fn auth_replies_round_trip(
        challenge in "[A-Za-z0-9+/=]{0,200}",
        lead in "[ \t]{0,3}",
        trail in "[ \t\r]{0,3}",
    ) {
        let line = if lead.is_empty() && challenge.is_empty() {
            format!("+{trail}")
        } else {
            format!("+ {lead}{challenge}{trail}")
        };
        // "+OK..." would be read as the end of the exchange.
        prop_assume!(!line.to_ascii_uppercase().starts_with("+OK"));
        prop_assert_eq!(
            parse_auth_reply(line.as_bytes()).unwrap(),
            AuthReply::Challenge(challenge.into_bytes())
        );
    }

    #[test]
    fn auth_replies_of_arbitrary_bytes(line in pop3_bytes(300)) {
        let upper = line.to_ascii_uppercase();
        match parse_auth_reply(&line) {
            Ok(AuthReply::Done(st)) => {
                prop_assert!(upper.starts_with(b"+OK") || upper.starts_with(b"-ERR"));
                prop_assert_eq!(Some(st), parse_status(&line).ok());
            }
            Ok(AuthReply::Challenge(c)) => {
                prop_assert!(line.starts_with(b"+") && !upper.starts_with(b"+OK"));
                prop_assert_eq!(c.trim_ascii(), &c[..]);
                // The challenge is the line's own bytes, nothing added.
                prop_assert!(c.is_empty() || line.windows(c.len()).any(|w| w == &c[..]));
            }
            Err(e) => prop_assert!(is_malformed(&Err::<(), _>(e))),
        }
    }

    /// LIST lines: any number and size, any blanks around and between
    /// them, trailing fields and CR ignored.
    #[test]
    fn list_lines_round_trip(
        n in 1u32..,
        size in any::<u64>(),
        lead in "[ \t]{0,3}",
        sep in blanks(),
        extra in proptest::option::of("[ \t]{1,2}[!-~]{1,10}"),
        trail in "[ \t\r]{0,3}",
    ) {
        let line = format!("{lead}{n}{sep}{size}{}{trail}", extra.unwrap_or_default());
        prop_assert_eq!(parse_list_line(line.as_bytes()).unwrap(), (n, size));
    }

    /// UIDL lines: the UID is whatever follows the number and its blanks,
    /// trailing blanks dropped, encoded; a conformant UID comes out as is.
    #[test]
    fn uidl_lines_round_trip(
        n in 1u32..,
        uid in proptest::collection::vec(any::<u8>(), 1..80),
        lead in "[ \t]{0,3}",
        sep in blanks(),
        trail in "[ \t\r]{0,3}",
    ) {
        let core = uid.trim_ascii();
        prop_assume!(!core.is_empty() && !core.contains(&b'\n'));
        let mut line = format!("{lead}{n}{sep}").into_bytes();
        line.extend_from_slice(core);
        line.extend_from_slice(trail.as_bytes());
        let (got_n, got_uid) = parse_uidl_line(&line).unwrap();
        prop_assert_eq!(got_n, n);
        prop_assert_eq!(&got_uid, &encode_uid(core));
        if core.iter().all(|b| (0x21..=0x7e).contains(b) && *b != b'%') {
            prop_assert_eq!(got_uid.as_bytes(), core);
        }
    }

    /// Whatever a server sends as a listing line, a result is usable: a
    /// message number of at least 1 and a UID that is printable, spaceless
    /// and non-empty (so it can go into the state file and the journal).
    #[test]
    fn listing_lines_of_arbitrary_bytes(line in pop3_bytes(200)) {
        if let Ok((n, _size)) = parse_list_line(&line) {
            prop_assert!(n >= 1);
        }
        if let Ok((n, uid)) = parse_uidl_line(&line) {
            prop_assert!(n >= 1);
            prop_assert!(!uid.is_empty());
            prop_assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uid:?}");
        }
    }
}

// --- the body decoder ----------------------------------------------------------

/// RFC 1939 §3 read a line at a time, as a person would write it: the
/// decoder's output for the whole `input`, and where the reply ended (just
/// past the terminating line) if it did. A line ending in CRLF ends in LF
/// in the output; one leading dot is removed; a `.` line (CRLF or LF)
/// terminates. An unfinished last line is output as far as it can be
/// decided: without its leading dot and without a final CR (which may yet
/// turn out to be half of a CRLF).
fn model_decode(input: &[u8]) -> (Vec<u8>, Option<usize>) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            let mut partial = rest.strip_prefix(b".").unwrap_or(rest);
            partial = partial.strip_suffix(b"\r").unwrap_or(partial);
            out.extend_from_slice(partial);
            return (out, None);
        };
        let line = &rest[..=lf];
        pos += lf + 1;
        if line == b".\n" || line == b".\r\n" {
            return (out, Some(pos));
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        match line.strip_suffix(b"\r\n") {
            Some(content) => {
                out.extend_from_slice(content);
                out.push(b'\n');
            }
            None => out.extend_from_slice(line),
        }
    }
    (out, None)
}

/// Feeds `chunks` to one decoder: (output, consumed, finished), checking
/// the per-call contract on the way.
fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, usize, bool) {
    let mut d = DotDecoder::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    for c in chunks {
        let before = out.len();
        let (n, fin) = d.decode(c, &mut out);
        assert!(n <= c.len());
        // A call never writes more than it read plus one held-back CR.
        assert!(out.len() - before <= n + 1);
        consumed += n;
        assert_eq!(fin, d.is_finished());
        if fin {
            // Finished is final: nothing more is read or written.
            let len = out.len();
            assert_eq!(d.decode(b"more\r\n.\r\n", &mut out), (0, true));
            assert_eq!(out.len(), len);
            return (out, consumed, true);
        }
        assert_eq!(n, c.len(), "an unfinished decode consumes its whole input");
    }
    (out, consumed, false)
}

/// `data` in pieces of the given lengths (each taken modulo what is
/// left), the rest in a last piece.
fn cut<'a>(mut data: &'a [u8], lengths: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::with_capacity(lengths.len() + 1);
    for len in lengths {
        let (piece, rest) = data.split_at(len % (data.len() + 1));
        pieces.push(piece);
        data = rest;
    }
    pieces.push(data);
    pieces
}

/// Message bytes of every kind, with dots, CRs and LFs common.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => pop3_bytes(600),
        1 => proptest::collection::vec(
            prop::sample::select(vec![&b"."[..], b"..", b"\r", b"\n", b"\r\n", b".\r\n", b"x", b"From "]),
            0..80,
        )
        .prop_map(|p| p.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary input, cut anywhere: the decoder agrees with the model,
    /// byte for byte, on output, consumption and the end of the reply;
    /// and one call over the whole input, or a byte at a time, agree too.
    #[test]
    fn decoder_matches_the_model_at_any_chunking(
        input in message(),
        points in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let (want, end) = model_decode(&input);
        let whole = decode_chunks([&input[..]]);
        prop_assert_eq!(&whole, &(want.clone(), end.unwrap_or(input.len()), end.is_some()));
        prop_assert_eq!(&decode_chunks(cut(&input, &points)), &whole);
        prop_assert_eq!(&decode_chunks(input.chunks(1)), &whole);

        let mut d = DotDecoder::new();
        let mut sink = Vec::new();
        d.decode(&input, &mut sink);
        // Cut off before the end, it was mid-line unless at a line start.
        let at_line_start = input.is_empty() || input.ends_with(b"\n");
        prop_assert_eq!(d.mid_line(), end.is_none() && !at_line_start);
    }

    /// Dot-stuffing round trip: any message, sent as a server sends it
    /// (stuffed, CRLF) and followed by the next reply, decodes to the
    /// message with LF line endings (a final newline added where it had
    /// none), at any chunking, and the next reply is left unread.
    #[test]
    fn any_message_survives_the_wire(
        msg in message(),
        next in pop3_bytes(40),
        points in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let wire = wire_form(&msg);
        let mut stream = wire.clone();
        stream.extend_from_slice(&next);
        let mut want = msg.clone();
        if !want.is_empty() && !want.ends_with(b"\n") {
            want.push(b'\n');
        }
        let (out, consumed, fin) = decode_chunks(cut(&stream, &points));
        prop_assert!(fin);
        prop_assert_eq!(consumed, wire.len());
        prop_assert_eq!(out, want);
    }
}

// --- the session over a stream with arbitrary read sizes -----------------------

/// A stream that returns the script in reads of the given sizes (cycled),
/// with `Interrupted` before every read whose size is divisible by 7, and
/// records what is written.
struct Choppy {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
    interrupt_next: bool,
    written: Vec<u8>,
}

impl Choppy {
    fn new(data: Vec<u8>, sizes: Vec<usize>) -> Choppy {
        Choppy {
            data,
            pos: 0,
            sizes,
            turn: 0,
            interrupt_next: true,
            written: Vec::new(),
        }
    }
}

impl Read for Choppy {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()];
        if size.is_multiple_of(7) && self.interrupt_next {
            self.interrupt_next = false;
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.interrupt_next = true;
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Choppy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that remembers its largest single write.
#[derive(Default)]
struct Recorder {
    bytes: Vec<u8>,
    largest: usize,
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.largest = self.largest.max(buf.len());
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(
        prop_oneof![1usize..8, 8usize..300, Just(65536), Just(100_000)],
        1..8,
    )
}

/// One step of a client reading a server's replies.
#[derive(Debug, Clone, Copy)]
enum Step {
    Status,
    Auth,
    Body,
    Lines,
    Capa,
    Uidl,
    List,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Status, body and the next status through the session, at any read
    /// sizes: the body is what the decoder makes of it in one go, it
    /// reaches the sink in pieces no bigger than one read buffer, and the
    /// following reply is read intact.
    #[test]
    fn session_reads_status_body_status_at_any_read_sizes(
        msg in message(),
        greeting in reply_text(),
        sizes in read_sizes(),
    ) {
        let mut script = format!("+OK {greeting}\r\n").into_bytes();
        script.extend_from_slice(&wire_form(&msg));
        script.extend_from_slice(b"-ERR [IN-USE] next\r\n");
        let mut s = Session::new(Choppy::new(script, sizes), None);
        prop_assert_eq!(s.greeting().unwrap().text, greeting);
        let mut sink = Recorder::default();
        let n = s.read_body(&mut sink).unwrap();
        let (want, _) = model_decode(&wire_form(&msg));
        prop_assert_eq!(n, want.len() as u64);
        prop_assert_eq!(&sink.bytes, &want);
        prop_assert!(sink.largest <= 64 * 1024 + 1, "a write of {}", sink.largest);
        let next = s.read_status_any().unwrap();
        prop_assert!(!next.ok && next.code == Some(RespCode::InUse));
        prop_assert!(matches!(s.read_status_any(), Err(ProtoError::Closed)));
    }

    /// Listings (UIDL, LIST, CAPA) at any read sizes come back as written.
    #[test]
    fn session_reads_listings_at_any_read_sizes(
        entries in proptest::collection::vec((1u32.., any::<u64>(), "[!-$&-~]{1,70}"), 0..40),
        sizes in read_sizes(),
    ) {
        let mut script = b"+OK\r\n".to_vec();
        for (n, _, uid) in &entries {
            script.extend_from_slice(format!("{n} {uid}\r\n").as_bytes());
        }
        script.extend_from_slice(b".\r\n+OK scan listing\r\n");
        for (n, size, _) in &entries {
            script.extend_from_slice(format!("{n} {size}\r\n").as_bytes());
        }
        script.extend_from_slice(b".\r\n");
        let mut s = Session::new(Choppy::new(script, sizes), None);
        let uids = s.uidl().unwrap().unwrap();
        let list = s.list().unwrap();
        let want_uids: Vec<(u32, String)> = entries.iter().map(|(n, _, u)| (*n, u.clone())).collect();
        let want_list: Vec<(u32, u64)> = entries.iter().map(|(n, z, _)| (*n, *z)).collect();
        prop_assert_eq!(uids, want_uids);
        prop_assert_eq!(list, want_list);
        prop_assert_eq!(&s.get_ref().written, b"UIDL\r\nLIST\r\n");
    }

    /// Arbitrary server bytes, read as any sequence of replies at any read
    /// sizes: no panic, every call ends (at the latest with `Closed` once
    /// the bytes run out), and bodies reach the sink in bounded pieces.
    #[test]
    fn session_survives_arbitrary_server_bytes(
        data in pop3_bytes(2000),
        sizes in read_sizes(),
        steps in proptest::collection::vec(
            prop::sample::select(vec![
                Step::Status, Step::Auth, Step::Body, Step::Lines, Step::Capa, Step::Uidl, Step::List,
            ]),
            1..12,
        ),
    ) {
        let mut s = Session::new(Choppy::new(data, sizes), None);
        for step in steps {
            let closed = match step {
                Step::Status => matches!(s.read_status_any(), Err(ProtoError::Closed)),
                Step::Auth => matches!(s.read_auth_reply(), Err(ProtoError::Closed)),
                Step::Body => {
                    let mut sink = Recorder::default();
                    let r = s.read_body(&mut sink);
                    prop_assert!(sink.largest <= 64 * 1024 + 1);
                    matches!(r, Err(BodyError::Protocol(ProtoError::Closed)))
                }
                Step::Lines => matches!(
                    s.read_listing(&UIDL_LISTING, &mut |_| Ok(())),
                    Err(ProtoError::Closed)
                ),
                Step::Capa => matches!(s.capa(), Err(ProtoError::Closed)),
                Step::Uidl => matches!(s.uidl(), Err(ProtoError::Closed)),
                Step::List => matches!(s.list(), Err(ProtoError::Closed)),
            };
            if closed {
                break;
            }
        }
        // Commands went out whole, one line each.
        let written = &s.get_ref().written;
        prop_assert!(written.is_empty() || written.ends_with(b"\r\n"));
    }
}

/// An endless stream of the same bytes.
struct Endless {
    /// The pattern repeated to fill about 64 KiB, so reads are copies.
    block: Vec<u8>,
    read: usize,
}

impl Endless {
    fn new(pattern: &[u8]) -> Endless {
        Endless {
            block: pattern.repeat(65536 / pattern.len()),
            read: 0,
        }
    }
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.block.len());
        buf[..n].copy_from_slice(&self.block[..n]);
        self.read += n;
        Ok(n)
    }
}

impl Write for Endless {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A server that never ends its status line is refused after a bounded
/// number of bytes, not buffered until memory runs out.
#[test]
fn an_endless_status_line_is_refused_after_a_bounded_read() {
    for pattern in [&b"x"[..], b"+OK \r", b"+ AAAA"] {
        let mut s = Session::new(Endless::new(pattern), None);
        assert!(matches!(
            s.read_status_any(),
            Err(ProtoError::LineTooLong(_))
        ));
        assert!(matches!(
            s.read_auth_reply(),
            Err(ProtoError::LineTooLong(_))
        ));
        assert!(s.get_ref().read <= 4 * ((1 << 20) + 64 * 1024));
    }
}

/// A listing that never ends is refused after a bounded number of bytes:
/// a hostile server must not make popfetch buffer without limit. (With
/// the real bounds that is 512 MiB; a smaller one keeps the test quick.)
#[test]
fn an_endless_listing_is_refused_after_a_bounded_read() {
    let bounds = Listing {
        max_bytes: 4 << 20,
        ..UIDL_LISTING
    };
    let uidl = [&b"1 "[..], &[b'u'; 900], b"\r\n"].concat();
    let stuffed = [&[b'.'; 900][..], b"\r\n"].concat();
    for pattern in [uidl, stuffed] {
        let mut s = Session::new(Endless::new(&pattern), None);
        let mut lines = 0usize;
        let r = s.read_listing(&bounds, &mut |_| {
            lines += 1;
            Ok(())
        });
        assert!(matches!(r, Err(ProtoError::Oversized(_))), "{r:?}");
        // 4 MiB of listing, from at most twice that of stuffed lines,
        // and one read buffer more.
        assert!(
            s.get_ref().read <= (8 << 20) + (64 << 10),
            "{}",
            s.get_ref().read
        );
        assert!(lines > 0);
    }
}

// --- CAPA ----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Tags in any case, with any blanks around them, in any order, among
    /// unknown lines: the flags, mechanisms and LOGIN-DELAY come back.
    #[test]
    fn capa_round_trip(
        flags in proptest::collection::vec(any::<bool>(), 8),
        mechs in proptest::collection::vec("[A-Z0-9-]{1,12}", 0..6),
        delay in proptest::option::of((any::<u64>(), any::<bool>())),
        implementation in proptest::option::of("[!-~]([ -~]{0,30}[!-~])?"),
        unknown in proptest::collection::vec("X-[A-Z]{1,8}( [ -~]{0,10})?", 0..4),
        lead in "[ \t]{0,2}",
        trail in "[ \t\r]{0,2}",
        seed in any::<u64>(),
    ) {
        const TAGS: [&str; 8] = ["TOP", "USER", "UIDL", "STLS", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "UTF8"];
        let mut lines: Vec<String> = Vec::new();
        for (tag, on) in TAGS.iter().zip(&flags) {
            if *on {
                lines.push(tag.to_string());
            }
        }
        if !mechs.is_empty() {
            lines.push(format!("SASL {}", mechs.join(" ")));
        }
        if let Some((d, per_user)) = delay {
            lines.push(format!("LOGIN-DELAY {d}{}", if per_user { " USER" } else { "" }));
        }
        if let Some(i) = &implementation {
            lines.push(format!("IMPLEMENTATION {i}"));
        }
        lines.extend(unknown);
        // A deterministic shuffle and case change from the seed.
        let mut x = seed | 1;
        let mut next = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
        for i in (1..lines.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            lines.swap(i, j);
        }
        let lines: Vec<String> = lines
            .into_iter()
            .map(|l| {
                let (tag, rest) = l.split_once(' ').unwrap_or((&l, ""));
                let tag = if next() % 2 == 0 { tag.to_ascii_lowercase() } else { tag.to_string() };
                let sep = if rest.is_empty() { "" } else { " " };
                format!("{lead}{tag}{sep}{rest}{trail}")
            })
            .collect();
        let caps = Capabilities::parse(lines.iter().map(|l| l.as_bytes()));
        let got = [caps.top, caps.user, caps.uidl, caps.stls, caps.pipelining, caps.resp_codes, caps.auth_resp_code, caps.utf8];
        prop_assert_eq!(&got[..], &flags[..]);
        let mut want_mechs: Vec<String> = Vec::new();
        for m in &mechs {
            let m = m.to_ascii_uppercase();
            if !want_mechs.contains(&m) {
                want_mechs.push(m);
            }
        }
        prop_assert_eq!(&caps.sasl, &want_mechs);
        prop_assert_eq!(caps.login_delay, delay.map(|(d, _)| d));
        prop_assert_eq!(caps.login_delay_per_user, delay.is_some_and(|(_, u)| u));
        prop_assert_eq!(caps.implementation, implementation);
        prop_assert_eq!(caps.lines.len(), lines.len());
    }

    /// Arbitrary lines: never a panic, mechanisms upper-cased and without
    /// repeats, every kept line printable.
    #[test]
    fn capa_of_arbitrary_lines(lines in proptest::collection::vec(pop3_bytes(80), 0..20)) {
        let caps = Capabilities::parse(lines.iter().map(Vec::as_slice));
        for (i, m) in caps.sasl.iter().enumerate() {
            prop_assert_eq!(m.to_ascii_uppercase(), m.clone());
            prop_assert!(!caps.sasl[..i].contains(m));
        }
        for l in caps.lines.iter().chain(caps.implementation.iter()) {
            prop_assert!(!l.chars().any(char::is_control), "{l:?}");
        }
    }
}

/// Courier's reply: UTF8 (with an argument) and LOGIN-DELAY are seen.
#[test]
fn courier_style_capa() {
    let reply = "STLS\r\nTOP\r\nUSER\r\nLOGIN-DELAY 10\r\nPIPELINING\r\nUIDL\r\nUTF8 USER\r\n\
                 IMPLEMENTATION Courier Mail Server";
    let caps = Capabilities::parse(reply.split("\r\n").map(str::as_bytes));
    assert!(caps.utf8 && caps.stls && caps.pipelining && caps.uidl);
    assert_eq!(caps.login_delay, Some(10));
    assert!(!Capabilities::parse([&b"UTF8X"[..], b"X-UTF8"]).utf8);
}
