//! POP3 commands as values: encoding to the wire, a redacted form for the
//! `-vv` trace, and the facts the session needs to read the reply.

use std::fmt::Write as _;

use super::response::ProtoError;
use crate::secret::Secret;
use crate::text::printable;

/// RFC 2449 §4: a command line is at most 255 octets including CRLF. Only
/// AUTH continuation lines are exempt; [`crate::auth::login`] uses this to
/// decide whether an initial response fits on the AUTH line (RFC 5034 §4).
pub const MAX_COMMAND_LINE: usize = 255;

/// What the trace shows instead of a secret.
const REDACTED: &str = "********";

/// One client command.
#[derive(Debug)]
pub enum Command<'a> {
    Capa,
    Stls,
    User(&'a str),
    Pass(&'a Secret),
    Apop {
        user: &'a str,
        digest: &'a str,
    },
    /// `AUTH mech [initial-response]`; an empty initial response is sent
    /// as `=` (RFC 5034 §4).
    Auth {
        mechanism: &'a str,
        initial: Option<&'a Secret>,
    },
    /// A base64 line answering a SASL challenge (may be empty).
    AuthContinue(&'a Secret),
    /// `*`: abandon the SASL exchange.
    AuthCancel,
    List(Option<u32>),
    Uidl(Option<u32>),
    Top {
        msg: u32,
        lines: u32,
    },
    Retr(u32),
    Dele(u32),
    Quit,
    /// RFC 6856: messages as they are, UTF-8 headers and all.
    Utf8,
}

/// CR and LF would end the line early and let the rest be read as another
/// command; NUL confuses C servers.
fn check(arg: &str) -> Result<&str, ProtoError> {
    if arg.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        Err(ProtoError::BadArgument)
    } else {
        Ok(arg)
    }
}

impl Command<'_> {
    /// Append the command line with CRLF to `out`. On error nothing is
    /// appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        let start = out.len();
        let result = self.encode_inner(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_inner(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        let mut put = |parts: &[&str]| -> Result<(), ProtoError> {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(check(part)?.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            Ok(())
        };
        match self {
            Command::User(user) => put(&["USER", user]),
            Command::Pass(pass) => put(&["PASS", pass.expose()]),
            Command::Apop { user, digest } => put(&["APOP", user, digest]),
            Command::Auth {
                mechanism,
                initial: None,
            } => put(&["AUTH", mechanism]),
            Command::Auth {
                mechanism,
                initial: Some(ir),
            } => {
                let ir = match ir.expose() {
                    "" => "=",
                    s => s,
                };
                put(&["AUTH", mechanism, ir])
            }
            Command::AuthContinue(resp) => put(&[resp.expose()]),
            Command::AuthCancel => put(&["*"]),
            Command::List(Some(n)) | Command::Uidl(Some(n)) => put(&[self.verb(), &n.to_string()]),
            Command::Top { msg, lines } => put(&["TOP", &msg.to_string(), &lines.to_string()]),
            Command::Retr(n) | Command::Dele(n) => put(&[self.verb(), &n.to_string()]),
            Command::Capa
            | Command::Stls
            | Command::List(None)
            | Command::Uidl(None)
            | Command::Quit
            | Command::Utf8 => put(&[self.verb()]),
        }
    }

    /// The command line for the `-vv` trace, without CRLF, with every
    /// password, digest, token and SASL payload replaced by stars.
    pub fn trace(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = match self {
            Command::User(user) => write!(s, "USER {}", printable(user.as_bytes())),
            Command::Pass(_) => write!(s, "PASS {REDACTED}"),
            Command::Apop { user, .. } => {
                write!(s, "APOP {} {REDACTED}", printable(user.as_bytes()))
            }
            Command::Auth { mechanism, initial } => {
                let mech = printable(mechanism.as_bytes());
                match initial {
                    Some(_) => write!(s, "AUTH {mech} {REDACTED}"),
                    None => write!(s, "AUTH {mech}"),
                }
            }
            Command::AuthContinue(_) => write!(s, "{REDACTED}"),
            Command::AuthCancel => write!(s, "*"),
            Command::List(Some(n)) | Command::Uidl(Some(n)) => write!(s, "{} {n}", self.verb()),
            Command::Top { msg, lines } => write!(s, "TOP {msg} {lines}"),
            Command::Retr(n) | Command::Dele(n) => write!(s, "{} {n}", self.verb()),
            Command::Capa
            | Command::Stls
            | Command::List(None)
            | Command::Uidl(None)
            | Command::Quit
            | Command::Utf8 => write!(s, "{}", self.verb()),
        };
        s
    }

    /// The part of the line that must never be shown: the password, the
    /// APOP digest, a SASL payload (`None` for the rest, and for an empty
    /// payload).
    pub fn secret(&self) -> Option<&str> {
        let s = match self {
            Command::Pass(p) => p.expose(),
            Command::Apop { digest, .. } => digest,
            Command::Auth {
                initial: Some(ir), ..
            } => ir.expose(),
            Command::AuthContinue(r) => r.expose(),
            _ => return None,
        };
        (!s.is_empty()).then_some(s)
    }

    /// The keyword, for error messages. SASL continuation and cancel lines
    /// report as `AUTH`, the command they belong to.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } | Command::AuthContinue(_) | Command::AuthCancel => "AUTH",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Top { .. } => "TOP",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Quit => "QUIT",
            Command::Utf8 => "UTF8",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(c: &Command<'_>) -> String {
        let mut out = Vec::new();
        c.encode(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn simple_commands() {
        let cases: &[(Command<'_>, &str)] = &[
            (Command::Capa, "CAPA\r\n"),
            (Command::Stls, "STLS\r\n"),
            (Command::List(None), "LIST\r\n"),
            (Command::List(Some(3)), "LIST 3\r\n"),
            (Command::Uidl(None), "UIDL\r\n"),
            (Command::Uidl(Some(42)), "UIDL 42\r\n"),
            (Command::Top { msg: 7, lines: 0 }, "TOP 7 0\r\n"),
            (Command::Retr(1), "RETR 1\r\n"),
            (Command::Retr(u32::MAX), "RETR 4294967295\r\n"),
            (Command::Dele(9), "DELE 9\r\n"),
            (Command::Quit, "QUIT\r\n"),
            (Command::Utf8, "UTF8\r\n"),
            (Command::AuthCancel, "*\r\n"),
            (
                Command::User("alice@example.com"),
                "USER alice@example.com\r\n",
            ),
        ];
        for (cmd, wire) in cases {
            assert_eq!(enc(cmd), *wire);
            // The trace of a secret-free command is the line itself.
            assert_eq!(cmd.trace(), wire.trim_end());
            assert_eq!(cmd.secret(), None);
            assert!(wire.starts_with(cmd.verb()) || cmd.verb() == "AUTH");
        }
    }

    #[test]
    fn secrets_are_sent_verbatim_and_traced_redacted() {
        let pw = Secret::new("pa ss wörd".into());
        let c = Command::Pass(&pw);
        assert_eq!(enc(&c), "PASS pa ss wörd\r\n");
        assert_eq!(c.trace(), "PASS ********");
        assert_eq!(c.verb(), "PASS");

        let c = Command::Apop {
            user: "mrose",
            digest: "c4c9334bac560ecc979e58001b3e22fb",
        };
        assert_eq!(enc(&c), "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
        assert_eq!(c.trace(), "APOP mrose ********");

        let ir = Secret::new("AGFsaWNlAHNlY3JldA==".into());
        let c = Command::Auth {
            mechanism: "PLAIN",
            initial: Some(&ir),
        };
        assert_eq!(enc(&c), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
        assert_eq!(c.trace(), "AUTH PLAIN ********");
        assert!(!c.trace().contains("AGFs"));

        let c = Command::Auth {
            mechanism: "LOGIN",
            initial: None,
        };
        assert_eq!(enc(&c), "AUTH LOGIN\r\n");
        assert_eq!(c.trace(), "AUTH LOGIN");

        let cont = Secret::new("dGlt".into());
        let c = Command::AuthContinue(&cont);
        assert_eq!(enc(&c), "dGlt\r\n");
        assert_eq!(c.trace(), "********");
        assert_eq!(c.verb(), "AUTH");
    }

    #[test]
    fn empty_sasl_responses() {
        let empty = Secret::new(String::new());
        let c = Command::Auth {
            mechanism: "EXTERNAL",
            initial: Some(&empty),
        };
        assert_eq!(enc(&c), "AUTH EXTERNAL =\r\n");
        assert_eq!(enc(&Command::AuthContinue(&empty)), "\r\n");
    }

    #[test]
    fn long_auth_lines_are_not_capped() {
        let token = Secret::new("A".repeat(10_000));
        let c = Command::Auth {
            mechanism: "XOAUTH2",
            initial: Some(&token),
        };
        let line = enc(&c);
        assert_eq!(line.len(), "AUTH XOAUTH2 ".len() + 10_000 + 2);
        assert_eq!(enc(&Command::AuthContinue(&token)).len(), 10_002);
    }

    #[test]
    fn control_characters_are_refused_and_nothing_is_written() {
        let evil = Secret::new("pw\r\nDELE 1".into());
        let nul = Secret::new("pw\0".into());
        let cmds = [
            Command::User("bob\r\nDELE 1"),
            Command::User("bob\n"),
            Command::User("b\0b"),
            Command::Pass(&evil),
            Command::Pass(&nul),
            Command::Apop {
                user: "u\r",
                digest: "d",
            },
            Command::Apop {
                user: "u",
                digest: "d\n",
            },
            Command::Auth {
                mechanism: "PLAIN\r\n",
                initial: None,
            },
            Command::Auth {
                mechanism: "PLAIN",
                initial: Some(&evil),
            },
            Command::AuthContinue(&evil),
        ];
        for c in &cmds {
            let mut out = b"NOOP\r\n".to_vec();
            assert!(matches!(c.encode(&mut out), Err(ProtoError::BadArgument)));
            assert_eq!(out, b"NOOP\r\n", "{}", c.trace());
            assert!(!c.trace().contains(['\r', '\n', '\0']));
        }
    }

    #[test]
    fn encode_appends() {
        let mut out = Vec::new();
        Command::Retr(1).encode(&mut out).unwrap();
        Command::Dele(1).encode(&mut out).unwrap();
        assert_eq!(out, b"RETR 1\r\nDELE 1\r\n");
    }

    proptest! {
        #[test]
        fn user_lines_are_one_line(user in any::<String>()) {
            let mut out = Vec::new();
            match Command::User(&user).encode(&mut out) {
                Ok(()) => {
                    prop_assert!(!user.contains(['\r', '\n', '\0']));
                    prop_assert_eq!(out, format!("USER {user}\r\n").into_bytes());
                }
                Err(_) => {
                    prop_assert!(user.contains(['\r', '\n', '\0']));
                    prop_assert!(out.is_empty());
                }
            }
        }

        #[test]
        fn secrets_never_reach_the_trace(pw in "[a-zA-Z0-9]{12,40}") {
            let s = Secret::new(pw.clone());
            for c in [
                Command::Pass(&s),
                Command::AuthContinue(&s),
                Command::Auth { mechanism: "PLAIN", initial: Some(&s) },
                Command::Apop { user: "u", digest: &pw },
            ] {
                prop_assert!(!c.trace().contains(&pw));
                prop_assert_eq!(c.secret(), Some(pw.as_str()));
            }
        }
    }
}
