//! Streaming decoder for multi-line reply bodies (RFC 1939 §3): removes
//! dot-stuffing, turns CRLF into LF and finds the terminating `.` line,
//! whatever the chunking of the input.
//!
//! It is the hot path of a fetch, so it works a line at a time: a word-wise
//! search for LF, then one `extend_from_slice` per line. The only state
//! carried between calls is where in a line the previous chunk ended.

/// Where the decoder stands between two bytes of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the first byte of a line.
    LineStart,
    /// Saw a `.` as the first byte of a line.
    Dot,
    /// Saw `.` CR at the start of a line: the terminator if LF follows.
    DotCr,
    /// Inside a line.
    Mid,
    /// Inside a line, the last byte seen was a CR not yet written: it is
    /// dropped if LF follows and kept otherwise.
    MidCr,
    /// The terminator has been consumed.
    Done,
}

/// Decoder of one multi-line body. Create a new one for each reply.
#[derive(Debug, Clone)]
pub struct DotDecoder {
    state: State,
}

impl Default for DotDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DotDecoder {
    pub fn new() -> Self {
        DotDecoder {
            state: State::LineStart,
        }
    }

    /// Decode as much of `input` as possible, appending body bytes to `out`:
    /// dot-unstuffed, CRLF turned into LF (a bare LF stays LF, a CR not
    /// followed by LF is data). Returns `(consumed, finished)`. Once the
    /// `.` line (ending in CRLF or a bare LF) is seen, `finished` is true
    /// and `consumed` is just past it: the rest of `input` is the next
    /// reply. Later calls consume nothing.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        // The output is never longer than the input plus a carried CR.
        out.reserve(input.len() + 1);
        let len = input.len();
        let mut i = 0;
        loop {
            match self.state {
                State::Done => return (i, true),
                State::LineStart => {
                    if i == len {
                        return (i, false);
                    }
                    if input[i] == b'.' {
                        i += 1;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => {
                    if i == len {
                        return (i, false);
                    }
                    match input[i] {
                        b'\n' => {
                            self.state = State::Done;
                            return (i + 1, true);
                        }
                        b'\r' => {
                            i += 1;
                            self.state = State::DotCr;
                        }
                        // A stuffed line: the first dot is dropped, the
                        // rest (even a second dot) is data.
                        _ => self.state = State::Mid,
                    }
                }
                State::DotCr => {
                    if i == len {
                        return (i, false);
                    }
                    if input[i] == b'\n' {
                        self.state = State::Done;
                        return (i + 1, true);
                    }
                    // ".\rX": the dot was stuffing, the CR is data.
                    out.push(b'\r');
                    self.state = State::Mid;
                }
                State::MidCr => {
                    if i == len {
                        return (i, false);
                    }
                    if input[i] == b'\n' {
                        out.push(b'\n');
                        i += 1;
                        self.state = State::LineStart;
                    } else {
                        out.push(b'\r');
                        self.state = State::Mid;
                    }
                }
                State::Mid => {
                    let rest = &input[i..];
                    match find_lf(rest) {
                        Some(p) => {
                            if p > 0 && rest[p - 1] == b'\r' {
                                out.extend_from_slice(&rest[..p - 1]);
                                out.push(b'\n');
                            } else {
                                out.extend_from_slice(&rest[..=p]);
                            }
                            i += p + 1;
                            self.state = State::LineStart;
                        }
                        None => {
                            // Hold back a final CR: the next chunk may start
                            // with its LF.
                            if let Some((&b'\r', body)) = rest.split_last() {
                                out.extend_from_slice(body);
                                self.state = State::MidCr;
                            } else {
                                out.extend_from_slice(rest);
                            }
                            return (len, false);
                        }
                    }
                }
            }
        }
    }

    /// Whether the terminating `.` line has been seen.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the decoder stopped inside a line (including after a lone
    /// `.` that might have become the terminator): a connection that ends
    /// here was cut mid-line.
    pub fn mid_line(&self) -> bool {
        !matches!(self.state, State::LineStart | State::Done)
    }
}

/// Index of the first LF in `hay`. Word-at-a-time, because
/// `iter().position` compiles to a byte loop and this search dominates
/// decoding time.
fn find_lf(hay: &[u8]) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ LF;
        // Classic "has a zero byte" test; the lowest flagged byte is exact
        // (false positives can only appear above a true zero byte).
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(base + (z.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| base + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decode `chunks` in order; returns (body, total consumed, finished).
    fn run(chunks: &[&[u8]]) -> (Vec<u8>, usize, bool) {
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        let mut total = 0;
        for c in chunks {
            let (n, fin) = d.decode(c, &mut out);
            total += n;
            if fin {
                assert!(d.is_finished());
                return (out, total, true);
            }
            assert_eq!(n, c.len(), "an unfinished decode consumes everything");
        }
        (out, total, false)
    }

    /// What a server sends for `body` (lines joined by LF, the last line
    /// ending with LF or not): dot-stuffed, CRLF, terminated.
    fn wire(body: &[u8]) -> Vec<u8> {
        let mut w = Vec::new();
        if !body.is_empty() {
            let trimmed = body.strip_suffix(b"\n").unwrap_or(body);
            for line in trimmed.split(|&b| b == b'\n') {
                if line.first() == Some(&b'.') {
                    w.push(b'.');
                }
                w.extend_from_slice(line);
                w.extend_from_slice(b"\r\n");
            }
        }
        w.extend_from_slice(b".\r\n");
        w
    }

    /// The body the client should store: every line LF-terminated.
    fn expected(body: &[u8]) -> Vec<u8> {
        let mut e = body.to_vec();
        if !e.is_empty() && !e.ends_with(b"\n") {
            e.push(b'\n');
        }
        e
    }

    #[test]
    fn basic_message() {
        let input = b"Subject: hi\r\n\r\nbody\r\n.\r\n";
        let (out, n, fin) = run(&[input]);
        assert!(fin);
        assert_eq!(n, input.len());
        assert_eq!(out, b"Subject: hi\n\nbody\n");
    }

    #[test]
    fn empty_body() {
        assert_eq!(run(&[b".\r\n"]), (vec![], 3, true));
        assert_eq!(run(&[b".\n"]), (vec![], 2, true));
    }

    #[test]
    fn unstuffing() {
        let (out, _, fin) = run(&[b"..\r\n...\r\n..x\r\n.x\r\nx.\r\n. \r\n.\r\n"]);
        assert!(fin);
        assert_eq!(out, b".\n..\n.x\nx\nx.\n \n");
    }

    #[test]
    fn dot_cr_not_followed_by_lf_is_data() {
        let (out, _, fin) = run(&[b".\rx\r\n.\r\r\n.\r\n"]);
        assert!(fin);
        assert_eq!(out, b"\rx\n\r\n");
    }

    #[test]
    fn lone_cr_inside_lines_is_kept() {
        let (out, _, _) = run(&[b"a\rb\r\n\r\r\nc\r\r\r\n.\r\n"]);
        assert_eq!(out, b"a\rb\n\r\nc\r\r\n");
    }

    #[test]
    fn bare_lf_server_and_dot_lf_terminator() {
        let input = b"From: x\n\n..hidden\nend\n.\nNEXT";
        let (out, n, fin) = run(&[input]);
        assert!(fin);
        assert_eq!(out, b"From: x\n\n.hidden\nend\n");
        assert_eq!(&input[n..], b"NEXT");
    }

    #[test]
    fn mixed_line_endings() {
        let (out, _, fin) = run(&[b"a\r\nb\nc\r\n.\n"]);
        assert!(fin);
        assert_eq!(out, b"a\nb\nc\n");
    }

    #[test]
    fn text_dot_crlf_is_not_a_terminator() {
        // The last line lacked a newline and the server did not add one:
        // "text." is data and the body is not finished.
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        let (n, fin) = d.decode(b"line\r\ntext.\r\n", &mut out);
        assert_eq!((n, fin), (13, false));
        assert!(!d.mid_line());
        assert_eq!(out, b"line\ntext.\n");
    }

    #[test]
    fn pipelined_trailing_bytes_are_left() {
        let input = b"a\r\n.\r\n+OK next\r\n";
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        let (n, fin) = d.decode(input, &mut out);
        assert!(fin);
        assert_eq!(&input[n..], b"+OK next\r\n");
        // Once finished, nothing more is consumed or written.
        assert_eq!(d.decode(b"more", &mut out), (0, true));
        assert_eq!(out, b"a\n");
    }

    #[test]
    fn split_terminator_byte_by_byte() {
        let input = b"x\r\n..\r\n.\r\nRESTX";
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        let mut consumed = 0;
        for (i, b) in input.iter().enumerate() {
            let (n, fin) = d.decode(std::slice::from_ref(b), &mut out);
            consumed += n;
            if fin {
                assert_eq!(i, 9, "finishes on the terminator's LF");
                break;
            }
        }
        assert_eq!(consumed, 10);
        assert_eq!(out, b"x\n.\n");
    }

    #[test]
    fn mid_line_reporting() {
        let mut d = DotDecoder::new();
        let mut out = Vec::new();
        assert!(!d.mid_line());
        d.decode(b"abc", &mut out);
        assert!(d.mid_line());
        d.decode(b"\r", &mut out);
        assert!(d.mid_line());
        d.decode(b"\n", &mut out);
        assert!(!d.mid_line());
        d.decode(b".", &mut out);
        assert!(d.mid_line(), "a lone dot is not yet a terminator");
        d.decode(b"\r", &mut out);
        assert!(d.mid_line());
        assert!(!d.is_finished());
        d.decode(b"\n", &mut out);
        assert!(d.is_finished() && !d.mid_line());
        assert_eq!(out, b"abc\n");
    }

    #[test]
    fn long_line() {
        let mut body = vec![b'y'; 300_000];
        body.extend_from_slice(b"\n.z\n");
        let w = wire(&body);
        let chunks: Vec<&[u8]> = w.chunks(4096).collect();
        let (out, n, fin) = run(&chunks);
        assert!(fin);
        assert_eq!(n, w.len());
        assert_eq!(out, body);
    }

    #[test]
    fn find_lf_agrees_with_position() {
        for len in 0..40 {
            for at in 0..=len {
                let mut v = vec![b'a'; len];
                if at < len {
                    v[at] = b'\n';
                    // Bytes that trip naive zero-byte tricks.
                    if at + 1 < len {
                        v[at + 1] = 0x0b;
                    }
                }
                if at > 0 {
                    v[at - 1] = 0x8a;
                }
                assert_eq!(find_lf(&v), v.iter().position(|&b| b == b'\n'), "{v:?}");
            }
        }
    }

    fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            Just(b"".to_vec()),
            Just(b".".to_vec()),
            Just(b"..".to_vec()),
            Just(b".\r".to_vec()),
            Just(b"From me".to_vec()),
            Just(b">From me".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"a\rb".to_vec()),
            "[.]{0,3}[ -~\r]{0,20}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..30),
            (1usize..5000).prop_map(|n| vec![b'L'; n]),
        ];
        (proptest::collection::vec(line, 0..30), any::<bool>()).prop_map(|(lines, last_nl)| {
            let mut body = lines.join(&b'\n');
            if last_nl && !body.is_empty() {
                body.push(b'\n');
            }
            body
        })
    }

    /// Cut `data` at the given fractions into chunks.
    fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for p in points {
            chunks.push(&data[prev..p]);
            prev = p;
        }
        chunks.push(&data[prev..]);
        chunks
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_body_any_chunking(
            body in body_strategy(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            trailer in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let mut stream = wire(&body);
            let end = stream.len();
            stream.extend_from_slice(&trailer);
            let chunks = split(&stream, &cuts);
            let (out, consumed, fin) = run(&chunks);
            prop_assert!(fin);
            prop_assert_eq!(consumed, end);
            prop_assert_eq!(out, expected(&body));
        }

        #[test]
        fn bare_lf_server_any_chunking(
            body in body_strategy().prop_filter("no CR at a line end", |b| {
                !b.windows(2).any(|w| w == b"\r\n") && !b.ends_with(b"\r")
            }),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut stream: Vec<u8> = Vec::new();
            let crlf = wire(&body);
            // Same stuffing, LF line ends.
            let mut i = 0;
            while i < crlf.len() {
                if crlf[i..].starts_with(b"\r\n") {
                    stream.push(b'\n');
                    i += 2;
                } else {
                    stream.push(crlf[i]);
                    i += 1;
                }
            }
            let end = stream.len();
            stream.extend_from_slice(b"+OK");
            let (out, consumed, fin) = run(&split(&stream, &cuts));
            prop_assert!(fin);
            prop_assert_eq!(consumed, end);
            prop_assert_eq!(out, expected(&body));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut d = DotDecoder::new();
            let mut out = Vec::new();
            let mut total = 0;
            for c in split(&data, &cuts) {
                let (n, fin) = d.decode(c, &mut out);
                prop_assert!(n <= c.len());
                total += n;
                if fin { break; }
            }
            prop_assert!(out.len() <= total + 1);
        }
    }
}
