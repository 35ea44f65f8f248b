//! Authentication: choose the mechanism and drive it over a session. The
//! mechanisms themselves are pure functions in the submodules.
//!
//! `auth = auto` tries the strongest mechanism the server offers, in the
//! order SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, APOP, PLAIN, LOGIN, USER.
//! Challenge-response mechanisms come first because they never reveal the
//! password even to a server that is not who it claims; the rest rely on
//! TLS. Only one mechanism is tried: a refusal is an answer about the
//! password, and retrying with others would only multiply failed logins.

pub mod apop;
pub mod sasl;

#[cfg(test)]
mod proptests;

use std::io::{Read, Write};

use crate::account::AuthChoice;
use crate::protocol::command::MAX_COMMAND_LINE;
use crate::protocol::response::AuthReply;
use crate::protocol::{Capabilities, Command, ProtoError, RespCode, Session};
use crate::secret::Secret;
pub(crate) use sasl::SaslError;
use sasl::{Mechanism, SaslClient};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{host} refused the login for {user} ({mechanism}): {said}{hint}", said = .text.trim_end_matches('.'), hint = refusal_hint(.code.as_ref(), .mechanism, .text))]
    Refused {
        host: String,
        user: String,
        mechanism: String,
        code: Option<RespCode>,
        text: String,
    },
    #[error(
        "{host} offers none of the mechanisms that auth = \"{wanted}\" allows (it offers: {offered}); set auth to one of those"
    )]
    NoMechanism {
        host: String,
        wanted: String,
        offered: String,
    },
    #[error(
        "auth = \"apop\" but {host}'s greeting has no APOP timestamp; use another auth mechanism"
    )]
    NoApopTimestamp { host: String },
    #[error(
        "auth = \"apop\" cannot be used with tls = \"starttls\": APOP's timestamp comes in {host}'s greeting, sent in plaintext before TLS, where anyone on the path could have chosen it (RFC 2595); nothing was sent. Use tls = \"implicit\" if the server offers it (port 995), or another auth mechanism (auth = \"auto\" picks the strongest)"
    )]
    ApopBeforeTls { host: String },
    #[error(
        "refusing to send the password for {user} over an unencrypted connection to {host}: use tls = \"implicit\" or \"starttls\", or set allow_plaintext = true if you accept the risk"
    )]
    Insecure { host: String, user: String },
    #[error("SASL {mechanism} with {host} failed: {source}")]
    Sasl {
        host: String,
        mechanism: String,
        source: SaslError,
    },
    #[error(
        "{host} closed the connection after popfetch sent its {chars}-character {mechanism} \
         response: a line this long may be over the server's limit (Dovecot 2.3 takes fewer \
         than 8,192 characters, which is an OAuth token of about 6,100 bytes); if it is, a \
         shorter secret or a change on the server is needed, else try again later"
    )]
    ClosedAfterLongResponse {
        host: String,
        mechanism: String,
        chars: usize,
    },
    #[error(transparent)]
    Protocol(ProtoError),
}

/// A response line at least this long that makes the server hang up is
/// worth explaining (see [`AuthError::ClosedAfterLongResponse`]).
const LONG_RESPONSE: usize = 1024;

fn refusal_hint(code: Option<&RespCode>, mechanism: &str, text: &str) -> &'static str {
    let oauth =
        mechanism == Mechanism::Xoauth2.name() || mechanism == Mechanism::Oauthbearer.name();
    match code {
        Some(RespCode::InUse) => {
            "; another client holds the mailbox: this run will be retried next time"
        }
        Some(RespCode::LoginDelay) => {
            "; the server limits how often you may log in: run less often"
        }
        Some(RespCode::SysTemp) => "; a temporary server problem: try again later",
        // Dovecot: "Client didn't present valid SSL certificate".
        _ if text.to_ascii_lowercase().contains("certificate") => {
            "; the server wants a TLS client certificate: set tls_client_cert (and \
             tls_client_key) to one it trusts"
        }
        _ if oauth => {
            "; the token may have expired, be for another user, or lack the scope the server \
             wants: check that the password source prints a fresh access token for this user \
             (run it by hand)"
        }
        _ => "; check user and the password source",
    }
}

/// How to log in, decided from `auth`, CAPA and the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    User,
    Apop,
    Sasl(Mechanism),
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::User => "USER",
            Method::Apop => "APOP",
            Method::Sasl(m) => m.name(),
        }
    }
}

/// The order `auth = auto` prefers.
const AUTO_ORDER: [Method; 7] = [
    Method::Sasl(Mechanism::ScramSha256),
    Method::Sasl(Mechanism::ScramSha1),
    Method::Sasl(Mechanism::CramMd5),
    Method::Apop,
    Method::Sasl(Mechanism::Plain),
    Method::Sasl(Mechanism::Login),
    Method::User,
];

/// What the greeting offers for APOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apop<'a> {
    /// A valid timestamp, in a greeting that came over TLS (or with no TLS
    /// at all, where nothing better is to be had).
    Offered(&'a str),
    /// No usable timestamp.
    NotOffered,
    /// The greeting came in plaintext before STLS. After STLS only what was
    /// learnt over TLS counts (RFC 2595 §4), and a man in the middle could
    /// have added a timestamp to make us choose APOP: whatever it said is
    /// not used.
    BeforeTls,
}

impl<'a> Apop<'a> {
    pub fn timestamp(self) -> Option<&'a str> {
        match self {
            Apop::Offered(ts) => Some(ts),
            Apop::NotOffered | Apop::BeforeTls => None,
        }
    }
}

/// Pick the method. Pure, so that the rules are tested without a server.
pub fn choose(
    choice: AuthChoice,
    capa: &Capabilities,
    apop: Apop<'_>,
    host: &str,
) -> Result<Method, AuthError> {
    let apop_timestamp = apop.timestamp();
    let offered = |m: Method| match m {
        // RFC 1939 servers without CAPA still take USER/PASS.
        Method::User => capa.user || capa.lines.is_empty(),
        Method::Apop => apop_timestamp.is_some(),
        Method::Sasl(mech) => capa.has_sasl(mech.name()),
    };
    let wanted = match choice {
        AuthChoice::Auto => {
            return AUTO_ORDER
                .into_iter()
                .find(|&m| offered(m))
                .ok_or_else(|| no_mechanism(choice, capa, apop_timestamp, host));
        }
        AuthChoice::User => Method::User,
        AuthChoice::Apop => {
            let host = host.to_string();
            return match apop {
                Apop::Offered(_) => Ok(Method::Apop),
                Apop::NotOffered => Err(AuthError::NoApopTimestamp { host }),
                Apop::BeforeTls => Err(AuthError::ApopBeforeTls { host }),
            };
        }
        AuthChoice::Plain => Method::Sasl(Mechanism::Plain),
        AuthChoice::Login => Method::Sasl(Mechanism::Login),
        AuthChoice::CramMd5 => Method::Sasl(Mechanism::CramMd5),
        AuthChoice::ScramSha256 => Method::Sasl(Mechanism::ScramSha256),
        AuthChoice::ScramSha1 => Method::Sasl(Mechanism::ScramSha1),
        AuthChoice::Xoauth2 => Method::Sasl(Mechanism::Xoauth2),
        AuthChoice::Oauthbearer => Method::Sasl(Mechanism::Oauthbearer),
    };
    // A named mechanism is tried when the server lists it, or lists no SASL
    // mechanisms at all (some servers only reveal them after STLS or never).
    match wanted {
        Method::Sasl(_) if !capa.sasl.is_empty() && !offered(wanted) => {
            Err(no_mechanism(choice, capa, apop_timestamp, host))
        }
        _ => Ok(wanted),
    }
}

fn no_mechanism(
    choice: AuthChoice,
    capa: &Capabilities,
    apop: Option<&str>,
    host: &str,
) -> AuthError {
    let mut offered: Vec<String> = capa.sasl.iter().map(|m| m.to_lowercase()).collect();
    if capa.user {
        offered.push("user".into());
    }
    if apop.is_some() {
        offered.push("apop".into());
    }
    AuthError::NoMechanism {
        host: host.to_string(),
        wanted: choice.name().to_string(),
        offered: if offered.is_empty() {
            "nothing".into()
        } else {
            offered.join(", ")
        },
    }
}

/// What `login` needs to know about the account and the connection.
pub struct Login<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub secret: &'a Secret,
    pub encrypted: bool,
    pub allow_plaintext: bool,
}

/// Log in with `method`. Credentials never cross an unencrypted connection
/// unless the account allows it.
pub fn login<S: Read + Write>(
    session: &mut Session<S>,
    method: Method,
    apop_timestamp: Option<&str>,
    l: &Login<'_>,
) -> Result<(), AuthError> {
    if !l.encrypted && !l.allow_plaintext {
        return Err(AuthError::Insecure {
            host: l.host.to_string(),
            user: l.user.to_string(),
        });
    }
    // Before anything is sent: a server that repeats the secret back in
    // any reply must not get it shown. (What is sent is hidden as it goes.)
    session.hide(l.secret.expose());
    let refused = |e: ProtoError| match e {
        ProtoError::Refused { code, text, .. } => AuthError::Refused {
            host: l.host.to_string(),
            user: l.user.to_string(),
            mechanism: method.name().to_string(),
            code,
            text,
        },
        other => AuthError::Protocol(other),
    };
    match method {
        Method::User => {
            session.command(&Command::User(l.user)).map_err(refused)?;
            session.command(&Command::Pass(l.secret)).map_err(refused)?;
        }
        Method::Apop => {
            let ts = apop_timestamp.ok_or_else(|| AuthError::NoApopTimestamp {
                host: l.host.to_string(),
            })?;
            let digest = apop::digest(ts, l.secret);
            session
                .command(&Command::Apop {
                    user: l.user,
                    digest: &digest,
                })
                .map_err(refused)?;
        }
        Method::Sasl(mech) => sasl_exchange(session, mech, l).map_err(|e| match e {
            AuthError::Protocol(p) => refused(p),
            other => other,
        })?,
    }
    Ok(())
}

/// Whether `AUTH MECH <ir>` fits in RFC 2449's 255 octets, CRLF included.
fn fits_on_auth_line(mech: Mechanism, ir: &Secret) -> bool {
    let ir_len = match ir.expose() {
        // An empty response is sent as "=".
        "" => 1,
        s => s.len(),
    };
    "AUTH  \r\n".len() + mech.name().len() + ir_len <= MAX_COMMAND_LINE
}

fn sasl_exchange<S: Read + Write>(
    session: &mut Session<S>,
    mech: Mechanism,
    l: &Login<'_>,
) -> Result<(), AuthError> {
    let mut client = SaslClient::new(mech, l.user, l.secret, l.host, l.port);
    // RFC 5034 §4: an initial response that would make the AUTH line
    // longer than 255 octets goes after the server's empty "+" instead, as
    // a continuation line (which has no cap): long app passwords and OAuth
    // tokens of several KB. Microsoft's servers require this form.
    let (inline, mut deferred) = match client.initial_response() {
        Some(ir) if fits_on_auth_line(mech, &ir) => (Some(ir), None),
        other => (None, other),
    };
    session
        .send(&Command::Auth {
            mechanism: mech.name(),
            initial: inline.as_ref(),
        })
        .map_err(AuthError::Protocol)?;
    session.flush().map_err(AuthError::Protocol)?;
    // The length of the last response sent, for a server that hangs up on it.
    let mut sent = inline.as_ref().map_or(0, |ir| ir.expose().len());
    // Bounded: no mechanism here needs more than a few round trips.
    for _ in 0..8 {
        let reply = session.read_auth_reply().map_err(|e| match e {
            ProtoError::Closed if sent >= LONG_RESPONSE => AuthError::ClosedAfterLongResponse {
                host: l.host.to_string(),
                mechanism: mech.name().to_string(),
                chars: sent,
            },
            other => AuthError::Protocol(other),
        })?;
        // The server's first challenge asks for the initial response held
        // back; it must be empty (it is the server's turn to wait).
        if let (AuthReply::Challenge(ch), Some(ir)) = (&reply, deferred.take()) {
            if !ch.trim_ascii().is_empty() {
                let _ = session.send(&Command::AuthCancel);
                let _ = session.flush();
                return Err(AuthError::Sasl {
                    host: l.host.to_string(),
                    mechanism: mech.name().to_string(),
                    source: SaslError::Unexpected(
                        "a challenge where an empty one should ask for the initial response".into(),
                    ),
                });
            }
            session
                .send(&Command::AuthContinue(&ir))
                .map_err(AuthError::Protocol)?;
            session.flush().map_err(AuthError::Protocol)?;
            sent = ir.expose().len();
            continue;
        }
        match reply {
            // SCRAM: a +OK before the server proved it knows the password
            // is a server we cannot trust.
            AuthReply::Done(st) if st.ok && client.accepts_success() => return Ok(()),
            AuthReply::Done(st) if st.ok => {
                return Err(AuthError::Sasl {
                    host: l.host.to_string(),
                    mechanism: mech.name().to_string(),
                    source: SaslError::ServerSignature,
                });
            }
            AuthReply::Done(st) => {
                // An OAuth server explains a refusal in the challenge it
                // sent before its -ERR; that is the useful part.
                let text = match client.server_message() {
                    Some(report) => format!("{} (the server's report: {report})", st.text),
                    None => st.text,
                };
                return Err(AuthError::Protocol(ProtoError::Refused {
                    command: format!("AUTH {}", mech.name()),
                    code: st.code,
                    text,
                }));
            }
            AuthReply::Challenge(ch) => match client.respond(&ch) {
                Ok(resp) => {
                    session
                        .send(&Command::AuthContinue(&resp))
                        .map_err(AuthError::Protocol)?;
                    session.flush().map_err(AuthError::Protocol)?;
                    sent = resp.expose().len();
                }
                Err(source) => {
                    // Cancel the exchange so the server ends it cleanly.
                    let _ = session.send(&Command::AuthCancel);
                    let _ = session.flush();
                    return Err(AuthError::Sasl {
                        host: l.host.to_string(),
                        mechanism: mech.name().to_string(),
                        source,
                    });
                }
            },
        }
    }
    Err(AuthError::Protocol(ProtoError::Malformed(
        "the SASL exchange did not end".into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capa(lines: &[&str]) -> Capabilities {
        Capabilities::parse(lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn auto_prefers_challenge_response() {
        let c = capa(&["USER", "SASL PLAIN LOGIN CRAM-MD5"]);
        assert_eq!(
            choose(AuthChoice::Auto, &c, Apop::NotOffered, "h").unwrap(),
            Method::Sasl(Mechanism::CramMd5)
        );
        let c = capa(&["USER", "SASL PLAIN LOGIN"]);
        assert_eq!(
            choose(AuthChoice::Auto, &c, Apop::Offered("<1.2@h>"), "h").unwrap(),
            Method::Apop
        );
        assert_eq!(
            choose(AuthChoice::Auto, &c, Apop::NotOffered, "h").unwrap(),
            Method::Sasl(Mechanism::Plain)
        );
        let c = capa(&["USER"]);
        assert_eq!(
            choose(AuthChoice::Auto, &c, Apop::NotOffered, "h").unwrap(),
            Method::User
        );
    }

    #[test]
    fn refusals_point_at_the_likely_fix() {
        let refused = |mechanism: &str, text: &str| {
            AuthError::Refused {
                host: "h".into(),
                user: "u".into(),
                mechanism: mechanism.into(),
                code: None,
                text: text.into(),
            }
            .to_string()
        };
        for oauth in ["XOAUTH2", "OAUTHBEARER"] {
            assert!(refused(oauth, "Authentication failed").contains("fresh access token"));
        }
        let no_cert = refused(
            "SCRAM-SHA-256",
            "Client didn't present valid SSL certificate",
        );
        assert!(no_cert.contains("set tls_client_cert"), "{no_cert}");
        let plain = refused("PLAIN", "Authentication failed.");
        assert!(
            plain.ends_with("Authentication failed; check user and the password source"),
            "{plain}"
        );
    }

    #[test]
    fn no_capa_falls_back_to_user() {
        let c = Capabilities::default();
        assert_eq!(
            choose(AuthChoice::Auto, &c, Apop::NotOffered, "h").unwrap(),
            Method::User
        );
    }

    #[test]
    fn named_mechanism_not_offered_is_an_error() {
        let c = capa(&["USER", "SASL PLAIN"]);
        let e = choose(AuthChoice::CramMd5, &c, Apop::NotOffered, "h").unwrap_err();
        assert!(e.to_string().contains("plain, user"), "{e}");
        assert!(matches!(
            choose(AuthChoice::Apop, &c, Apop::NotOffered, "h"),
            Err(AuthError::NoApopTimestamp { .. })
        ));
    }

    #[test]
    fn initial_responses_go_on_the_auth_line_only_within_255_octets() {
        let ir = |n: usize| Secret::new("A".repeat(n));
        // "AUTH PLAIN " + ir + CRLF.
        assert!(fits_on_auth_line(Mechanism::Plain, &ir(242)));
        assert!(!fits_on_auth_line(Mechanism::Plain, &ir(243)));
        assert!(fits_on_auth_line(Mechanism::Oauthbearer, &ir(236)));
        assert!(!fits_on_auth_line(Mechanism::Oauthbearer, &ir(237)));
        assert!(fits_on_auth_line(Mechanism::Xoauth2, &ir(0)));
    }

    #[test]
    fn a_timestamp_from_before_stls_is_never_used() {
        let c = capa(&["USER", "SASL PLAIN LOGIN"]);
        // Auto takes APOP over PLAIN only where the greeting is trusted.
        for (apop, want) in [
            (Apop::Offered("<1@h>"), Method::Apop),
            (Apop::BeforeTls, Method::Sasl(Mechanism::Plain)),
        ] {
            assert_eq!(choose(AuthChoice::Auto, &c, apop, "h").ok(), Some(want));
        }
        let e = choose(AuthChoice::Apop, &c, Apop::BeforeTls, "h").unwrap_err();
        assert!(matches!(e, AuthError::ApopBeforeTls { .. }), "{e:?}");
        let msg = e.to_string();
        for says in ["starttls", "greeting", "implicit", "auto"] {
            assert!(msg.contains(says), "{msg}");
        }
        // Where APOP was all there was, nothing is left; and it is not
        // listed among what the server offers.
        let c = capa(&["TOP"]);
        let e = choose(AuthChoice::Auto, &c, Apop::BeforeTls, "h").unwrap_err();
        assert!(e.to_string().contains("offers: nothing"), "{e}");
    }

    #[test]
    fn nothing_offered() {
        let c = capa(&["TOP"]);
        let e = choose(AuthChoice::Auto, &c, Apop::NotOffered, "h").unwrap_err();
        assert!(e.to_string().contains("offers: nothing"), "{e}");
    }
}
