//! Throughput of the hot pure code of a fetch: the multi-line body decoder
//! (dot-unstuffing, CRLF -> LF, finding the terminator) and the status-line
//! parser. `cargo bench --bench parse` reports bytes per second.
//!
//! Bodies are built the way a server sends them: CRLF line endings, dot
//! stuffing, the terminating `.` line; a mix of prose lines of varying length
//! (some starting with a dot) and a base64 attachment with 76-character
//! lines, as in real mail.

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use popfetch::DotDecoder;
use popfetch::parse_status;

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
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(size + 128);
    while out.len() < size / 3 {
        if rng.below(50) == 0 {
            // A line starting with a dot goes out stuffed.
            out.extend_from_slice(b"..");
        }
        let target = 10 + rng.below(70);
        let start = out.len();
        while out.len() - start < target {
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64)].as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(b"\r\n");
    }
    while out.len() < size {
        for _ in 0..76 {
            out.push(B64[rng.below(64)]);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
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
