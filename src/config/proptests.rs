//! Property tests for the config file and `.netrc` readers, over arbitrary
//! text and over text assembled from TOML pieces that reach every branch:
//!
//! - `file::parse_file` and `load_in` never panic; every error about the
//!   file is located as `FILE:LINE:COL` within the text (the one
//!   exception, a file with no account, names the file), and no error
//!   repeats a password written in the file.
//! - `Netrc::parse` never panics on arbitrary text, and entries written
//!   with any tokens (quoted as curl writes them) are found again, around
//!   `macdef` blocks and comments-as-junk.

use std::path::Path;

use proptest::prelude::*;

use super::netrc::Netrc;
use super::{ConfigError, Env, file};

/// A password no other piece below can contain.
const PW: &str = "Pw-9f3Kq-never-shown";

/// `FILE:LINE:COL` at the start of `at`, checked to lie within `text`.
fn check_location(at: &str, path: &Path, text: &str) -> Result<(), TestCaseError> {
    let prefix = format!("{}:", path.display());
    let rest = at
        .strip_prefix(&prefix)
        .ok_or_else(|| TestCaseError::fail(format!("{at:?} does not start with the file")))?;
    let mut parts = rest.splitn(2, ':');
    let line: usize = parts
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| TestCaseError::fail(format!("no line number in {at:?}")))?;
    let col: usize = parts
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| TestCaseError::fail(format!("no column number in {at:?}")))?;
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        line >= 1 && line <= lines.len(),
        "line {line} of {}",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    prop_assert!(
        col >= 1 && col <= width + 1,
        "column {col} of a line of {width}"
    );
    Ok(())
}

/// Checks one error about the file: located, and no password in it.
fn check_error(e: &ConfigError, path: &Path, text: &str) -> Result<(), TestCaseError> {
    let shown = format!("{e} {e:?}");
    prop_assert!(!shown.contains(PW), "the password leaked: {shown}");
    match e {
        ConfigError::Syntax { at, .. } | ConfigError::Invalid { at, .. } => {
            check_location(at, path, text)
        }
        ConfigError::NoAccounts { path: p } => {
            prop_assert_eq!(p.as_path(), path);
            Ok(())
        }
        other => Err(TestCaseError::fail(format!(
            "an error that names no place in the file: {other}"
        ))),
    }
}

/// Lines of TOML that reach the config walk's branches, valid or not.
fn toml_line() -> impl Strategy<Value = String> {
    // Every key the walk knows, and some it does not.
    let mut keys: Vec<&str> = file::KNOWN_KEYS.to_vec();
    keys.extend(["prot", "defaults", "account", "\"quoted key\"", "a.b"]);
    let key = prop::sample::select(keys);
    let value = prop_oneof![
        Just("\"pop.example.com\"".to_string()),
        Just("\"~/Mail\"".to_string()),
        Just("\"~bob/x\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"implicit\"".to_string()),
        Just("\"none\"".to_string()),
        Just("\"10M\"".to_string()),
        Just("\"sha256:00\"".to_string()),
        Just("[]".to_string()),
        Just("[1, \"a\"]".to_string()),
        Just("{ x = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("3.5".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..70000).prop_map(|n| n.to_string()),
        "\"[ -~é\t]{0,12}\"",
        "[ -~]{0,8}",
    ];
    prop_oneof![
        4 => (key, value, "[ \t]{0,2}").prop_map(|(k, v, sp)| format!("{sp}{k}{sp}={sp}{v}")),
        // The password, well written or not, and twice in one table.
        1 => prop::sample::select(vec![
            format!("password = \"{PW}\""),
            format!("password = '{PW}'"),
            format!("password = \"{PW}"),
            format!("password = {PW}"),
            format!("password = \"{PW}\" x"),
            format!("password = [\"{PW}\"]"),
            format!("password = {{ p = \"{PW}\" }}"),
        ]),
        2 => prop::sample::select(vec![
            "[defaults]",
            "[account.work]",
            "[account.home]",
            "[account.\"a b\"]",
            "[account.\"\"]",
            "[account.\"-x\"]",
            "[account]",
            "[[account]]",
            "[other]",
            "[account.work.sub]",
            "account.x = 1",
            "defaults = 1",
            "# comment",
            "",
        ])
        .prop_map(str::to_string),
        1 => "[ -~é\t\r]{0,20}",
    ]
}

fn toml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(toml_line(), 0..16).prop_map(|l| l.join("\n")),
        1 => proptest::collection::vec(any::<char>(), 0..200).prop_map(|c| c.into_iter().collect()),
    ]
}

fn env(dir: &Path) -> Env {
    Env {
        home: Some(dir.join("home")),
        config_base: Some(dir.join("config")),
        state_base: Some(dir.join("state")),
        netrc: Some(dir.join("no-netrc")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The TOML walk: no panic, and every error located in the text.
    #[test]
    fn parse_file_errors_are_located(text in toml_text()) {
        let path = Path::new("/cfg/config.toml");
        let env = env(Path::new("/nonexistent"));
        if let Err(e) = file::parse_file(path, &text, &env) {
            check_error(&e, path, &text)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The whole load, defaults and accounts merged and resolved: no
    /// panic, and every error located (or saying there is no account).
    #[test]
    fn load_errors_are_located(text in toml_text()) {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &text).unwrap();
        let mut cli = crate::cli::Cli::try_parse_from(["popfetch"]).unwrap();
        cli.global.config = Some(path.clone());
        match super::load_in(&cli, &[], &env(dir.path())) {
            Ok(loaded) => {
                prop_assert!(!loaded.accounts.is_empty());
                for w in &loaded.warnings {
                    prop_assert!(!w.contains(PW), "{w}");
                }
                let shown = format!("{:?}", loaded.accounts);
                prop_assert!(!shown.contains(PW), "{shown}");
            }
            Err(e) => check_error(&e, &path, &text)?,
        }
    }
}

// --- .netrc --------------------------------------------------------------------

/// A token as curl writes it: bare when it can be, else quoted.
fn netrc_token(t: &str) -> String {
    let bare = !t.is_empty() && !t.starts_with('"') && !t.contains(char::is_whitespace);
    if bare {
        return t.to_string();
    }
    let mut q = String::from("\"");
    for c in t.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// A token: anything, but a bare one must not be a keyword, or it would
/// be read as one.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.@-]{1,12}",
        "[ -~\t\né]{0,12}",
        Just("machine".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
    ]
}

#[derive(Debug, Clone)]
struct NetrcEntry {
    machine: Option<String>,
    login: Option<String>,
    password: String,
}

fn entry() -> impl Strategy<Value = NetrcEntry> {
    (
        proptest::option::weighted(0.9, token()),
        proptest::option::of(token()),
        token(),
    )
        .prop_map(|(machine, login, password)| NetrcEntry {
            machine,
            login,
            password,
        })
}

fn render(entries: &[NetrcEntry], macros: &[bool], seps: &[&str]) -> String {
    let mut text = String::new();
    for (i, e) in entries.iter().enumerate() {
        let sep = seps[i % seps.len()];
        if macros[i % macros.len()] {
            // A macro body, ended by an empty line, with a fake entry in it.
            text.push_str("macdef init\ncd /pub\nmachine fake login x password wrong\n\n");
        }
        match &e.machine {
            Some(m) => text.push_str(&format!("machine{sep}{}", netrc_token(m))),
            None => text.push_str("default"),
        }
        if let Some(l) = &e.login {
            text.push_str(&format!("{sep}login{sep}{}", netrc_token(l)));
        }
        text.push_str(&format!("{sep}password{sep}{}\n", netrc_token(&e.password)));
    }
    text
}

/// What the lookup rule says for `host` and `user`: the first machine entry
/// for the host whose login fits, else the first default entry that fits.
fn expected<'a>(entries: &'a [NetrcEntry], host: &str, user: &str) -> Option<&'a str> {
    let fits = |e: &NetrcEntry| e.login.as_deref().is_none_or(|l| l == user);
    entries
        .iter()
        .find(|e| {
            e.machine
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(host))
                && fits(e)
        })
        .or_else(|| entries.iter().find(|e| e.machine.is_none() && fits(e)))
        .map(|e| e.password.as_str())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn netrc_never_panics(text in prop_oneof![
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|c| c.into_iter().collect::<String>()),
        proptest::collection::vec(
            prop::sample::select(vec![
                "machine", "default", "login", "password", "account", "macdef", " ", "\n", "\n\n",
                "\"", "\\", "\t", "h", "u", "p", "é",
            ]),
            0..60,
        )
        .prop_map(|p| p.concat()),
    ]) {
        let n = Netrc::parse(&text);
        let _ = n.password("h", "u");
        let _ = n.password("", "");
        let shown = format!("{n:?}");
        prop_assert!(!shown.contains("password"), "{shown}");
    }

    /// Entries written with any tokens are read back: for every host and
    /// user written, the password the lookup rule picks.
    #[test]
    fn netrc_entries_round_trip(
        entries in proptest::collection::vec(entry(), 1..6),
        macros in proptest::collection::vec(any::<bool>(), 1..4),
        seps in proptest::collection::vec(prop::sample::select(vec![" ", "\t", "\n  ", "  "]), 1..3),
    ) {
        let text = render(&entries, &macros, &seps);
        let n = Netrc::parse(&text);
        for e in &entries {
            let host = e.machine.as_deref().unwrap_or("elsewhere.example");
            let user = e.login.as_deref().unwrap_or("anyone");
            prop_assert_eq!(n.password(host, user), expected(&entries, host, user), "{}", text);
        }
        // The entry inside the macro body is never an entry.
        if !entries.iter().any(|e| e.machine.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("fake"))) {
            prop_assert_ne!(n.password("fake", "x"), Some("wrong"));
        }
    }
}
