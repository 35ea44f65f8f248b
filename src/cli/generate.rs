//! The man page (`man/popfetch.1`) and the shell completions
//! (`completions/`), rendered from the clap definition. Only the test
//! below uses them: it compares the committed copies with a fresh
//! rendering, and rewrites them with `POPFETCH_BLESS=1`.

use clap::CommandFactory;

use super::Cli;

/// The clap command, for rendering help, the man page and completions.
fn command() -> clap::Command {
    Cli::command()
}

/// Sections of the man page that clap does not know about: the config file,
/// passwords, files, environment, exit status and examples.
const MAN_SECTIONS: &str = include_str!("man-sections.roff");

/// The man page, `man/popfetch.1`. Deterministic: no date is embedded.
fn render_man() -> Vec<u8> {
    let man = clap_mangen::Man::new(command());
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, so the results carry no information.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    out.extend_from_slice(man_commands_section().as_bytes());
    out.extend_from_slice(MAN_SECTIONS.as_bytes());
    let _ = man.render_version_section(&mut out);
    out
}

/// The subcommands, described on this page (clap_mangen would point to a
/// separate page per subcommand).
fn man_commands_section() -> String {
    let mut cmd = command();
    cmd.build();
    let mut out = String::from(".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let args: Vec<String> = sub
            .get_positionals()
            .map(|a| {
                let name = a
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map_or_else(|| a.get_id().to_string(), |v| v.to_string());
                let dots = if a.get_num_args().is_some_and(|n| n.max_values() > 1) {
                    "..."
                } else {
                    ""
                };
                format!(" [\\fI{}\\fR]{dots}", roff_escape(&name))
            })
            .collect();
        out.push_str(&format!(
            ".TP\n\\fBpopfetch {}\\fR{}\n",
            roff_escape(sub.get_name()),
            args.concat()
        ));
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        for (i, para) in about.split("\n\n").enumerate() {
            if i > 0 {
                out.push_str(".IP\n");
            }
            out.push_str(&roff_escape(para.trim()));
            out.push('\n');
        }
    }
    out
}

/// Text as roff: backslashes and hyphens escaped, no line taken for a request.
fn roff_escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let l = line.replace('\\', "\\e").replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shell completions as `(path relative to the crate root, contents)`.
fn render_completions() -> Vec<(&'static str, Vec<u8>)> {
    use clap_complete::Shell;
    [
        (Shell::Bash, "completions/popfetch.bash"),
        (Shell::Zsh, "completions/_popfetch"),
        (Shell::Fish, "completions/popfetch.fish"),
    ]
    .into_iter()
    .map(|(shell, path)| {
        let mut cmd = command();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "popfetch", &mut out);
        let text = String::from_utf8_lossy(&out);
        let text = match shell {
            Shell::Bash => bash_account_names(&text),
            Shell::Zsh => zsh_account_names(&text),
            Shell::Fish => fish_account_names(&text),
            _ => text.into_owned(),
        };
        (path, text.into_bytes())
    })
    .collect()
}

/// Subcommands whose arguments are not account names.
const NOT_ACCOUNTS: &[&str] = &["accounts", "config", "import", "help"];

/// Every option that takes a value (`--config`, `-c`, ...), anywhere in
/// the command tree: the word after one is that value, not an account.
fn options_with_values() -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() {
                continue;
            }
            out.extend(arg.get_long().map(|l| format!("--{l}")));
            out.extend(arg.get_short().map(|s| format!("-{s}")));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut cmd = command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Bash: clap's function, then the account names where an account may
/// stand (not after an option that takes a value, not under `accounts`,
/// `config`, `import` or `help`), asked from `popfetch accounts --names`
/// only when such a word is completed.
fn bash_account_names(clap: &str) -> String {
    let options = options_with_values().join("|");
    let not_accounts = NOT_ACCOUNTS.join("|");
    let mut out = clap.replace(
        "complete -F _popfetch ",
        "complete -F _popfetch_with_accounts ",
    );
    out.push_str(&format!(
        r#"
# Account names from the config file (the one -c names, if given).
_popfetch_account_names() {{
    local i config=()
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${{COMP_WORDS[i]}}" in
            -c|--config) config=(--config "${{COMP_WORDS[i+1]}}") ;;
            --config=*) config=(--config "${{COMP_WORDS[i]#--config=}}") ;;
        esac
    done
    popfetch accounts --names "${{config[@]}}" 2>/dev/null
}}

_popfetch_with_accounts() {{
    _popfetch "$@"
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" i sub="" word
    (( COMP_CWORD > 1 )) && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    [[ "$cur" == -* ]] && return 0
    case "$prev" in
        {options}) return 0 ;;
    esac
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${{COMP_WORDS[i]}}" in
            {options}) (( i++ )) ;;
            -*) ;;
            *) sub="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$sub" in
        {not_accounts}) return 0 ;;
    esac
    local words=()
    for word in "${{COMPREPLY[@]}}"; do
        [[ "$word" == -* || "$word" == \[* ]] || words+=("$word")
    done
    while IFS= read -r word; do
        [[ "$word" == "$cur"* ]] && words+=("$word")
    done < <(_popfetch_account_names)
    COMPREPLY=("${{words[@]}}")
}}
"#
    ));
    out
}

/// Zsh: the account arguments complete with `_popfetch_accounts`.
fn zsh_account_names(clap: &str) -> String {
    let mut out = String::with_capacity(clap.len() + 512);
    for line in clap.split_inclusive('\n') {
        if (line.starts_with("'::account") || line.starts_with("'*::account"))
            && line.contains(":_default'")
        {
            out.push_str(&line.replace(":_default'", ":_popfetch_accounts'"));
        } else {
            out.push_str(line);
        }
    }
    let function = r#"(( $+functions[_popfetch_accounts] )) ||
_popfetch_accounts() {
    local -a names
    names=(${(f)"$(popfetch accounts --names 2>/dev/null)"})
    compadd -a names
}

"#;
    match out.rfind("if [ \"$funcstack[1]\" = \"_popfetch\" ]") {
        Some(at) => out.insert_str(at, function),
        None => out.push_str(function),
    }
    out
}

/// Fish: account names wherever an account may stand (not after an
/// option that takes a value, nor under `accounts`, `config`, `import` or
/// `help`), from the config file `-c` names, if given.
fn fish_account_names(clap: &str) -> String {
    format!(
        r#"{clap}
function __fish_popfetch_account_position
    set -l tokens (commandline -opc)
    if set -q tokens[2]; and contains -- $tokens[-1] {options}
        return 1
    end
    not __fish_popfetch_using_subcommand {not_accounts}
end

function __fish_popfetch_account_names
    set -l tokens (commandline -opc)
    set -l config
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case -c --config
                set -l next (math $i + 1)
                set -q tokens[$next]; and set config --config $tokens[$next]
            case '--config=*'
                set config --config (string replace -- --config= '' $tokens[$i])
        end
    end
    popfetch accounts --names $config 2>/dev/null
end

complete -c popfetch -n __fish_popfetch_account_position -f -a "(__fish_popfetch_account_names)" -d account
"#,
        options = options_with_values().join(" "),
        not_accounts = NOT_ACCOUNTS.join(" ")
    )
}

/// Compares (or, with POPFETCH_BLESS=1, rewrites) the generated man page
/// and completions with the committed copies.
#[test]
fn generated_files_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![("man/popfetch.1", render_man())];
    files.extend(render_completions());
    let bless = std::env::var_os("POPFETCH_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (rel, want) in files {
        assert!(!want.is_empty(), "{rel} rendered empty");
        let path = root.join(rel);
        if bless {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap();
            }
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} are stale: run POPFETCH_BLESS=1 cargo test to regenerate"
    );
}
