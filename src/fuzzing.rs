//! Fuzz targets: one function per parser, each taking arbitrary bytes and
//! panicking only when an invariant breaks (a round trip that is not
//! exact, text that is not printable, an error without its place). Only
//! built for the tests and with the `fuzzing` feature, which the AFL++
//! harness in `fuzz/` turns on; `scripts/fuzz.sh` runs them.
//!
//! Without AFL++, [`run_for`] drives a target with mutated seeds for a
//! time budget (no coverage feedback): that is what CI runs.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::auth::sasl::{Mechanism, SaslClient};
use crate::config::{ConfigError, Env, Netrc, parse_file};
use crate::deliver::{mbox_quote, mbox_unquote};
use crate::protocol::capa::Capabilities;
use crate::protocol::multiline::DotDecoder;
use crate::protocol::response::{
    AuthReply, MAX_TEXT_CHARS, parse_auth_reply, parse_list_line, parse_status, parse_uidl_line,
};
use crate::secret::Secret;
use crate::state::UidState;
use crate::state::journal;

/// A fuzz target: a name, the function, and seeds to start from.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub seeds: &'static [&'static [u8]],
}

/// Every target, one per parser.
pub const TARGETS: &[Target] = &[
    Target {
        name: "status",
        run: status,
        seeds: &[
            b"+OK dovecot ready.",
            b"-ERR [IN-USE] locked",
            b"-ERR [SYS/TEMP/DISK] full\r",
            b"+ok",
        ],
    },
    Target {
        name: "auth_reply",
        run: auth_reply,
        seeds: &[b"+ PDE4OTY+", b"+", b"+OK logged in", b"-ERR [AUTH] no"],
    },
    Target {
        name: "listing",
        run: listing,
        seeds: &[b"1 1234", b"  12\t\tabc  \r", b"3 100%\xff\x00", b"4294967295 1"],
    },
    Target {
        name: "dot_decoder",
        run: dot_decoder,
        seeds: &[
            b"\x07Subject: hi\r\n\r\n..dot\r\n.\r\nNEXT",
            b"\x01.\rx\r\n.\r\r\n.\n",
            b"\x03a\rb\nFrom x\n>From y\n.",
        ],
    },
    Target {
        name: "capa",
        run: capa,
        seeds: &[
            b"TOP\nUIDL\nSASL PLAIN LOGIN\nLOGIN-DELAY 900 USER\nIMPLEMENTATION Dovecot",
            b"sasl  cram-md5\txoauth2 \r\nstls",
        ],
    },
    Target {
        name: "sasl",
        run: sasl,
        seeds: &[
            b"\x03\xffcj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\xffdj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9",
            b"\x02\xffPDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuY29tPg==",
            b"\x01\xffVXNlcm5hbWU6\xffUGFzc3dvcmQ6",
            b"\x05\xffeyJzdGF0dXMiOiI0MDEifQ==",
        ],
    },
    Target {
        name: "state",
        run: state,
        seeds: &[
            b"# popfetch state\nabc 2024-01-04T09:05:01Z delivered\n%23x 1970-01-01T00:00:00Z seen\n",
            b"u 9999-12-31T23:59:59Z seen\r\n\n# c\n",
        ],
    },
    Target {
        name: "journal",
        run: journal,
        seeds: &[b"B u1 1700000000.000001P1Q1\nD u1\nB u2 t2\n", b"B a t\nD a\nB a t2\nD"],
    },
    Target {
        name: "config",
        run: config,
        seeds: &[
            b"[defaults]\nkeep = true\ntimeout = 30\n\n[account.work]\nhost = \"pop.example.com\"\nuser = \"a\"\npassword_command = [\"pass\", \"show\"]\nmaildir = \"~/Mail\"\nmax_size = \"10M\"\n",
            b"[account.w]\nhost = \"h\"\n  prot = 995\ntls_fingerprint = \"sha256:00\"\n",
        ],
    },
    Target {
        name: "netrc",
        run: netrc,
        seeds: &[
            b"machine h login u password p\ndefault login anon password guest\n",
            b"macdef init\ncd /pub\n\nmachine h login \"a b\" password \"p\\\"w d\"\n",
        ],
    },
    Target {
        name: "mbox_quote",
        run: mbox_quote_target,
        seeds: &[
            b"\x05From a\n>From b\n>>From c\nFrom\nFromage\n> From d\n>From",
            b"\x02Subject: x\n\nFrom here\n",
        ],
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// Status lines: `+OK`/`-ERR` in any case parse, to capped printable
/// text; anything else is refused with a short printable quote.
pub fn status(data: &[u8]) {
    let upper = data.to_ascii_uppercase();
    let is_status = upper.starts_with(b"+OK") || upper.starts_with(b"-ERR");
    match parse_status(data) {
        Ok(st) => {
            assert!(is_status);
            assert_eq!(st.ok, upper.starts_with(b"+OK"));
            assert!(st.text.chars().count() <= MAX_TEXT_CHARS + 1);
            assert!(printable(&st.text));
        }
        Err(e) => {
            assert!(!is_status, "{e}");
            let shown = e.to_string();
            assert!(printable(&shown) && shown.len() < 400, "{shown:?}");
        }
    }
}

/// SASL reply lines: the end of the exchange agrees with the status
/// parser, a challenge is the line's own bytes.
pub fn auth_reply(data: &[u8]) {
    match parse_auth_reply(data) {
        Ok(AuthReply::Done(st)) => assert_eq!(Some(st), parse_status(data).ok()),
        Ok(AuthReply::Challenge(c)) => {
            assert!(data.starts_with(b"+"));
            assert_eq!(c.trim_ascii(), &c[..]);
            assert!(c.is_empty() || data.windows(c.len()).any(|w| w == &c[..]));
        }
        Err(e) => assert!(printable(&e.to_string())),
    }
}

/// LIST and UIDL lines: message numbers from 1, UIDs printable, spaceless
/// and non-empty.
pub fn listing(data: &[u8]) {
    if let Ok((n, _)) = parse_list_line(data) {
        assert!(n >= 1);
    }
    if let Ok((n, uid)) = parse_uidl_line(data) {
        assert!(n >= 1 && !uid.is_empty());
        assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uid:?}");
    }
}

/// Decodes `input` in chunks of `size` bytes: (output, consumed, finished).
fn decode_in_chunks(input: &[u8], size: usize) -> (Vec<u8>, usize, bool) {
    let mut d = DotDecoder::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    for chunk in input.chunks(size.max(1)) {
        let before = out.len();
        let (n, fin) = d.decode(chunk, &mut out);
        assert!(n <= chunk.len() && out.len() - before <= n + 1);
        consumed += n;
        if fin {
            return (out, consumed, true);
        }
        assert_eq!(n, chunk.len());
    }
    (out, consumed, false)
}

/// The body decoder: the first byte picks a chunk size; decoding in
/// chunks gives what decoding in one go does; and the rest, taken as a
/// message, survives dot-stuffing and CRLF on the wire.
pub fn dot_decoder(data: &[u8]) {
    let Some((&size, input)) = data.split_first() else {
        return;
    };
    let whole = decode_in_chunks(input, input.len().max(1));
    assert_eq!(decode_in_chunks(input, usize::from(size % 17) + 1), whole);

    let wire = wire_form(input);
    let mut want = input.to_vec();
    if !want.is_empty() && !want.ends_with(b"\n") {
        want.push(b'\n');
    }
    let (out, consumed, fin) = decode_in_chunks(&wire, usize::from(size % 29) + 1);
    assert!(fin && consumed == wire.len());
    assert_eq!(out, want);
}

/// What a server sends for a message held with LF line endings: a dot
/// before every line that starts with one, CRLF for LF (and after a last
/// line without it), then the terminating line.
pub fn wire_form(msg: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(msg.len() + msg.len() / 16 + 8);
    let mut line_start = true;
    for &b in msg {
        if line_start && b == b'.' {
            wire.push(b'.');
        }
        if b == b'\n' {
            wire.push(b'\r');
        }
        wire.push(b);
        line_start = b == b'\n';
    }
    if !line_start {
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

/// CAPA, one line per LF: mechanisms upper-cased without repeats, every
/// kept line printable.
pub fn capa(data: &[u8]) {
    let caps = Capabilities::parse(data.split(|&b| b == b'\n'));
    for (i, m) in caps.sasl.iter().enumerate() {
        assert_eq!(&m.to_ascii_uppercase(), m);
        assert!(!caps.sasl[..i].contains(m));
    }
    for l in caps.lines.iter().chain(caps.implementation.iter()) {
        assert!(printable(l), "{l:?}");
    }
}

/// A password no fuzzer will write by chance.
const FUZZ_SECRET: &str = "fz-Secret-93ab7Kq";

/// SASL: the first byte picks the mechanism (and whether the initial
/// response goes first), the rest is challenges separated by 0xFF.
/// Nothing panics and no error shows the secret.
pub fn sasl(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mechs = Mechanism::ALL;
    let mech = mechs[usize::from(pick) % mechs.len()];
    let secret = Secret::new(FUZZ_SECRET.to_string());
    let mut c = SaslClient::with_nonce(mech, "user,=x", &secret, "fyko+d2lbbFgONRv9qkxdawL");
    if pick & 0x80 != 0 {
        let _ = c.initial_response();
    }
    for challenge in rest.split(|&b| b == 0xff) {
        if let Err(e) = c.respond(challenge) {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(FUZZ_SECRET), "{shown}");
        }
        if let Some(m) = c.server_message() {
            assert!(printable(m));
        }
    }
}

/// The state file: what parses renders to text that parses to the same
/// state; an error names a line of the text.
pub fn state(data: &[u8]) {
    match UidState::parse(data) {
        Ok(s) => assert_eq!(UidState::parse(&s.render()), Ok(s)),
        Err(e) => assert!(e.line >= 1 && e.line <= data.split(|&b| b == b'\n').count()),
    }
}

/// The journal: what parses, written back as records, parses the same; an
/// error names a line of the journal.
pub fn journal(data: &[u8]) {
    match journal::parse(data) {
        Ok(records) => {
            let mut out = Vec::new();
            for r in &records {
                journal::encode_begin(&mut out, &r.uid, &r.token);
                if r.done {
                    journal::encode_done(&mut out, &r.uid);
                }
            }
            assert_eq!(journal::parse(&out), Ok(records));
        }
        Err(e) => assert!(e.line >= 1 && e.line <= data.split(|&b| b == b'\n').count()),
    }
}

/// `FILE:LINE:COL` of a config error, within `text`.
fn located(at: &str, path: &Path, text: &str) -> bool {
    let Some(rest) = at.strip_prefix(&format!("{}:", path.display())) else {
        return false;
    };
    let mut parts = rest.splitn(2, ':').map(str::parse::<usize>);
    let (Some(Ok(line)), Some(Ok(col))) = (parts.next(), parts.next()) else {
        return false;
    };
    let lines: Vec<&str> = text.split('\n').collect();
    line >= 1 && line <= lines.len() && col >= 1 && col <= lines[line - 1].chars().count() + 1
}

/// The config file (taken as UTF-8, lossily): every error is located.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/fuzz/config.toml");
    match parse_file(path, &text, &Env::default()) {
        Ok(_) => {}
        Err(ConfigError::Syntax { at, .. } | ConfigError::Invalid { at, .. }) => {
            assert!(located(&at, path, &text), "{at}");
        }
        Err(other) => panic!("an error without a place: {other}"),
    }
}

/// `.netrc` (as UTF-8, lossily): no panic, and the `Debug` form shows no
/// password.
pub fn netrc(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let n = Netrc::parse(&text);
    let _ = n.password("h", "u");
    if let Some(pw) = n.password("h", "u").filter(|p| p.len() > 3) {
        assert!(!format!("{n:?}").contains(pw));
    }
}

/// mboxrd quoting: the first byte picks a chunk size; quoting in chunks is
/// quoting whole, leaves no `From ` line, and unquotes exactly.
pub fn mbox_quote_target(data: &[u8]) {
    let Some((&size, msg)) = data.split_first() else {
        return;
    };
    let whole = mbox_quote(msg, msg.len().max(1));
    assert_eq!(mbox_quote(msg, usize::from(size % 13) + 1), whole);
    assert!(
        !whole
            .split(|&b| b == b'\n')
            .any(|l| l.starts_with(b"From "))
    );
    assert_eq!(mbox_unquote(&whole), msg);
}

/// xorshift64*, for the budget runner's mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes worth inserting: the tokens the parsers look for.
const DICTIONARY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b".\r\n",
    b"..",
    b"+OK",
    b"-ERR",
    b"[",
    b"]",
    b"/",
    b"SASL ",
    b"From ",
    b">",
    b"=",
    b",",
    b"r=",
    b"s=",
    b"i=",
    b"v=",
    b"e=",
    b"\"",
    b"\\",
    b"[account.",
    b"[defaults]",
    b"machine ",
    b"password ",
    b"macdef ",
    b"B ",
    b"D ",
    b"%23",
    b"#",
    b" ",
    b"\t",
    b"\xff",
    b"\xc3\xa9",
    b"\x00",
];

/// One mutated input: a seed (or another input) changed a few times.
fn mutate(rng: &mut Rng, seeds: &[&[u8]], prev: &[u8]) -> Vec<u8> {
    let mut v = if rng.below(4) == 0 {
        prev.to_vec()
    } else {
        seeds[rng.below(seeds.len())].to_vec()
    };
    for _ in 0..=rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = rng.next() as u8;
            }
            2 => {
                let tok = DICTIONARY[rng.below(DICTIONARY.len())];
                v.splice(at..at, tok.iter().copied());
            }
            3 if at < v.len() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            4 if at < v.len() => {
                let end = (at + 1 + rng.below(32)).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            5 => {
                let other = seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                v.splice(at..at, other[from..].iter().copied());
            }
            6 => v.truncate(at),
            _ => {
                let n = rng.below(8);
                v.splice(at..at, (0..n).map(|_| rng.next() as u8));
            }
        }
    }
    v.truncate(4096);
    v
}

/// Runs `target` on its seeds, then on mutated inputs (256 at least) until
/// `budget` has passed. Returns the number of executions. A panic propagates, after
/// the offending input is printed (as escaped bytes) to stderr.
pub fn run_for(target: &Target, budget: Duration, seed: u64) -> u64 {
    let start = Instant::now();
    let mut rng = Rng(seed | 1);
    let mut execs = 0u64;
    let mut prev: Vec<u8> = Vec::new();
    let check = |input: &[u8]| {
        let r = std::panic::catch_unwind(|| (target.run)(input));
        if let Err(e) = r {
            eprintln!(
                "fuzz target {} failed on input \"{}\"",
                target.name,
                input.escape_ascii()
            );
            std::panic::resume_unwind(e);
        }
    };
    for s in target.seeds {
        check(s);
        execs += 1;
    }
    loop {
        for _ in 0..256 {
            let input = mutate(&mut rng, target.seeds, &prev);
            check(&input);
            prev = input;
            execs += 1;
        }
        if start.elapsed() >= budget {
            return execs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target passes on its seeds and a few hundred mutations of
    /// them: quick enough for every test run.
    #[test]
    fn every_target_passes_its_seeds() {
        for t in TARGETS {
            run_for(t, Duration::ZERO, 1);
        }
        let mut names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len());
        assert!(target("status").is_some() && target("nope").is_none());
    }

    /// The fuzzing budget run: `POPFETCH_FUZZ_SECONDS` (default 2) per
    /// target, seeded by `POPFETCH_FUZZ_SEED` (default: the clock, printed
    /// so that a failure can be repeated). CI and `scripts/fuzz.sh` run
    /// it with `--ignored`.
    #[test]
    #[ignore = "a time-budgeted fuzz run: cargo test --lib fuzzing -- --ignored"]
    fn budget() {
        let secs: f64 = std::env::var("POPFETCH_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0);
        let seed: u64 = std::env::var("POPFETCH_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("fuzz budget: {secs} s per target, POPFETCH_FUZZ_SEED={seed}");
        for t in TARGETS {
            let execs = run_for(t, Duration::from_secs_f64(secs), seed);
            eprintln!("fuzz {:<12} {execs:>10} executions", t.name);
        }
    }
}
