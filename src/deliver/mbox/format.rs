//! The mboxrd format: the `From ` line that starts each message, and the
//! quoting of lines in its body that would look like one.
//!
//! Every line matching `>*From ` is given one more `>`, so quoting reverses
//! exactly: drop one `>` from every line matching `>+From `.

use crate::deliver::envelope::Sender;

/// `From <sender> <asctime in UTC>\n`.
pub(super) fn from_line(sender: &Sender, when: jiff::Timestamp) -> String {
    format!(
        "From {} {}\n",
        sender.for_from_line(),
        when.strftime("%a %b %e %H:%M:%S %Y")
    )
}

/// Streaming mboxrd quoting: a `>` before every line that matches
/// `>*From `, whatever the chunk boundaries.
///
/// The start of a line that could still match is not buffered: it is
/// always some '>' and then a prefix of "From ", so two counters say what
/// it is, and each byte costs the same however long the run of '>' gets.
#[derive(Debug, Default)]
pub struct FromQuoter {
    /// The '>' held back at the start of the current line.
    quotes: usize,
    /// How much of "From " has followed them (0 to 4).
    from: usize,
    mid_line: bool,
}

const FROM: &[u8] = b"From ";

impl FromQuoter {
    /// Quote `data`, the next bytes of the message, into `out`. The start
    /// of a line that could still match is held back until it is decided.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while let Some((&b, rest)) = data.split_first() {
            if self.mid_line {
                match data.iter().position(|&c| c == b'\n') {
                    Some(i) => {
                        out.extend_from_slice(&data[..=i]);
                        data = &data[i + 1..];
                        self.mid_line = false;
                    }
                    None => {
                        out.extend_from_slice(data);
                        return;
                    }
                }
                continue;
            }
            if self.from == 0 && b == b'>' {
                let run = data.iter().take_while(|&&c| c == b'>').count();
                self.quotes += run;
                data = &data[run..];
                continue;
            }
            data = rest;
            if b == FROM[self.from] {
                self.from += 1;
                if self.from == FROM.len() {
                    // A match: one '>' more than it had.
                    out.push(b'>');
                    self.release(out);
                    self.mid_line = true;
                }
            } else {
                self.release(out);
                out.push(b);
                self.mid_line = b != b'\n';
            }
        }
    }

    /// The end of the message: a last line that could still have matched
    /// did not.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.release(out);
        self.mid_line = false;
    }

    /// Write the held-back start of the line as it was.
    fn release(&mut self, out: &mut Vec<u8>) {
        out.resize(out.len() + self.quotes, b'>');
        out.extend_from_slice(&FROM[..self.from]);
        self.quotes = 0;
        self.from = 0;
    }
}

/// mboxrd quoting of a whole message.
#[cfg(test)]
fn quote(msg: &[u8]) -> Vec<u8> {
    quote_in_chunks(msg, msg.len())
}

/// mboxrd quoting of a whole message, fed to the quoter `chunk` bytes at
/// a time.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn quote_in_chunks(msg: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    let mut q = FromQuoter::default();
    for piece in msg.chunks(chunk.max(1)) {
        q.push(piece, &mut out);
    }
    q.finish(&mut out);
    out
}

/// The inverse of quoting: one `>` less on every line matching `>+From `.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn unquote(quoted: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(quoted.len());
    for line in quoted.split_inclusive(|&b| b == b'\n') {
        let k = line.iter().take_while(|&&b| b == b'>').count();
        if k > 0 && line[k..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn quoting_reverses_exactly_and_leaves_no_from_line(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("From ".to_string()),
                    Just(">From x".to_string()),
                    Just(">>>From ".to_string()),
                    Just("From".to_string()),
                    Just(">Fro".to_string()),
                    Just(">".to_string()),
                    Just(String::new()),
                    "[>Fromx \\n]{0,12}",
                ],
                0..20,
            ),
            cuts in proptest::collection::vec(0usize..64, 0..6),
        ) {
            let msg = lines.concat().into_bytes();
            let quoted = quote(&msg);
            prop_assert_eq!(unquote(&quoted), msg.clone());
            for line in quoted.split(|&b| b == b'\n') {
                prop_assert!(!line.starts_with(b"From "));
            }
            // Streaming, cut anywhere, gives the same bytes.
            let mut q = FromQuoter::default();
            let mut streamed = Vec::new();
            let mut rest = &msg[..];
            for c in cuts {
                let c = c.min(rest.len());
                q.push(&rest[..c], &mut streamed);
                rest = &rest[c..];
            }
            q.push(rest, &mut streamed);
            q.finish(&mut streamed);
            prop_assert_eq!(streamed, quoted);
        }
    }

    #[test]
    fn mboxrd_quotes_every_from_line_once_more() {
        let msg = b"From a\n>From b\n>>From c\nFrom\nFromage\n> From d\n>From";
        assert_eq!(
            quote(msg),
            b">From a\n>>From b\n>>>From c\nFrom\nFromage\n> From d\n>From".to_vec()
        );
    }

    /// A line of 200,000 '>' (and one that ends in "From ") come out with
    /// exactly one '>' more where the line matches, however it is cut.
    #[test]
    fn a_very_long_line_of_quotes_is_quoted_exactly() {
        let run = ">".repeat(200_000);
        let msg = format!("{run}From x\n{run}\n{run}");
        let want = format!(">{run}From x\n{run}\n{run}");
        assert_eq!(quote(msg.as_bytes()), want.as_bytes());
        let mut q = FromQuoter::default();
        let mut out = Vec::new();
        for chunk in msg.as_bytes().chunks(4093) {
            q.push(chunk, &mut out);
        }
        q.finish(&mut out);
        assert_eq!(out, want.as_bytes());
    }

    #[test]
    fn from_line_is_asctime_in_utc_with_the_sender() {
        // 2024-01-04 09:05:01 UTC, a Thursday: the day is space-padded.
        let t = jiff::Timestamp::from_second(1_704_359_101).unwrap();
        let s = Sender::Address("a@b.example".into());
        assert_eq!(
            from_line(&s, t),
            "From a@b.example Thu Jan  4 09:05:01 2024\n"
        );
        let t = jiff::Timestamp::from_second(1_735_689_599).unwrap();
        assert_eq!(
            from_line(&Sender::Null, t),
            "From MAILER-DAEMON Tue Dec 31 23:59:59 2024\n"
        );
    }
}
