//! The CAPA reply (RFC 2449 §5, §6; RFC 3206 §6; RFC 5034 §3) as a plain
//! value. Tags are case-insensitive; unknown tags are kept in `lines` only.

use crate::text::printable;

/// What a server announced in its CAPA reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub top: bool,
    pub user: bool,
    pub uidl: bool,
    pub stls: bool,
    pub pipelining: bool,
    pub resp_codes: bool,
    pub auth_resp_code: bool,
    /// `UTF8` (RFC 6856): without the UTF8 command the server may rewrite
    /// messages whose headers hold UTF-8.
    pub utf8: bool,
    /// SASL mechanisms, upper-cased, in the server's order, without
    /// repeats; only well-formed names, at most [`MAX_SASL`].
    pub sasl: Vec<String>,
    /// `LOGIN-DELAY n`: minimum seconds between logins.
    pub login_delay: Option<u64>,
    /// `LOGIN-DELAY n USER`: the value may differ per user; a CAPA after
    /// login tells the real one.
    pub login_delay_per_user: bool,
    /// `IMPLEMENTATION` text, for display only (RFC 2449 §6.9).
    pub implementation: Option<String>,
    /// Every non-empty line as received, made printable.
    pub lines: Vec<String>,
}

/// The most SASL mechanisms kept from one reply: far more than any
/// server offers, and what a report prints stays short.
const MAX_SASL: usize = 64;

/// `word` upper-cased when it is a SASL mechanism name (RFC 4422 §3.1: 1
/// to 20 of A-Z, 0-9, `-`, `_`); anything else names nothing popfetch
/// could use, and is left out.
fn sasl_name(word: &[u8]) -> Option<String> {
    let ok = (1..=20).contains(&word.len())
        && word
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    ok.then(|| String::from_utf8_lossy(word).to_ascii_uppercase())
}

impl Capabilities {
    /// Parse the lines between `+OK` and `.` (unstuffed, without line
    /// endings). Never fails: a line that makes no sense is only kept in
    /// `lines`.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut caps = Capabilities::default();
        for raw in lines {
            caps.add_line(raw);
        }
        caps
    }

    /// Take in one line of the reply, as it arrives.
    pub fn add_line(&mut self, raw: &[u8]) {
        let line = raw.trim_ascii();
        if line.is_empty() {
            return;
        }
        self.lines.push(printable(line));
        let mut words = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        let Some(tag) = words.next() else { return };
        let tag = tag.to_ascii_uppercase();
        match tag.as_slice() {
            b"TOP" => self.top = true,
            b"USER" => self.user = true,
            b"UIDL" => self.uidl = true,
            b"STLS" => self.stls = true,
            b"PIPELINING" => self.pipelining = true,
            b"RESP-CODES" => self.resp_codes = true,
            b"AUTH-RESP-CODE" => self.auth_resp_code = true,
            b"UTF8" => self.utf8 = true,
            b"SASL" => {
                for mech in words.filter_map(sasl_name) {
                    if self.sasl.len() < MAX_SASL && !self.sasl.contains(&mech) {
                        self.sasl.push(mech);
                    }
                }
            }
            b"LOGIN-DELAY" => {
                self.login_delay = words
                    .next()
                    .and_then(|w| std::str::from_utf8(w).ok())
                    .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|w| w.parse().ok());
                self.login_delay_per_user = is_user_suffix(words.next());
            }
            b"IMPLEMENTATION" => {
                let rest = line[tag.len()..].trim_ascii();
                self.implementation = (!rest.is_empty()).then(|| printable(rest));
            }
            _ => {}
        }
    }

    /// Whether SASL mechanism `mech` was announced (case-insensitive).
    pub fn has_sasl(&self, mech: &str) -> bool {
        self.sasl.iter().any(|m| m.eq_ignore_ascii_case(mech))
    }
}

fn is_user_suffix(word: Option<&[u8]>) -> bool {
    word.is_some_and(|w| w.eq_ignore_ascii_case(b"USER"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Capabilities {
        Capabilities::parse(text.lines().map(str::as_bytes))
    }

    #[test]
    fn dovecot_style_reply() {
        let c = parse(
            "CAPA\nTOP\nUIDL\nRESP-CODES\nPIPELINING\nAUTH-RESP-CODE\nSTLS\nUSER\n\
             SASL PLAIN LOGIN\nIMPLEMENTATION Dovecot ready.",
        );
        assert!(c.top && c.uidl && c.resp_codes && c.pipelining);
        assert!(c.auth_resp_code && c.stls && c.user);
        assert_eq!(c.sasl, ["PLAIN", "LOGIN"]);
        assert_eq!(c.implementation.as_deref(), Some("Dovecot ready."));
        assert_eq!(c.login_delay, None);
        assert_eq!(c.lines.len(), 10);
        assert_eq!(c.lines[8], "SASL PLAIN LOGIN");
        assert!(c.has_sasl("plain") && c.has_sasl("LOGIN"));
        assert!(!c.has_sasl("CRAM-MD5"));
    }

    #[test]
    fn empty_reply_is_default() {
        assert_eq!(parse(""), Capabilities::default());
        assert_eq!(
            Capabilities::parse(std::iter::empty::<&[u8]>()),
            Capabilities::default()
        );
    }

    #[test]
    fn tags_are_case_insensitive_and_blanks_tolerated() {
        let c = parse("  top \r\nuidl\r\n\r\nsasl  cram-md5\txoauth2 \r\nstls");
        assert!(c.top && c.uidl && c.stls);
        assert_eq!(c.sasl, ["CRAM-MD5", "XOAUTH2"]);
        assert_eq!(c.lines, ["top", "uidl", "sasl  cram-md5 xoauth2", "stls"]);
    }

    #[test]
    fn several_sasl_lines_merge_without_repeats() {
        let c = parse("SASL PLAIN\nSASL plain OAUTHBEARER\nSASL");
        assert_eq!(c.sasl, ["PLAIN", "OAUTHBEARER"]);
    }

    #[test]
    fn login_delay() {
        let c = parse("LOGIN-DELAY 900\nEXPIRE 31 USER");
        assert_eq!(c.login_delay, Some(900));
        assert!(!c.login_delay_per_user);

        let c = parse("login-delay 60 user\nexpire never");
        assert_eq!(c.login_delay, Some(60));
        assert!(c.login_delay_per_user);

        let c = parse("LOGIN-DELAY soon\nEXPIRE");
        assert_eq!(c.login_delay, None);
        let c = parse("LOGIN-DELAY -5\nLOGIN-DELAY +5");
        assert_eq!(c.login_delay, None);
        let c = parse("LOGIN-DELAY 99999999999999999999999");
        assert_eq!(c.login_delay, None);
    }

    #[test]
    fn only_well_formed_mechanism_names_are_kept_and_not_too_many() {
        let long = "A".repeat(21);
        let c = parse(&format!(
            "SASL {long} scram-sha-256 X_OAUTH2 PLAIN+ {}",
            "B".repeat(20)
        ));
        assert_eq!(c.sasl, ["SCRAM-SHA-256", "X_OAUTH2", &"B".repeat(20)]);
        let many: Vec<String> = (0..200).map(|i| format!("M{i}")).collect();
        let c = parse(&format!("SASL {}", many.join(" ")));
        assert_eq!(c.sasl, many[..MAX_SASL]);
    }

    #[test]
    fn hostile_bytes_are_made_printable() {
        let lines: [&[u8]; 3] = [
            b"IMPLEMENTATION \x1b[2J\xff evil",
            b"SASL PL\x00AIN",
            b"X-\x07",
        ];
        let c = Capabilities::parse(lines);
        assert_eq!(
            c.implementation.as_deref(),
            Some("\u{FFFD}[2J\u{FFFD} evil")
        );
        assert!(c.sasl.is_empty(), "{:?}", c.sasl);
        assert!(!c.has_sasl("PLAIN"));
        for l in &c.lines {
            assert!(!l.chars().any(char::is_control), "{l:?}");
        }
        // A tag that merely starts like a known one does not count.
        let c = parse("TOPS\nUSERS\nSTLSX\nIMPLEMENTATION");
        assert!(!c.top && !c.user && !c.stls);
        assert_eq!(c.implementation, None);
    }

    proptest! {
        #[test]
        fn never_panics(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..10)) {
            let c = Capabilities::parse(lines.iter().map(Vec::as_slice));
            prop_assert!(c.lines.len() <= lines.len());
        }
    }
}
