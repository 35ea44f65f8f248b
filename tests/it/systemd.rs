//! The systemd units in `contrib/systemd/` pass `systemd-analyze verify`
//! as user units. Verification needs no running systemd: it loads the
//! units into a manager of its own. It resolves `%h` from HOME, so it runs
//! with a HOME whose `~/.cargo/bin/popfetch` is the binary under test (it
//! checks that ExecStart= is executable), an XDG_RUNTIME_DIR of its own
//! (a user manager needs one), and `--man=no` (the man page need not be
//! installed to test the units). An unknown key is only a warning to
//! `systemd-analyze` (exit 0), so any complaint naming a unit fails too.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::dovecot::which;
use crate::common::env::BIN;
use crate::common::{in_ci, skip_or_panic_with};

const UNIT_SUFFIXES: &[&str] = &[".service", ".timer", ".socket", ".path", ".target"];

fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd")
}

fn units() -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = fs::read_dir(units_dir())
        .expect("contrib/systemd/")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            UNIT_SUFFIXES.iter().any(|s| name.ends_with(s))
        })
        .collect();
    units.sort();
    units
}

/// `systemd-analyze --user verify` of `units`: (success, stderr). The
/// system units (the `popfetch@.service` template) start
/// `/usr/bin/popfetch`; they are verified as copies that start the binary
/// under test there instead, since verify checks that it is executable.
fn verify(analyze: &Path, units: &[PathBuf]) -> (bool, String) {
    let home = tempfile::tempdir().unwrap();
    let copies = home.path().join("units");
    fs::create_dir(&copies).unwrap();
    let units: Vec<PathBuf> = units
        .iter()
        .map(|u| {
            let copy = copies.join(u.file_name().unwrap());
            let text = fs::read_to_string(u).unwrap();
            fs::write(
                &copy,
                text.replace("/usr/bin/popfetch ", &format!("{BIN} ")),
            )
            .unwrap();
            copy
        })
        .collect();
    let bin = home.path().join(".cargo/bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("popfetch")).unwrap();
    let runtime = home.path().join("run");
    fs::create_dir(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new(analyze)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["--user", "--man=no", "verify"])
        .args(&units)
        .current_dir(&copies)
        .output()
        .expect("run systemd-analyze");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Lines of `stderr` that complain about one of `units`.
fn complaints(stderr: &str, units: &[PathBuf]) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| {
            units.iter().any(|u| {
                let name = u.file_name().unwrap().to_string_lossy();
                l.contains(&*name)
            })
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let units = units();
    for want in ["popfetch.service", "popfetch.timer"] {
        assert!(
            units.iter().any(|u| u.ends_with(want)),
            "contrib/systemd/{want} is missing: {units:?}"
        );
    }
    let Some(analyze) = which("systemd-analyze") else {
        skip_or_panic_with(
            in_ci(),
            "systemd-analyze is not installed",
            "Install it: apt-get install systemd",
        );
        return;
    };
    let (ok, stderr) = verify(&analyze, &units);
    let said = complaints(&stderr, &units);
    assert!(
        ok && said.is_empty(),
        "systemd-analyze verify {units:?}:\n{stderr}"
    );

    // The check above would catch a mistake: a misspelt key is reported.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("popfetch-broken.service");
    let text = fs::read_to_string(units_dir().join("popfetch.service")).unwrap();
    fs::write(&broken, text.replace("ProtectHome=", "ProtectHomee=")).unwrap();
    let (_, stderr) = verify(&analyze, std::slice::from_ref(&broken));
    assert!(
        !complaints(&stderr, &[broken]).is_empty(),
        "a misspelt key went unnoticed:\n{stderr}"
    );
}

/// What `verify` does not judge: the service is a oneshot user service
/// that runs popfetch quietly, may write the Maildir and the state
/// directory and little else, and counts exit 75 (try again later) as no
/// failure; the timer starts it every five minutes and is enabled by
/// timers.target.
#[test]
fn the_service_runs_quietly_and_may_write_only_mail_and_state() {
    let service = fs::read_to_string(units_dir().join("popfetch.service")).unwrap();
    let timer = fs::read_to_string(units_dir().join("popfetch.timer")).unwrap();
    let has = |text: &str, line: &str| text.lines().any(|l| l.trim() == line);
    for line in [
        "Type=oneshot",
        "ExecStart=%h/.cargo/bin/popfetch -q",
        "SuccessExitStatus=75",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "ReadWritePaths=-%h/Mail -%h/.local/state",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(has(&service, line), "popfetch.service lacks {line:?}");
    }
    for line in [
        "OnUnitInactiveSec=5min",
        "Unit=popfetch.service",
        "WantedBy=timers.target",
    ] {
        assert!(has(&timer, line), "popfetch.timer lacks {line:?}");
    }
    // A user unit: nothing that only a system manager may do.
    for forbidden in ["User=", "Group=", "WantedBy=multi-user.target"] {
        assert!(
            !service.lines().any(|l| l.trim().starts_with(forbidden)),
            "popfetch.service is a user unit: no {forbidden}"
        );
    }
}
