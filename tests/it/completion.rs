//! Shell completion offers the account names of the config file, asked
//! from `popfetch accounts --names` only when an account is completed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::env::{BIN, TestEnv};

fn completions(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(file)
}

const CONFIG: &str = r#"
[defaults]
keep = true

[account.work]
host = "pop.example.com"
user = "ann"
password_command = "exit 1"
maildir = "~/Mail/work"

[account.home-mail]
host = "pop.example.net"
user = "ann"
password_command = "exit 1"
maildir = "~/Mail/home"
"#;

/// `PATH` with the popfetch under test first.
fn path_with_popfetch() -> std::ffi::OsString {
    let dir = Path::new(BIN).parent().unwrap().to_path_buf();
    let mut dirs = vec![dir];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// What bash offers for the command line `line` (completing its last
/// word; a line ending in a space completes an empty word).
fn bash_offers(env: &TestEnv, line: &str) -> Vec<String> {
    let script = format!(
        r#"source {}
COMP_LINE={line:?}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_POINT=${{#COMP_LINE}}
spec=$(complete -p popfetch)
fn=${{spec#*-F }}; fn=${{fn%% *}}
cur=${{COMP_WORDS[COMP_CWORD]}}
prev=""; (( COMP_CWORD > 0 )) && prev=${{COMP_WORDS[COMP_CWORD-1]}}
"$fn" popfetch "$cur" "$prev"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        completions("popfetch.bash").display()
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", path_with_popfetch())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.config_home())
        .env("XDG_STATE_HOME", env.state_home())
        .current_dir(env.home())
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn accounts_names_prints_the_names_and_nothing_else() {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    let out = env.run(&["accounts", "--names"]);
    out.assert_success();
    let mut names: Vec<&str> = out.stdout.lines().collect();
    names.sort();
    assert_eq!(names, ["home-mail", "work"], "{out}");
    assert_eq!(out.stderr, "", "{out}");
    // Without a config file: nothing, and no word either.
    let bare = TestEnv::new();
    let out = bare.run(&["accounts", "--names"]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", ""),
        "{out}"
    );
    // Names a shell would need quoted are not offered.
    let odd = env.path("odd.toml");
    env.write_config_at(
        &odd,
        "[account.\"a b\"]\n[account.\"$(touch pwned)\"]\n[account.\"`x`\"]\n[account.ok]\n",
    );
    let out = env.run(&["accounts", "--names", "-c", odd.to_str().unwrap()]);
    assert_eq!(out.stdout, "ok\n", "{out}");
    // --names is for the completion scripts: not in --help.
    let help = env.run(&["accounts", "--help"]);
    assert!(!help.stdout.contains("--names"), "{help}");
}

#[test]
fn bash_completion_offers_the_account_names_where_an_account_goes() {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    let other = env.path("other.toml");
    env.write_config_at(
        &other,
        "[account.elsewhere]\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/tmp/x\"\n",
    );

    let offered = bash_offers(&env, "popfetch check ");
    assert!(
        offered.contains(&"work".to_string()) && offered.contains(&"home-mail".to_string()),
        "{offered:?}"
    );
    assert!(!offered.iter().any(|w| w.starts_with('-')), "{offered:?}");

    assert_eq!(bash_offers(&env, "popfetch fetch w"), ["work"]);
    assert_eq!(bash_offers(&env, "popfetch -v adopt home"), ["home-mail"]);
    // At the top, the subcommands and the accounts.
    let top = bash_offers(&env, "popfetch ");
    for want in ["check", "fetch", "work", "home-mail"] {
        assert!(top.contains(&want.to_string()), "{want}: {top:?}");
    }
    assert!(!top.iter().any(|w| w.starts_with('[')), "{top:?}");
    // The config file -c names.
    let line = format!("popfetch -c {} check ", other.display());
    assert_eq!(bash_offers(&env, &line), ["elsewhere"]);
    // A name is never expanded by the shell.
    let odd = env.path("odd.toml");
    env.write_config_at(&odd, "[account.\"$(touch pwned)\"]\n[account.ok]\n");
    let line = format!("popfetch -c {} check ", odd.display());
    assert_eq!(bash_offers(&env, &line), ["ok"]);
    assert!(!env.path("pwned").exists());
    // Not where something else goes.
    for line in [
        "popfetch import ",
        "popfetch config ",
        "popfetch --max-size ",
        "popfetch check --progress ",
    ] {
        let offered = bash_offers(&env, line);
        assert!(
            !offered.contains(&"work".to_string()),
            "{line}: {offered:?}"
        );
    }
    // Options still complete as before.
    assert!(bash_offers(&env, "popfetch check --pro").contains(&"--progress".to_string()));
}

/// Runs `script` in `shell` when it is installed; `None` when it is not.
fn run_shell(env: &TestEnv, shell: &str, args: &[&str]) -> Option<String> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(shell).is_file());
    if !found {
        crate::common::skip_or_panic_with(
            crate::common::in_ci(),
            &format!("{shell} is not installed"),
            &format!("Install it: apt-get install {shell}"),
        );
        return None;
    }
    let out = Command::new(shell)
        .args(args)
        .env_clear()
        .env("PATH", path_with_popfetch())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.config_home())
        .env("XDG_STATE_HOME", env.state_home())
        .current_dir(env.home())
        .output()
        .expect("run the shell");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What fish offers for `line`, when fish is installed.
fn fish_offers(env: &TestEnv, line: &str) -> Option<Vec<String>> {
    let script = format!(
        "source {}; complete -C {}",
        completions("popfetch.fish").display(),
        shlex::try_quote(line).unwrap()
    );
    let out = run_shell(env, "fish", &["--no-config", "-c", &script])?;
    Some(
        out.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect(),
    )
}

#[test]
fn fish_completion_offers_the_account_names() {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    let other = env.path("other.toml");
    env.write_config_at(
        &other,
        "[account.elsewhere]\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/tmp/x\"\n",
    );
    let Some(words) = fish_offers(&env, "popfetch check ") else {
        return;
    };
    assert!(
        words.contains(&"work".to_string()) && words.contains(&"home-mail".to_string()),
        "{words:?}"
    );
    let words = fish_offers(&env, "popfetch home").unwrap();
    assert_eq!(words, ["home-mail"]);
    let line = format!("popfetch -c {} adopt ", other.display());
    assert_eq!(fish_offers(&env, &line).unwrap(), ["elsewhere"]);
    for line in [
        "popfetch import ",
        "popfetch --config ",
        "popfetch check --max-size ",
    ] {
        let words = fish_offers(&env, line).unwrap();
        assert!(!words.contains(&"work".to_string()), "{line}: {words:?}");
    }
}

#[test]
fn zsh_completion_asks_popfetch_for_the_account_names() {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    // The function the account arguments complete with, run as zsh would
    // (compadd stands in for the completion system's own).
    let script = format!(
        "compadd() {{ shift; print -l -- ${{(P)1}} }}; \
         source <(sed -n '/^(( $+functions\\[_popfetch_accounts\\] ))/,/^}}/p' {}); \
         _popfetch_accounts",
        completions("_popfetch").display()
    );
    let Some(out) = run_shell(&env, "zsh", &["-f", "-c", &script]) else {
        return;
    };
    // The whole script parses.
    let parsed = Command::new("zsh")
        .args(["-f", "-n"])
        .arg(completions("_popfetch"))
        .status()
        .expect("zsh -n");
    assert!(parsed.success());
    let words: Vec<&str> = out.lines().collect();
    assert!(
        words.contains(&"work") && words.contains(&"home-mail"),
        "{out}"
    );
}
