//! SASL client mechanisms for POP3 AUTH (RFC 5034): PLAIN (RFC 4616),
//! LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195), SCRAM-SHA-1
//! and SCRAM-SHA-256 (RFC 5802, RFC 7677, without channel binding),
//! XOAUTH2 (Google/Microsoft) and OAUTHBEARER (RFC 7628).
//!
//! A [`SaslClient`] is a pure state machine: base64 challenges in, base64
//! responses out. Sending them, and the 255-octet rule that decides whether
//! an initial response goes on the AUTH line, belong to [`super::login`].
//!
//! The hashes, HMAC and PBKDF2 come from the RustCrypto crates (`md-5`,
//! `sha1`, `sha2`, `hmac`, `pbkdf2`). SCRAM passwords are used as the
//! UTF-8 bytes written, without SASLprep (RFC 4013), as Dovecot 2.3 uses
//! the stored password's bytes (tests/it/scram.rs): a password in NFKC
//! without non-ASCII spaces, which SASLprep leaves alone, works either way;
//! any other must be written in the form the server derived its keys from.

use std::fmt;
use std::io::Read;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::digest::{FixedOutput, InvalidLength, KeyInit, Update};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::Secret;
use crate::text::{Redactor, constant_time_eq, hex, printable_capped};

/// Standard alphabet, padding written; on input padding is optional, as
/// some servers leave it off. Characters outside the alphabet still fail
/// (RFC 5034 §4).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Upper bound on a SCRAM iteration count: a hostile server must not make
/// us spin for minutes. Real servers use 4096 to a few hundred thousand.
const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;

/// How much of an odd challenge an error message quotes.
const MAX_QUOTE_CHARS: usize = 200;

/// A SASL mechanism popfetch can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    CramMd5,
    ScramSha1,
    ScramSha256,
    Xoauth2,
    Oauthbearer,
}

impl Mechanism {
    /// Every mechanism.
    #[cfg(any(test, feature = "fuzzing"))]
    pub const ALL: [Mechanism; 7] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::Xoauth2,
        Mechanism::Oauthbearer,
    ];

    /// The IANA name, as used in CAPA and AUTH.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// The mechanism with this name, case-insensitively.
    #[cfg(test)]
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether the client speaks first (an initial response exists).
    pub fn has_initial_response(self) -> bool {
        !matches!(self, Mechanism::Login | Mechanism::CramMd5)
    }

    fn is_scram(self) -> bool {
        matches!(self, Mechanism::ScramSha1 | Mechanism::ScramSha256)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a SASL exchange cannot continue. The session answers any of these
/// with `*` (cancel).
#[derive(Debug, thiserror::Error)]
pub enum SaslError {
    #[error("the server's challenge is not valid base64")]
    BadBase64,
    #[error("the server sent an unexpected SASL challenge: {0}")]
    Unexpected(String),
    #[error(
        "the server's SCRAM signature does not match: it may not be the server it claims to be"
    )]
    ServerSignature,
}

/// Where an exchange stands.
enum Phase {
    /// Only `AUTH MECH` has gone out.
    Start,
    /// The initial response has gone out (PLAIN, OAuth, SCRAM client-first)
    /// or, for LOGIN, the user name.
    FirstSent,
    /// SCRAM: client-final has gone out; the server must prove itself.
    ScramFinalSent {
        server_signature: Zeroizing<Vec<u8>>,
    },
    /// Nothing more to send: any further challenge is unexpected.
    Finished,
}

/// One SASL exchange, client side.
pub struct SaslClient {
    mech: Mechanism,
    user: String,
    secret: Secret,
    host: String,
    port: u16,
    /// SCRAM client nonce, or why there is none.
    nonce: Result<String, String>,
    phase: Phase,
    /// SCRAM: client-first-message-bare, part of the AuthMessage.
    client_first_bare: String,
    /// SCRAM: the server proved it knows the password.
    server_verified: bool,
    /// XOAUTH2/OAUTHBEARER: the server's decoded error report.
    server_message: Option<String>,
    /// The secret and every response made from it, hidden in whatever of
    /// the server's challenges an error message quotes.
    hidden: Redactor,
}

impl SaslClient {
    /// `host`/`port` go into OAUTHBEARER's gs2 header fields. `secret` is
    /// the password, or the access token for XOAUTH2/OAUTHBEARER.
    pub fn new(mech: Mechanism, user: &str, secret: &Secret, host: &str, port: u16) -> Self {
        let nonce = if mech.is_scram() {
            random_nonce()
        } else {
            Err(String::from("no nonce needed"))
        };
        Self::build(mech, user, secret, host, port, nonce)
    }

    /// A client with a fixed SCRAM nonce, for the RFC test vectors and
    /// the fuzz targets.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn with_nonce(mech: Mechanism, user: &str, secret: &Secret, nonce: &str) -> Self {
        Self::build(mech, user, secret, "", 0, Ok(nonce.to_string()))
    }

    fn build(
        mech: Mechanism,
        user: &str,
        secret: &Secret,
        host: &str,
        port: u16,
        nonce: Result<String, String>,
    ) -> Self {
        let mut hidden = Redactor::default();
        hidden.add(secret.expose());
        SaslClient {
            mech,
            user: user.to_string(),
            secret: secret.clone(),
            host: host.to_string(),
            port,
            nonce,
            phase: Phase::Start,
            client_first_bare: String::new(),
            server_verified: false,
            server_message: None,
            hidden,
        }
    }

    /// The base64 initial response, or `None` when the mechanism has none
    /// (LOGIN, CRAM-MD5) or a SCRAM nonce could not be made (then `respond`
    /// reports why). Taking it means it is sent: on the AUTH line, or, when
    /// it does not fit there, as the answer to the server's empty first
    /// challenge (the session does that, not [`respond`](Self::respond)).
    pub fn initial_response(&mut self) -> Option<Secret> {
        let ir = self.first_message().ok()?;
        self.phase = match self.mech {
            Mechanism::Plain => Phase::Finished,
            _ => Phase::FirstSent,
        };
        Some(ir)
    }

    /// The client's first message for mechanisms that have one.
    fn first_message(&mut self) -> Result<Secret, SaslError> {
        let plain: Zeroizing<String> = match self.mech {
            Mechanism::Plain => {
                Zeroizing::new(format!("\0{}\0{}", self.user, self.secret.expose()))
            }
            Mechanism::Xoauth2 => Zeroizing::new(format!(
                "user={}\x01auth=Bearer {}\x01\x01",
                self.user,
                self.secret.expose()
            )),
            Mechanism::Oauthbearer => Zeroizing::new(format!(
                "n,a={},\x01host={}\x01port={}\x01auth=Bearer {}\x01\x01",
                sasl_name(&self.user),
                self.host,
                self.port,
                self.secret.expose()
            )),
            Mechanism::ScramSha1 | Mechanism::ScramSha256 => {
                let nonce = self
                    .nonce
                    .as_ref()
                    .map_err(|e| SaslError::Unexpected(e.clone()))?;
                self.client_first_bare = format!("n={},r={nonce}", sasl_name(&self.user));
                Zeroizing::new(format!("n,,{}", self.client_first_bare))
            }
            Mechanism::Login | Mechanism::CramMd5 => {
                return Err(SaslError::Unexpected(format!(
                    "{} has no initial response",
                    self.mech
                )));
            }
        };
        let first = encode(plain.as_bytes());
        self.hidden.add(first.expose());
        Ok(first)
    }

    /// Answer one challenge (the raw base64 text after `"+ "`) with a base64
    /// response line.
    ///
    /// An empty challenge before the client has spoken asks for the initial
    /// response (RFC 4422 §5), so the two-step exchange needs nothing
    /// special. After the initial response, an XOAUTH2 or OAUTHBEARER
    /// challenge is the server's error report: it is kept for
    /// [`server_message`](Self::server_message) and answered with the empty
    /// response the mechanism defines, so that the server ends with `-ERR`.
    pub fn respond(&mut self, challenge_b64: &[u8]) -> Result<Secret, SaslError> {
        let response = self.answer(challenge_b64);
        if let Ok(r) = &response {
            self.hidden.add(r.expose());
        }
        response
    }

    fn answer(&mut self, challenge_b64: &[u8]) -> Result<Secret, SaslError> {
        let challenge = Zeroizing::new(
            B64.decode(challenge_b64.trim_ascii())
                .map_err(|_| SaslError::BadBase64)?,
        );
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        match (self.mech, phase) {
            (m, Phase::Start) if m.has_initial_response() => {
                if !challenge.is_empty() {
                    return Err(self.unexpected(&challenge));
                }
                let ir = self.first_message()?;
                if m != Mechanism::Plain {
                    self.phase = Phase::FirstSent;
                }
                Ok(ir)
            }
            (Mechanism::Login, Phase::Start) => {
                self.phase = Phase::FirstSent;
                Ok(encode(self.user.as_bytes()))
            }
            (Mechanism::Login, Phase::FirstSent) => Ok(encode(self.secret.expose().as_bytes())),
            (Mechanism::CramMd5, Phase::Start) => {
                if challenge.is_empty() {
                    return Err(self.unexpected(&challenge));
                }
                let mac = hmac::<Hmac<Md5>>(self.secret.expose().as_bytes(), &[&challenge])?;
                let line = Zeroizing::new(format!("{} {}", self.user, hex(&mac)));
                Ok(encode(line.as_bytes()))
            }
            (Mechanism::Xoauth2 | Mechanism::Oauthbearer, Phase::FirstSent) => {
                // An empty challenge reports nothing worth quoting.
                self.server_message = (!challenge.is_empty()).then(|| self.quote(&challenge));
                Ok(match self.mech {
                    Mechanism::Oauthbearer => encode(b"\x01"),
                    _ => Secret::new(String::new()),
                })
            }
            (Mechanism::ScramSha1 | Mechanism::ScramSha256, Phase::FirstSent) => {
                let (response, server_signature) = self.scram_client_final(&challenge)?;
                self.phase = Phase::ScramFinalSent { server_signature };
                Ok(response)
            }
            (_, Phase::ScramFinalSent { server_signature }) => {
                self.scram_verify(&challenge, &server_signature)?;
                self.server_verified = true;
                Ok(Secret::new(String::new()))
            }
            _ => Err(self.unexpected(&challenge)),
        }
    }

    /// Whether a `+OK` now ends the exchange properly. For SCRAM only after
    /// the server has proved it knows the password: one that skips its
    /// proof may be an impostor. Always true for the other mechanisms,
    /// which cannot tell.
    pub fn accepts_success(&self) -> bool {
        !self.mech.is_scram() || self.server_verified
    }

    /// Server bytes for an error message: our secrets hidden first, then
    /// made printable and cut short.
    fn quote(&self, bytes: &[u8]) -> String {
        printable_capped(self.hidden.redact(bytes).as_bytes(), MAX_QUOTE_CHARS)
    }

    fn unexpected(&self, challenge: &[u8]) -> SaslError {
        SaslError::Unexpected(if challenge.is_empty() {
            "(empty)".to_string()
        } else {
            self.quote(challenge)
        })
    }

    /// The error report an XOAUTH2/OAUTHBEARER server sent (usually JSON
    /// with a `status`), made printable, for the error message.
    pub fn server_message(&self) -> Option<&str> {
        self.server_message.as_deref()
    }

    /// SCRAM: parse server-first, return client-final and the server
    /// signature to expect.
    fn scram_client_final(
        &self,
        server_first_raw: &[u8],
    ) -> Result<(Secret, Zeroizing<Vec<u8>>), SaslError> {
        let server_first =
            std::str::from_utf8(server_first_raw).map_err(|_| self.unexpected(server_first_raw))?;
        let attrs = ScramAttrs::parse(server_first);
        if attrs.get('m').is_some() {
            return Err(SaslError::Unexpected(
                "the server requires a SCRAM extension popfetch does not know".into(),
            ));
        }
        if let Some(e) = attrs.get('e') {
            return Err(SaslError::Unexpected(format!(
                "SCRAM error from the server: {}",
                self.quote(e.as_bytes())
            )));
        }
        let (Some(nonce), Some(salt), Some(iterations)) =
            (attrs.get('r'), attrs.get('s'), attrs.get('i'))
        else {
            return Err(self.unexpected(server_first_raw));
        };
        let ours = self.nonce.as_deref().unwrap_or_default();
        if ours.is_empty() || !nonce.starts_with(ours) {
            return Err(SaslError::Unexpected(
                "the server's SCRAM nonce does not extend ours".into(),
            ));
        }
        if !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(self.unexpected(server_first_raw));
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| SaslError::Unexpected("the SCRAM salt is not valid base64".into()))?;
        let iterations = iterations
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| iterations.parse::<u32>().ok())
            .flatten()
            .filter(|i| (1..=MAX_SCRAM_ITERATIONS).contains(i))
            .ok_or_else(|| {
                SaslError::Unexpected(format!(
                    "unusable SCRAM iteration count {}",
                    self.quote(iterations.as_bytes())
                ))
            })?;

        // c=biws is base64("n,,"): no channel binding, no authzid.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let password = self.secret.expose().as_bytes();
        let keys = match self.mech {
            Mechanism::ScramSha1 => scram_keys::<Sha1, Hmac<Sha1>>(
                password,
                &salt,
                iterations,
                auth_message.as_bytes(),
            )?,
            _ => scram_keys::<Sha256, Hmac<Sha256>>(
                password,
                &salt,
                iterations,
                auth_message.as_bytes(),
            )?,
        };
        let line = Zeroizing::new(format!("{without_proof},p={}", B64.encode(&*keys.proof)));
        Ok((encode(line.as_bytes()), keys.server_signature))
    }

    /// SCRAM: check server-final against the expected signature.
    fn scram_verify(&self, server_final: &[u8], expected: &[u8]) -> Result<(), SaslError> {
        let text = std::str::from_utf8(server_final).map_err(|_| self.unexpected(server_final))?;
        let attrs = ScramAttrs::parse(text);
        if let Some(e) = attrs.get('e') {
            return Err(SaslError::Unexpected(format!(
                "SCRAM error from the server: {}",
                self.quote(e.as_bytes())
            )));
        }
        let Some(v) = attrs.get('v') else {
            return Err(self.unexpected(server_final));
        };
        let got = B64.decode(v).map_err(|_| SaslError::ServerSignature)?;
        if constant_time_eq(&got, expected) {
            Ok(())
        } else {
            Err(SaslError::ServerSignature)
        }
    }
}

/// `key=value` attributes of a SCRAM message, in order.
struct ScramAttrs<'a>(Vec<(char, &'a str)>);

impl<'a> ScramAttrs<'a> {
    fn parse(msg: &'a str) -> Self {
        ScramAttrs(
            msg.split(',')
                .filter_map(|a| {
                    let mut chars = a.chars();
                    let key = chars.next()?;
                    let value = chars.as_str().strip_prefix('=')?;
                    Some((key, value))
                })
                .collect(),
        )
    }

    fn get(&self, key: char) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// RFC 5802 saslname (also RFC 7628's gs2 `a=`): `=` and `,` escaped.
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

fn encode(bytes: &[u8]) -> Secret {
    Secret::new(B64.encode(bytes))
}

/// 18 random bytes, base64: 24 printable characters without `,`.
fn random_nonce() -> Result<String, String> {
    let mut buf = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom for the SCRAM nonce: {e}"))?;
    Ok(B64.encode(buf))
}

struct ScramKeys {
    proof: Zeroizing<Vec<u8>>,
    server_signature: Zeroizing<Vec<u8>>,
}

/// RFC 5802 §3: ClientProof and ServerSignature for one AuthMessage, with
/// hash `H` and its HMAC `M`.
fn scram_keys<H, M>(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    auth_message: &[u8],
) -> Result<ScramKeys, SaslError>
where
    H: Digest,
    M: Mac + KeyInit + Update + FixedOutput + Clone + Sync,
{
    // SaltedPassword = Hi(password, salt, i): PBKDF2 with one output block.
    let mut salted = Zeroizing::new(vec![0u8; <H as Digest>::output_size()]);
    pbkdf2::pbkdf2::<M>(password, salt, iterations, &mut salted).map_err(hmac_key)?;
    let client_key = hmac::<M>(&salted, &[b"Client Key"])?;
    let stored_key = Zeroizing::new(H::digest(&*client_key).to_vec());
    let client_signature = hmac::<M>(&stored_key, &[auth_message])?;
    let proof = Zeroizing::new(
        client_key
            .iter()
            .zip(client_signature.iter())
            .map(|(k, s)| k ^ s)
            .collect(),
    );
    let server_key = hmac::<M>(&salted, &[b"Server Key"])?;
    let server_signature = hmac::<M>(&server_key, &[auth_message])?;
    Ok(ScramKeys {
        proof,
        server_signature,
    })
}

/// HMAC (RFC 2104) of the concatenated `parts` under `key`.
fn hmac<M>(key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, SaslError>
where
    M: Mac + KeyInit,
{
    let mut mac = <M as Mac>::new_from_slice(key).map_err(hmac_key)?;
    for part in parts {
        Mac::update(&mut mac, part);
    }
    Ok(Zeroizing::new(Mac::finalize(mac).into_bytes().to_vec()))
}

/// HMAC takes keys of every length (longer ones are hashed first), so this
/// cannot happen; it is reported rather than unwrapped all the same.
fn hmac_key(e: InvalidLength) -> SaslError {
    SaslError::Unexpected(format!("cannot key HMAC: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_string())
    }

    fn b64(s: &[u8]) -> Vec<u8> {
        B64.encode(s).into_bytes()
    }

    fn decoded(s: &Secret) -> Vec<u8> {
        B64.decode(s.expose()).unwrap()
    }

    #[test]
    fn mechanism_names() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(Mechanism::CramMd5.name(), "CRAM-MD5");
        assert_eq!(Mechanism::ScramSha256.name(), "SCRAM-SHA-256");
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
        assert_eq!(Mechanism::from_name(""), None);
        assert!(!Mechanism::Login.has_initial_response());
        assert!(!Mechanism::CramMd5.has_initial_response());
        assert!(Mechanism::Xoauth2.has_initial_response());
    }

    #[test]
    fn plain() {
        let pw = secret("tanstaaf");
        let mut c = SaslClient::new(Mechanism::Plain, "tim", &pw, "h", 995);
        let ir = c.initial_response().unwrap();
        assert_eq!(decoded(&ir), b"\0tim\0tanstaaf");
        assert_eq!(ir.expose(), "AHRpbQB0YW5zdGFhZg==");
        assert!(c.accepts_success());
        assert!(matches!(c.respond(b""), Err(SaslError::Unexpected(_))));
    }

    #[test]
    fn plain_two_step() {
        let pw = secret("pw");
        let mut c = SaslClient::new(Mechanism::Plain, "u", &pw, "h", 995);
        assert_eq!(decoded(&c.respond(b"").unwrap()), b"\0u\0pw");
        assert!(c.respond(b"").is_err());
        let mut c = SaslClient::new(Mechanism::Plain, "u", &pw, "h", 995);
        assert!(matches!(
            c.respond(&b64(b"what?")),
            Err(SaslError::Unexpected(m)) if m == "what?"
        ));
    }

    #[test]
    fn login_ignores_prompt_text() {
        let pw = secret("s3cret");
        let mut c = SaslClient::new(Mechanism::Login, "alice", &pw, "h", 110);
        assert!(c.initial_response().is_none());
        // Prompts are not always "Username:"/"Password:".
        assert_eq!(decoded(&c.respond(&b64(b"Password:")).unwrap()), b"alice");
        assert_eq!(decoded(&c.respond(b"").unwrap()), b"s3cret");
        assert!(matches!(
            c.respond(&b64(b"again?")),
            Err(SaslError::Unexpected(_))
        ));
        let mut c = SaslClient::new(Mechanism::Login, "alice", &pw, "h", 110);
        assert_eq!(c.respond(b"VXNlcm5hbWU6").unwrap().expose(), "YWxpY2U=");
        assert_eq!(c.respond(b"UGFzc3dvcmQ6").unwrap().expose(), "czNjcmV0");
    }

    #[test]
    fn cram_md5_rfc2195_vector() {
        let pw = secret("tanstaaftanstaaf");
        let mut c = SaslClient::new(Mechanism::CramMd5, "tim", &pw, "h", 110);
        assert!(c.initial_response().is_none());
        let challenge = b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
        let r = c.respond(challenge).unwrap();
        assert_eq!(decoded(&r), b"tim b913a602c7eda7a495b4e6e7334d3890");
        assert_eq!(
            r.expose(),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
        assert!(c.respond(challenge).is_err());
    }

    #[test]
    fn cram_md5_rejects_empty_and_bad_challenges() {
        let pw = secret("x");
        let mut c = SaslClient::new(Mechanism::CramMd5, "tim", &pw, "h", 110);
        assert!(matches!(c.respond(b""), Err(SaslError::Unexpected(_))));
        let mut c = SaslClient::new(Mechanism::CramMd5, "tim", &pw, "h", 110);
        assert!(matches!(
            c.respond(b"not base64!"),
            Err(SaslError::BadBase64)
        ));
        assert!(matches!(c.respond(b"QQ=A"), Err(SaslError::BadBase64)));
    }

    #[test]
    fn base64_padding_is_optional_on_input() {
        let pw = secret("tanstaaftanstaaf");
        let mut c = SaslClient::new(Mechanism::CramMd5, "tim", &pw, "h", 110);
        // The RFC challenge is 56 chars with no padding already; strip
        // padding from a padded one instead.
        let ch = B64.encode(b"<1896.697170952@postoffice.reston.mci.net>x");
        assert!(ch.ends_with('='));
        assert!(c.respond(ch.trim_end_matches('=').as_bytes()).is_ok());
    }

    #[test]
    fn xoauth2() {
        let token = secret("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        let mut c = SaslClient::new(Mechanism::Xoauth2, "someuser@example.com", &token, "h", 995);
        let ir = c.initial_response().unwrap();
        assert_eq!(
            decoded(&ir),
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        // Google's documented failure challenge.
        let err = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
        let r = c.respond(err).unwrap();
        assert_eq!(r.expose(), "");
        assert!(c.server_message().unwrap().contains("\"status\":\"401\""));
        assert!(c.respond(err).is_err());
    }

    #[test]
    fn xoauth2_two_step() {
        let token = secret("tok");
        let mut c = SaslClient::new(Mechanism::Xoauth2, "u", &token, "h", 995);
        assert_eq!(
            decoded(&c.respond(b"").unwrap()),
            b"user=u\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(c.server_message(), None);
        assert_eq!(
            c.respond(&b64(b"{\"status\":\"400\"}")).unwrap().expose(),
            ""
        );
        assert_eq!(c.server_message(), Some("{\"status\":\"400\"}"));

        // A server that answers the token with an empty challenge.
        let mut c = SaslClient::new(Mechanism::Xoauth2, "u", &token, "h", 995);
        c.initial_response().unwrap();
        assert_eq!(c.respond(b"").unwrap().expose(), "");
        assert_eq!(c.server_message(), None);
    }

    #[test]
    fn oauthbearer_rfc7628_example() {
        let token = secret("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        let mut c = SaslClient::new(
            Mechanism::Oauthbearer,
            "user@example.com",
            &token,
            "server.example.com",
            143,
        );
        let ir = c.initial_response().unwrap();
        assert_eq!(
            decoded(&ir),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        let err = b64(br#"{"status":"invalid_token","scope":"example_scope"}"#);
        let r = c.respond(&err).unwrap();
        assert_eq!(decoded(&r), b"\x01");
        assert!(c.server_message().unwrap().contains("invalid_token"));
    }

    #[test]
    fn oauthbearer_escapes_user() {
        let token = secret("t");
        let mut c = SaslClient::new(Mechanism::Oauthbearer, "a=b,c", &token, "h", 1);
        let ir = decoded(&c.initial_response().unwrap());
        assert!(ir.starts_with(b"n,a=a=3Db=2Cc,\x01"), "{ir:?}");
    }

    fn scram_exchange(
        mech: Mechanism,
        nonce: &str,
        server_first: &str,
        client_final: &str,
        server_final: &str,
        two_step: bool,
    ) {
        let pw = secret("pencil");
        let mut c = SaslClient::with_nonce(mech, "user", &pw, nonce);
        let first = if two_step {
            c.respond(b"").unwrap()
        } else {
            c.initial_response().unwrap()
        };
        assert_eq!(
            String::from_utf8(decoded(&first)).unwrap(),
            format!("n,,n=user,r={nonce}")
        );
        assert!(!c.accepts_success());
        let fin = c.respond(&b64(server_first.as_bytes())).unwrap();
        assert_eq!(String::from_utf8(decoded(&fin)).unwrap(), client_final);
        assert!(!c.accepts_success(), "not before the server's proof");
        let last = c.respond(&b64(server_final.as_bytes())).unwrap();
        assert_eq!(last.expose(), "");
        assert!(c.accepts_success());
        assert!(c.respond(b"").is_err());
    }

    const RFC5802: [&str; 4] = [
        "fyko+d2lbbFgONRv9qkxdawL",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    ];

    const RFC7677: [&str; 4] = [
        "rOprNGfwEbeRWgbNEkqO",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    ];

    #[test]
    fn scram_sha1_rfc5802_vector() {
        let [n, sf, cf, sv] = RFC5802;
        scram_exchange(Mechanism::ScramSha1, n, sf, cf, sv, false);
        scram_exchange(Mechanism::ScramSha1, n, sf, cf, sv, true);
    }

    #[test]
    fn scram_sha256_rfc7677_vector() {
        let [n, sf, cf, sv] = RFC7677;
        scram_exchange(Mechanism::ScramSha256, n, sf, cf, sv, false);
        scram_exchange(Mechanism::ScramSha256, n, sf, cf, sv, true);
    }

    fn scram_after_first(mech: Mechanism, v: [&str; 4]) -> SaslClient {
        let pw = secret("pencil");
        let mut c = SaslClient::with_nonce(mech, "user", &pw, v[0]);
        c.initial_response().unwrap();
        c
    }

    #[test]
    fn scram_wrong_server_signature() {
        let mut c = scram_after_first(Mechanism::ScramSha256, RFC7677);
        c.respond(&b64(RFC7677[1].as_bytes())).unwrap();
        // The SHA-1 vector's signature is a valid value, but not this one.
        let r = c.respond(&b64(RFC5802[3].as_bytes()));
        assert!(matches!(r, Err(SaslError::ServerSignature)));
        assert!(!c.accepts_success());

        let mut c = scram_after_first(Mechanism::ScramSha1, RFC5802);
        c.respond(&b64(RFC5802[1].as_bytes())).unwrap();
        let r = c.respond(&b64(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ"));
        assert!(r.is_ok(), "missing padding is tolerated: {r:?}");

        let mut c = scram_after_first(Mechanism::ScramSha1, RFC5802);
        c.respond(&b64(RFC5802[1].as_bytes())).unwrap();
        let r = c.respond(&b64(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
        assert!(matches!(r, Err(SaslError::ServerSignature)));
    }

    #[test]
    fn scram_wrong_password_gives_other_proof() {
        let pw = secret("pencil2");
        let mut c = SaslClient::with_nonce(Mechanism::ScramSha1, "user", &pw, RFC5802[0]);
        c.initial_response().unwrap();
        let fin = c.respond(&b64(RFC5802[1].as_bytes())).unwrap();
        assert_ne!(String::from_utf8(decoded(&fin)).unwrap(), RFC5802[2]);
        assert!(matches!(
            c.respond(&b64(RFC5802[3].as_bytes())),
            Err(SaslError::ServerSignature)
        ));
    }

    #[test]
    fn scram_hostile_server_first() {
        let bad: &[&[u8]] = &[
            // Nonce that does not extend ours.
            b"r=XXXXd2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
            // Mandatory extension.
            b"m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
            b"e=other-error",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=!!!,i=4096",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=-1",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=+4096",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=999999999",
            b"r=fyko+d2lbbFgONRv9qkxdawL3r c,s=QSXCR+Q6sek8bf92,i=4096",
            b"\xff\xfe",
            b"",
        ];
        for sf in bad {
            let mut c = scram_after_first(Mechanism::ScramSha1, RFC5802);
            let r = c.respond(&b64(sf));
            assert!(matches!(r, Err(SaslError::Unexpected(_))), "{sf:?}: {r:?}");
            assert!(!c.accepts_success());
        }
    }

    #[test]
    fn scram_server_error_in_final() {
        let mut c = scram_after_first(Mechanism::ScramSha1, RFC5802);
        c.respond(&b64(RFC5802[1].as_bytes())).unwrap();
        match c.respond(&b64(b"e=invalid-proof")) {
            Err(SaslError::Unexpected(m)) => assert!(m.contains("invalid-proof"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scram_escapes_user() {
        let pw = secret("p");
        let mut c = SaslClient::with_nonce(Mechanism::ScramSha256, "a=b,c", &pw, "abc");
        let first = decoded(&c.initial_response().unwrap());
        assert_eq!(first, b"n,,n=a=3Db=2Cc,r=abc");
    }

    #[test]
    fn scram_real_nonces_differ() {
        let pw = secret("p");
        let mut a = SaslClient::new(Mechanism::ScramSha256, "u", &pw, "h", 110);
        let mut b = SaslClient::new(Mechanism::ScramSha256, "u", &pw, "h", 110);
        let fa = String::from_utf8(decoded(&a.initial_response().unwrap())).unwrap();
        let fb = String::from_utf8(decoded(&b.initial_response().unwrap())).unwrap();
        assert_ne!(fa, fb);
        let nonce = fa.strip_prefix("n,,n=u,r=").unwrap();
        assert_eq!(nonce.len(), 24);
        assert!(!nonce.contains(','));
    }

    #[test]
    fn scram_without_nonce_reports_why() {
        let pw = secret("p");
        let mut c = SaslClient::build(
            Mechanism::ScramSha1,
            "u",
            &pw,
            "h",
            1,
            Err("no randomness".into()),
        );
        assert!(c.initial_response().is_none());
        assert!(matches!(c.respond(b""), Err(SaslError::Unexpected(m)) if m == "no randomness"));
    }

    #[test]
    fn challenges_quoting_our_secrets_are_quoted_without_them() {
        let pw = secret("hunter2-very-secret");
        let mut c = SaslClient::new(Mechanism::Plain, "u", &pw, "h", 1);
        let ir = c.initial_response().unwrap();
        // After PLAIN's response a challenge is unexpected and quoted: the
        // password, our payload and base64 of the password are hidden,
        // even where the quote is cut short.
        let pad = "x".repeat(MAX_QUOTE_CHARS - 5);
        for echo in [
            format!("{pad} hunter2-very-secret"),
            format!("you sent {}", ir.expose()),
            format!("{pad} {}", B64.encode("hunter2-very-secret")),
        ] {
            match c.respond(&b64(echo.as_bytes())) {
                Err(SaslError::Unexpected(m)) => {
                    assert!(!m.contains("hunt") && !m.contains(ir.expose()), "{m}");
                    assert!(!m.contains(&B64.encode("hunter2-very-secret")[..6]), "{m}");
                }
                other => panic!("{other:?}"),
            }
        }
        // LOGIN: the password's base64 we sent, echoed in a prompt.
        let mut c = SaslClient::new(Mechanism::Login, "u", &pw, "h", 1);
        c.respond(b"").unwrap();
        let sent = c.respond(b"").unwrap();
        let r = c.respond(&b64(format!("what is {}?", sent.expose()).as_bytes()));
        assert!(
            matches!(&r, Err(SaslError::Unexpected(m)) if m == "what is ********?"),
            "{r:?}"
        );
        // XOAUTH2's error report, echoing the token.
        let mut c = SaslClient::new(Mechanism::Xoauth2, "u", &pw, "h", 1);
        c.initial_response().unwrap();
        c.respond(&b64(br#"{"status":"401","token":"hunter2-very-secret"}"#))
            .unwrap();
        assert_eq!(
            c.server_message(),
            Some(r#"{"status":"401","token":"********"}"#)
        );
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let pw = secret("hunter2-very-secret");
        for m in Mechanism::ALL {
            let mut c = SaslClient::with_nonce(m, "u", &pw, "abc");
            let _ = c.initial_response();
            for ch in [&b64(b"garbage, r=abcX,s=QQ==,i=1")[..], b"", b"@@"] {
                if let Err(e) = c.respond(ch) {
                    assert!(!e.to_string().contains("hunter2"), "{m}: {e}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn respond_never_panics(
            mech in 0usize..7,
            use_ir in any::<bool>(),
            challenges in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..5),
        ) {
            let pw = secret("pw");
            let mut c = SaslClient::with_nonce(Mechanism::ALL[mech], "u", &pw, "nonce");
            if use_ir {
                let _ = c.initial_response();
            }
            for ch in &challenges {
                // Both raw bytes and their base64 form.
                let _ = c.respond(ch);
                let _ = c.respond(&b64(ch));
            }
        }
    }
}
