//! Property tests for the SASL client, beyond the RFC vectors in
//! `sasl.rs`:
//!
//! - every mechanism, at every step of its exchange, answers arbitrary
//!   challenge bytes (raw, base64, SCRAM-shaped) without panicking, and no
//!   error it reports contains the password or token;
//! - PLAIN, LOGIN, XOAUTH2, OAUTHBEARER and CRAM-MD5 responses decode to
//!   exactly what their specifications say, for any user and secret, in
//!   the one-step and the two-step form;
//! - SCRAM-SHA-1 and SCRAM-SHA-256 complete against an independent server
//!   written here from RFC 5802 (any user name, password, salt, iteration
//!   count and server nonce), and a server signature with any byte changed
//!   is refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::digest::{FixedOutput, KeyInit, Update};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::sasl::{Mechanism, SaslClient, SaslError};
use crate::secret::Secret;
use crate::text::hex;

fn b64(bytes: &[u8]) -> Vec<u8> {
    STANDARD.encode(bytes).into_bytes()
}

fn decoded(s: &Secret) -> Vec<u8> {
    STANDARD
        .decode(s.expose())
        .expect("responses are padded base64")
}

/// A password or token no challenge below can contain by chance.
fn secret_text() -> impl Strategy<Value = String> {
    "[a-z]{4}-SeCrEt-[A-Za-z0-9!#&*~ é]{4,24}"
}

/// What a hostile or broken server may send as a challenge.
fn challenge(nonce: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let attr_value = "[ -+--~]{0,16}"; // printable, no ','
    let scram_like = (
        proptest::option::of(("[!-+--~]{0,12}", 0u32..40)),
        proptest::option::of("[A-Za-z0-9+/=]{0,24}"),
        proptest::collection::vec(("[a-zA-Z]", attr_value), 0..3),
        any::<bool>(),
    )
        .prop_map(move |(r, s, extra, extra_first)| {
            let mut attrs: Vec<String> = Vec::new();
            if let Some((suffix, i)) = r {
                attrs.push(format!("r={nonce}{suffix}"));
                attrs.push(format!("i={i}"));
            }
            if let Some(s) = s {
                attrs.push(format!("s={s}"));
            }
            let extra: Vec<String> = extra.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            if extra_first {
                attrs.splice(0..0, extra);
            } else {
                attrs.extend(extra);
            }
            b64(attrs.join(",").as_bytes())
        });
    prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 0..80),
        2 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| b64(&b)),
        2 => scram_like,
        1 => "v=[A-Za-z0-9+/=]{0,44}".prop_map(|v| b64(v.as_bytes())),
        1 => "e=[ -~]{0,20}".prop_map(|v| b64(v.as_bytes())),
        1 => Just(Vec::new()),
    ]
}

const NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any mechanism, started either way, fed any challenges: no panic,
    /// and the secret appears in no error and no kept server message.
    #[test]
    fn any_challenge_at_any_step_never_panics_nor_leaks(
        mech in prop::sample::select(Mechanism::ALL.to_vec()),
        use_ir in any::<bool>(),
        user in "[ -~]{0,12}",
        pw in secret_text(),
        challenges in proptest::collection::vec(challenge(NONCE), 1..6),
    ) {
        let secret = Secret::new(pw.clone());
        let mut c = SaslClient::with_nonce(mech, &user, &secret, NONCE);
        if use_ir {
            let _ = c.initial_response();
        }
        for ch in &challenges {
            if let Err(e) = c.respond(ch) {
                let shown = format!("{e} {e:?}");
                prop_assert!(!shown.contains(&pw), "{mech}: {shown}");
            }
            if let Some(m) = c.server_message() {
                prop_assert!(!m.contains(&pw));
                prop_assert!(!m.chars().any(char::is_control), "{m:?}");
            }
        }
        // SCRAM trusts a +OK only once the server has proved itself, and
        // only a challenge carrying the right signature can do that.
        if matches!(mech, Mechanism::ScramSha1 | Mechanism::ScramSha256) && c.accepts_success() {
            prop_assert!(false, "{mech} accepted a server that never proved itself");
        }
    }

    /// PLAIN, XOAUTH2 and OAUTHBEARER say exactly what their specifications
    /// say, for any user and secret, on the AUTH line or after an empty
    /// challenge; PLAIN is then finished.
    #[test]
    fn initial_responses_are_exact(
        user in "[^\0\x01]{0,20}",
        // At least 6 characters: the report below decodes from base64 to
        // 4 bytes, and a shorter secret could be found in them and hidden.
        pw in "[^\0\x01]{6,40}",
        host in "[a-z0-9.-]{1,20}",
        port in any::<u16>(),
        two_step in any::<bool>(),
    ) {
        let secret = Secret::new(pw.clone());
        let escaped = user.replace('=', "=3D").replace(',', "=2C");
        let cases = [
            (Mechanism::Plain, format!("\0{user}\0{pw}")),
            (Mechanism::Xoauth2, format!("user={user}\x01auth=Bearer {pw}\x01\x01")),
            (
                Mechanism::Oauthbearer,
                format!("n,a={escaped},\x01host={host}\x01port={port}\x01auth=Bearer {pw}\x01\x01"),
            ),
        ];
        for (mech, want) in cases {
            let mut c = SaslClient::new(mech, &user, &secret, &host, port);
            let first = if two_step { c.respond(b"").unwrap() } else { c.initial_response().unwrap() };
            prop_assert_eq!(decoded(&first), want.into_bytes(), "{}", mech);
            prop_assert!(c.accepts_success());
            if mech == Mechanism::Plain {
                prop_assert!(c.respond(b"").is_err(), "PLAIN has one step");
            } else {
                // An OAuth server's error report is kept, answered with the
                // mechanism's empty response.
                let report = br#"{"status":"401"}"#;
                let reply = c.respond(&b64(report)).unwrap();
                let want: &[u8] = if mech == Mechanism::Oauthbearer { b"\x01" } else { b"" };
                prop_assert_eq!(decoded(&reply), want);
                prop_assert_eq!(c.server_message(), Some(r#"{"status":"401"}"#));
            }
        }
    }

    /// LOGIN answers its two prompts, whatever they say, with the user and
    /// the password; CRAM-MD5 answers any challenge with the user and the
    /// HMAC-MD5 of the challenge under the password (RFC 2195).
    #[test]
    fn login_and_cram_md5_are_exact(
        user in "[ -~]{1,20}",
        pw in "[ -~]{1,40}",
        prompt1 in proptest::collection::vec(any::<u8>(), 0..40),
        prompt2 in proptest::collection::vec(any::<u8>(), 0..40),
        cram in proptest::collection::vec(any::<u8>(), 1..100),
    ) {
        let secret = Secret::new(pw.clone());
        let mut c = SaslClient::new(Mechanism::Login, &user, &secret, "h", 110);
        prop_assert!(c.initial_response().is_none());
        prop_assert_eq!(decoded(&c.respond(&b64(&prompt1)).unwrap()), user.as_bytes());
        prop_assert_eq!(decoded(&c.respond(&b64(&prompt2)).unwrap()), pw.as_bytes());
        prop_assert!(c.respond(b"").is_err(), "LOGIN has two steps");

        let mut c = SaslClient::new(Mechanism::CramMd5, &user, &secret, "h", 110);
        prop_assert!(c.initial_response().is_none());
        let want = format!("{user} {}", hex(&hmac_of::<Hmac<md5::Md5>>(pw.as_bytes(), &cram)));
        prop_assert_eq!(decoded(&c.respond(&b64(&cram)).unwrap()), want.into_bytes());
        prop_assert!(c.respond(&b64(&cram)).is_err(), "CRAM-MD5 has one step");
    }
}

// --- SCRAM against an independent server ----------------------------------------

/// RFC 5802 §3 from the server's side, for hash `H`: the salted password's
/// client and server keys.
fn scram_server_keys<H: Digest, M: ScramMac>(
    password: &[u8],
    salt: &[u8],
    i: u32,
) -> (Vec<u8>, Vec<u8>) {
    let mut salted = vec![0u8; <H as Digest>::output_size()];
    pbkdf2::pbkdf2::<M>(password, salt, i, &mut salted).unwrap();
    (
        hmac_of::<M>(&salted, b"Client Key"),
        hmac_of::<M>(&salted, b"Server Key"),
    )
}

/// The HMAC of hash `H`, as PBKDF2 wants it.
trait ScramMac: Mac + KeyInit + Update + FixedOutput + Clone + Sync {}
impl<M: Mac + KeyInit + Update + FixedOutput + Clone + Sync> ScramMac for M {}

fn hmac_of<M: ScramMac>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <M as Mac>::new_from_slice(key).unwrap();
    Mac::update(&mut m, msg);
    m.finalize().into_bytes().to_vec()
}

/// The server's half of one SCRAM exchange with `c`. Returns the server
/// signature it sends, after checking the client's proof.
fn scram_server<H: Digest, M: ScramMac>(
    c: &mut SaslClient,
    user: &str,
    password: &str,
    salt: &[u8],
    i: u32,
    server_nonce: &str,
    two_step: bool,
) -> Result<Vec<u8>, TestCaseError> {
    let first = if two_step {
        c.respond(b"").unwrap()
    } else {
        c.initial_response().unwrap()
    };
    let first = String::from_utf8(decoded(&first)).unwrap();
    let bare = first
        .strip_prefix("n,,")
        .expect("no channel binding, no authzid");
    let (n, r) = bare.split_once(",r=").expect("n=...,r=...");
    let name = n.strip_prefix("n=").unwrap();
    // saslname: "=2C" and "=3D" are the only escapes, and no bare ',' or '='.
    prop_assert!(!name.contains(','));
    prop_assert_eq!(
        name.replace("=2C", ",").replace("=3D", "="),
        user.to_string()
    );
    let nonce = format!("{r}{server_nonce}");
    let server_first = format!("r={nonce},s={},i={i}", STANDARD.encode(salt));
    let fin = c.respond(&b64(server_first.as_bytes())).unwrap();
    prop_assert!(!c.accepts_success(), "not before the server's proof");
    let fin = String::from_utf8(decoded(&fin)).unwrap();
    let (without_proof, proof) = fin.rsplit_once(",p=").unwrap();
    prop_assert_eq!(without_proof, format!("c=biws,r={nonce}"));
    let auth_message = format!("{bare},{server_first},{without_proof}");

    let (client_key, server_key) = scram_server_keys::<H, M>(password.as_bytes(), salt, i);
    let stored_key = H::digest(&client_key).to_vec();
    let client_signature = hmac_of::<M>(&stored_key, auth_message.as_bytes());
    let proof = STANDARD.decode(proof).unwrap();
    prop_assert_eq!(proof.len(), client_key.len());
    let recovered: Vec<u8> = proof
        .iter()
        .zip(&client_signature)
        .map(|(p, s)| p ^ s)
        .collect();
    prop_assert_eq!(
        H::digest(&recovered).to_vec(),
        stored_key,
        "the proof checks"
    );
    Ok(hmac_of::<M>(&server_key, auth_message.as_bytes()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scram_completes_against_an_independent_server(
        sha256 in any::<bool>(),
        user in "[ -~é]{1,16}",
        pw in "[ -~é]{1,24}",
        salt in proptest::collection::vec(any::<u8>(), 1..24),
        i in 1u32..64,
        server_nonce in "[!-+--~]{1,24}",
        two_step in any::<bool>(),
        tamper in any::<(usize, u8)>(),
    ) {
        let secret = Secret::new(pw.clone());
        let mech = if sha256 { Mechanism::ScramSha256 } else { Mechanism::ScramSha1 };
        let run = |c: &mut SaslClient| {
            if sha256 {
                scram_server::<Sha256, Hmac<Sha256>>(c, &user, &pw, &salt, i, &server_nonce, two_step)
            } else {
                scram_server::<Sha1, Hmac<Sha1>>(c, &user, &pw, &salt, i, &server_nonce, two_step)
            }
        };

        let mut c = SaslClient::with_nonce(mech, &user, &secret, NONCE);
        let signature = run(&mut c)?;
        let last = c.respond(&b64(format!("v={}", STANDARD.encode(&signature)).as_bytes())).unwrap();
        prop_assert_eq!(last.expose(), "");
        prop_assert!(c.accepts_success());

        // The same exchange with one byte of the signature changed.
        let mut c = SaslClient::with_nonce(mech, &user, &secret, NONCE);
        let mut signature = run(&mut c)?;
        let at = tamper.0 % signature.len();
        signature[at] ^= tamper.1.max(1);
        let r = c.respond(&b64(format!("v={}", STANDARD.encode(&signature)).as_bytes()));
        prop_assert!(matches!(r, Err(SaslError::ServerSignature)), "{r:?}");
        prop_assert!(!c.accepts_success());
    }
}

/// A server asking for an absurd iteration count is refused at once, not
/// computed.
#[test]
fn scram_refuses_huge_iteration_counts_quickly() {
    let secret = Secret::new("pw".into());
    for i in [
        "1000001",
        "4294967295",
        "4294967296",
        "99999999999999999999",
    ] {
        let mut c = SaslClient::with_nonce(Mechanism::ScramSha256, "u", &secret, NONCE);
        c.initial_response().unwrap();
        let started = std::time::Instant::now();
        let first = format!("r={NONCE}x,s=QQ==,i={i}");
        assert!(c.respond(&b64(first.as_bytes())).is_err(), "{i}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{i}");
    }
}
