//! What a user needs to decide about a server's certificate: who it names,
//! who signed it, when it is valid, the SHA-256 fingerprint to pin, and why
//! it is not trusted. Everything in a certificate is the server's word:
//! each text is made printable and cut to a bound before it is kept.

use std::net::IpAddr;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{X509NameRef, X509Ref, X509VerifyResult};
use sha2::{Digest, Sha256};

use crate::text::printable_capped;

/// At most this many characters of one name or date.
const MAX_TEXT: usize = 256;
/// At most this many subject alternative names are kept.
const MAX_NAMES: usize = 32;

/// The leaf certificate a server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// `CN=pop.example.com, O=Example`.
    pub subject: String,
    pub issuer: String,
    /// RFC 3339, UTC (`2026-01-31T12:00:00Z`).
    pub not_before: String,
    pub not_after: String,
    /// `DNS:pop.example.com`, `IP:192.0.2.7`, ...
    pub names: Vec<String>,
    /// More names than [`MAX_NAMES`] were left out.
    pub names_cut: bool,
    /// `sha256:AB:CD:...`, the form `tls_fingerprint` takes.
    pub fingerprint: String,
    /// Why it is not trusted, most fundamental first; empty when it is.
    pub problems: Vec<String>,
}

impl CertInfo {
    /// Describe `cert` as presented by `host`. `verify` is what chain
    /// verification said in the handshake (`None`: it was not verified,
    /// or it passed); validity dates and the host name are checked here
    /// too, so that every reason shows, not only the first OpenSSL met.
    pub fn of(cert: &X509Ref, host: &str, verify: Option<X509VerifyResult>) -> CertInfo {
        let fingerprint = cert
            .to_der()
            .map(|der| super::format_fingerprint(&Sha256::digest(&der)))
            .unwrap_or_else(|_| "unknown".to_string());
        let (names, names_cut) = alt_names(cert);
        let mut info = CertInfo {
            subject: name_text(cert.subject_name()),
            issuer: name_text(cert.issuer_name()),
            not_before: time_text(cert.not_before()),
            not_after: time_text(cert.not_after()),
            names,
            names_cut,
            fingerprint,
            problems: Vec::new(),
        };
        if let Some(v) = verify.filter(|v| *v != X509VerifyResult::OK) {
            info.problems.push(verify_problem(v));
        }
        if let Ok(now) = Asn1Time::days_from_now(0) {
            if cert.not_after() < now {
                info.add(format!("expired on {}", info.not_after));
            }
            if cert.not_before() > now {
                info.add(format!("not valid yet: valid from {}", info.not_before));
            }
        }
        if verify.is_some() && !names_host(cert, host) {
            info.add(format!(
                "name mismatch: it is not made out to {}",
                printable_capped(host.as_bytes(), MAX_TEXT)
            ));
        }
        info
    }

    /// Add a problem unless one of the same kind is listed already.
    fn add(&mut self, problem: String) {
        let kind = problem.split([' ', ':']).next().unwrap_or_default();
        if !self.problems.iter().any(|p| p.starts_with(kind)) {
            self.problems.push(problem);
        }
    }

    /// The problems as one phrase.
    pub fn why(&self) -> String {
        self.problems.join("; ")
    }
}

/// A verification result in words, with OpenSSL's own text.
fn verify_problem(v: X509VerifyResult) -> String {
    // X509_V_ERR_* numbers (openssl/x509_vfy.h), stable across versions.
    match v.as_raw() {
        2 | 18 | 19 | 20 | 21 => format!(
            "unknown issuer: no authority this machine trusts signed it ({})",
            v.error_string()
        ),
        10 => format!("expired ({})", v.error_string()),
        9 => format!("not valid yet ({})", v.error_string()),
        62 | 64 => format!("name mismatch ({})", v.error_string()),
        _ => v.error_string().to_string(),
    }
}

/// `CN=..., O=...` in the certificate's order.
fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .take(MAX_NAMES)
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e
                .data()
                .to_string()
                .unwrap_or_else(|_| String::from_utf8_lossy(e.data().as_slice()).into_owned());
            format!("{key}={value}")
        })
        .collect();
    printable_capped(parts.join(", ").as_bytes(), MAX_TEXT)
}

/// An ASN.1 time as RFC 3339 UTC; OpenSSL's own text if it cannot be.
fn time_text(t: &Asn1TimeRef) -> String {
    let seconds = Asn1Time::from_unix(0)
        .ok()
        .and_then(|epoch| epoch.diff(t).ok())
        .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs));
    match seconds.and_then(|s| jiff::Timestamp::from_second(s).ok()) {
        Some(ts) => ts.to_string(),
        None => printable_capped(t.to_string().as_bytes(), MAX_TEXT),
    }
}

/// The subject alternative names, and whether some were left out.
fn alt_names(cert: &X509Ref) -> (Vec<String>, bool) {
    let Some(sans) = cert.subject_alt_names() else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    for gn in sans.iter().take(MAX_NAMES) {
        let text = if let Some(dns) = gn.dnsname() {
            format!("DNS:{dns}")
        } else if let Some(ip) = gn.ipaddress().and_then(ip_of) {
            format!("IP:{ip}")
        } else if let Some(email) = gn.email() {
            format!("email:{email}")
        } else if let Some(uri) = gn.uri() {
            format!("URI:{uri}")
        } else {
            continue;
        };
        out.push(printable_capped(text.as_bytes(), MAX_TEXT));
    }
    (out, sans.len() > MAX_NAMES)
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Whether the certificate is made out to `host` (RFC 6125: the DNS and IP
/// alternative names; the common name only when there is no DNS name; a
/// `*` stands for one whole leftmost label).
fn names_host(cert: &X509Ref, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    let mut dns_names = Vec::new();
    if let Some(sans) = cert.subject_alt_names() {
        for gn in sans.iter() {
            if let Some(dns) = gn.dnsname() {
                dns_names.push(dns.to_ascii_lowercase());
            } else if let (Some(want), Some(got)) = (ip, gn.ipaddress().and_then(ip_of))
                && want == got
            {
                return true;
            }
        }
    }
    if ip.is_some() {
        return false;
    }
    if dns_names.is_empty() {
        dns_names = cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .filter_map(|e| e.data().to_string().ok().map(|s| s.to_ascii_lowercase()))
            .collect();
    }
    dns_names.iter().any(|pattern| dns_matches(pattern, &host))
}

fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_stands_for_one_label() {
        assert!(dns_matches("*.example.com", "pop.example.com"));
        assert!(!dns_matches("*.example.com", "a.pop.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(dns_matches("pop.example.com.", "pop.example.com"));
        assert!(!dns_matches("pop.example.com", "pop.example.org"));
    }

    #[test]
    fn addresses_of_both_families() {
        assert_eq!(ip_of(&[127, 0, 0, 1]), Some("127.0.0.1".parse().unwrap()));
        let mut six = [0u8; 16];
        six[15] = 1;
        assert_eq!(ip_of(&six), Some("::1".parse().unwrap()));
        assert_eq!(ip_of(&[1, 2, 3]), None);
    }

    #[test]
    fn problems_of_one_kind_are_listed_once() {
        let mut info = CertInfo {
            subject: String::new(),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            names: Vec::new(),
            names_cut: false,
            fingerprint: String::new(),
            problems: vec!["expired (certificate has expired)".into()],
        };
        info.add("expired on 2020-01-01T00:00:00Z".into());
        info.add("name mismatch: it is not made out to x".into());
        assert_eq!(
            info.why(),
            "expired (certificate has expired); name mismatch: it is not made out to x"
        );
    }
}
