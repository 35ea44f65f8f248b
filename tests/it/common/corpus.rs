//! A seeded corpus of realistic messages with the bytes that break POP3
//! clients: lines that are exactly "." or "..", lines starting with dots,
//! "From " and ">From " lines, 8-bit UTF-8, lines of thousands of characters,
//! empty lines, trailing white space, a final "." line, a message with an
//! empty body, and multipart/mixed messages with base64 attachments from a
//! few hundred bytes to several hundred kilobytes.
//!
//! Messages use LF line endings and end with a newline, as a Maildir holds
//! them and as popfetch must deliver them (Dovecot serves CRLF, popfetch
//! converts back). No message contains a CR. The same seed always gives the
//! same bytes, so a failure can be reproduced.

use base64::Engine as _;

/// xorshift64*: small, fast, good enough to vary test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 once, so nearby seeds give unrelated streams and the
        // state is never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "mail",
    "server",
    "quarterly",
    "report",
    "attached",
    "please",
    "review",
    "before",
    "Monday",
    "meeting",
    "notes",
    "invoice",
    "shipping",
    "delayed",
    "thanks",
    "regards",
    "schedule",
    "budget",
    "draft",
    "final",
    "version",
    "comments",
    "welcome",
    "lunch",
    "project",
    "update",
    "deadline",
    "tomorrow",
    "agenda",
    "minutes",
    "question",
    "answer",
];

const NAMES: &[&str] = &[
    "Alice Martin",
    "Bob Okafor",
    "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=",
    "Zoë Ångström",
    "Carol O'Neil",
    "\"Dr. Eve Smith, PhD\"",
    "李雷",
];

const UTF8_LINES: &[&str] = &[
    "Grüße aus Köln — naïve café, déjà vu, smørrebrød.",
    "日本語のテキストも正しく届くはずです。",
    "Привет! Это письмо в кодировке UTF-8.",
    "Emoji survive too: 📬 ✉️ 🚀",
    "Ελληνικά: καλημέρα κόσμε",
];

/// Lines that POP3 dot-stuffing and mbox quoting must get right.
const TRICKY_LINES: &[&str] = &[
    ".",
    "..",
    "...",
    ".leading dot",
    "..two leading dots",
    ". a dot and a space",
    "From the desk of the treasurer",
    "From ",
    ">From quoted once",
    ">>From quoted twice",
    "From: not a header, just body text",
    "-- ",
    "trailing white space   \t",
    "\t indented with a tab",
    "",
    "",
];

fn words(rng: &mut Rng, min_len: usize, max_len: usize) -> String {
    let target = rng.range(min_len, max_len);
    let mut s = String::new();
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(rng.pick::<&str>(WORDS));
    }
    s
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An RFC 5322 date for a Unix time, in UTC.
pub fn rfc5322_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

/// A text body: prose mixed with the tricky lines, some 8-bit text and
/// occasionally a line of thousands of characters.
fn text_body(rng: &mut Rng, everything: bool) -> String {
    let mut lines: Vec<String> = Vec::new();
    let n = rng.range(3, 30);
    for _ in 0..n {
        let line = match rng.below(20) {
            0..=9 => words(rng, 10, 72),
            10..=12 => rng.pick(TRICKY_LINES).to_string(),
            13..=14 => rng.pick(UTF8_LINES).to_string(),
            15 if rng.chance(40) => words(rng, 2_000, 6_000),
            _ => String::new(),
        };
        lines.push(line);
    }
    if everything {
        lines.extend(TRICKY_LINES.iter().map(|s| s.to_string()));
        lines.extend(UTF8_LINES.iter().map(|s| s.to_string()));
        lines.push(words(rng, 2_500, 3_000));
    }
    let mut body = lines.join("\n");
    body.push('\n');
    body
}

fn base64_lines(data: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b64.len() + b64.len() / 76 + 1);
    for chunk in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Message `index` of the corpus for `seed`. Independent of the others, so
/// any one can be regenerated alone.
pub fn message(seed: u64, index: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
    let sender = format!("sender{}@example.org", rng.below(40));
    let name = rng.pick(NAMES).to_string();
    let date = rfc5322_date(1_700_000_000 + index as i64 * 2_221 + rng.below(600) as i64);
    let mut subject = format!("[{index}] {}", words(&mut rng, 8, 50));
    if rng.chance(15) {
        subject.push_str(" — Grüße");
    }
    let mut h = String::new();
    h.push_str(&format!("Return-Path: <{sender}>\n"));
    h.push_str(&format!("From: {name} <{sender}>\n"));
    h.push_str("To: Alice <alice@example.net>\n");
    if rng.chance(20) {
        // A folded header.
        h.push_str("Cc: bob@example.net,\n carol@example.net,\n\tdave@example.net\n");
    }
    h.push_str(&format!("Subject: {subject}\n"));
    h.push_str(&format!("Date: {date}\n"));
    h.push_str(&format!(
        "Message-ID: <{seed:x}.{index}.{:x}@corpus.popfetch.test>\n",
        rng.next_u64()
    ));
    h.push_str("MIME-Version: 1.0\n");

    let everything = index == 0 || rng.chance(5);
    let body = if index % 50 == 17 {
        // Headers only: an empty body.
        h.push_str("Content-Type: text/plain; charset=utf-8\n");
        String::new()
    } else if rng.chance(35) {
        let boundary = format!("=_popfetch_{index}_{:x}", rng.next_u64());
        h.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\n"
        ));
        let mut b = String::from("This is a multi-part message in MIME format.\n\n");
        b.push_str(&format!("--{boundary}\n"));
        b.push_str("Content-Type: text/plain; charset=utf-8\n");
        b.push_str("Content-Transfer-Encoding: 8bit\n\n");
        b.push_str(&text_body(&mut rng, everything));
        for k in 0..rng.range(1, 2) {
            let size = if rng.chance(4) {
                rng.range(200_000, 600_000)
            } else {
                rng.range(100, 30_000)
            };
            b.push_str(&format!("\n--{boundary}\n"));
            b.push_str(&format!(
                "Content-Type: application/octet-stream; name=\"file{index}-{k}.bin\"\n"
            ));
            b.push_str("Content-Transfer-Encoding: base64\n");
            b.push_str(&format!(
                "Content-Disposition: attachment; filename=\"file{index}-{k}.bin\"\n\n"
            ));
            b.push_str(&base64_lines(&rng.bytes(size)));
        }
        b.push_str(&format!("\n--{boundary}--\n"));
        b
    } else {
        h.push_str("Content-Type: text/plain; charset=utf-8\n");
        h.push_str("Content-Transfer-Encoding: 8bit\n");
        let mut b = text_body(&mut rng, everything);
        if index % 7 == 3 {
            // The last line is a lone dot: right before the terminator.
            b.push_str(".\n");
        }
        b
    };
    let mut msg = h.into_bytes();
    msg.push(b'\n');
    msg.extend_from_slice(body.as_bytes());
    debug_assert!(!msg.contains(&b'\r') && msg.ends_with(b"\n"));
    msg
}

/// `n` messages for `seed`.
pub fn corpus(seed: u64, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| message(seed, i)).collect()
}

/// The message as a POP3 server sends it after `RETR`: CRLF line endings,
/// dot-stuffed, terminated by ".\r\n".
pub fn pop3_wire(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 20 + 8);
    for line in msg.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
