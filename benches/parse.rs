//! Throughput of the hot pure code of a fetch: the multi-line body decoder
//! (dot-unstuffing, CRLF -> LF, finding the terminator), the status-line
//! parser and the mboxrd `From ` quoting. `cargo bench --bench parse`
//! reports bytes per second.
//!
//! Bodies are built the way a server sends them: CRLF line endings, dot
//! stuffing, the terminating `.` line; a mix of prose lines of varying length
//! (some starting with a dot) and a base64 attachment with 76-character
//! lines, as in real mail.

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use popfetch::parse_status;
use popfetch::{DotDecoder, FromQuoter};

fn main() {
    divan::main();
}

/// Deterministic pseudo-random numbers (xorshift64), so every run measures
/// the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

const WORDS: &[&str] = &[
    "the", "mail", "server", "message", "fetch", "budget", "meeting", "Grüße", "attached",
    "please", "review", "tomorrow", "invoice", "project", "regards", "café", "schedule",
];
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A dot-stuffed, CRLF-terminated multi-line body of about `size` bytes:
/// one third prose (2 % of lines start with a dot), two thirds base64.
fn wire_body(size: usize, seed: u64) -> Vec<u8> {
    let mut out = body(size, seed, b"..", b"\r\n");
    out.extend_from_slice(b".\r\n");
    out
}

/// A message as it is stored, LF line endings, of about `size` bytes: one
/// third prose (2 % of lines start with "From "), two thirds base64.
fn stored_body(size: usize, seed: u64) -> Vec<u8> {
    body(size, seed, b"From ", b"\n")
}

/// One third prose, 2 % of whose lines start with `odd`, then base64, each
/// line ended with `eol`.
fn body(size: usize, seed: u64, odd: &[u8], eol: &[u8]) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(size + 128);
    while out.len() < size / 3 {
        if rng.below(50) == 0 {
            out.extend_from_slice(odd);
        }
        let target = 10 + rng.below(70);
        let start = out.len();
        while out.len() - start < target {
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64)].as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(eol);
    }
    while out.len() < size {
        for _ in 0..76 {
            out.push(B64[rng.below(64)]);
        }
        out.extend_from_slice(eol);
    }
    out
}

/// The whole body in one buffer.
#[divan::bench(args = [8 * 1024, 1024 * 1024])]
fn dot_decode(bencher: Bencher, size: usize) {
    let input = wire_body(size, 0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(input.len());
    bencher
        .counter(BytesCount::of_slice(&input))
        .bench_local(|| {
            out.clear();
            let mut decoder = DotDecoder::new();
            let (used, done) = decoder.decode(black_box(&input), &mut out);
            black_box((used, done, out.len()))
        });
}

/// The body as it comes off a TLS stream: 16 KB reads (one TLS record
/// each), so lines straddle chunk boundaries.
#[divan::bench(args = [1024 * 1024])]
fn dot_decode_16k_chunks(bencher: Bencher, size: usize) {
    let input = wire_body(size, 0x2545_f491_4f6c_dd1d);
    let mut out = Vec::with_capacity(input.len());
    bencher
        .counter(BytesCount::of_slice(&input))
        .bench_local(|| {
            out.clear();
            let mut decoder = DotDecoder::new();
            for chunk in black_box(&input).chunks(16 * 1024) {
                decoder.decode(chunk, &mut out);
            }
            black_box((decoder.is_finished(), out.len()))
        });
}

/// Status lines as Dovecot sends them during a fetch, CRLF removed.
const STATUS_LINES: &[&[u8]] = &[
    b"+OK Dovecot (Debian) ready.",
    b"+OK Logged in.",
    b"+OK 5000 messages:",
    b"+OK 12345 octets",
    b"+OK",
    b"-ERR [IN-USE] Mailbox is locked by another POP3 session.",
    b"-ERR [AUTH] Authentication failed.",
    b"+OK Logging out.",
];

#[divan::bench]
fn status_lines(bencher: Bencher) {
    let bytes: usize = STATUS_LINES.iter().map(|l| l.len()).sum();
    bencher.counter(BytesCount::new(bytes)).bench(|| {
        for line in black_box(STATUS_LINES) {
            let _ = black_box(parse_status(line));
        }
    });
}

/// mboxrd quoting of 1 MB, in 16 KB pieces as a message arrives: an
/// ordinary message, and one line of nothing but '>' (the worst case for a
/// line start that could still turn out to be `>*From `).
#[divan::bench(args = ["ordinary", "one line of '>'"])]
fn mbox_quote(bencher: Bencher, kind: &str) {
    const SIZE: usize = 1024 * 1024;
    let input = match kind {
        "ordinary" => stored_body(SIZE, 0x5851_f42d_4c95_7f2d),
        _ => vec![b'>'; SIZE],
    };
    let mut out = Vec::with_capacity(input.len() + 1024);
    bencher
        .counter(BytesCount::of_slice(&input))
        .bench_local(|| {
            out.clear();
            let mut quoter = FromQuoter::default();
            for chunk in black_box(&input).chunks(16 * 1024) {
                quoter.push(chunk, &mut out);
            }
            quoter.finish(&mut out);
            black_box(out.len())
        });
}
